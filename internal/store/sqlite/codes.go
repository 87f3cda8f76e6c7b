package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/store/columns"
)

const codeColumns = `hash, server_id, client_id, user_id, redirect_uri, code_challenge, resource, scopes,
	created_at, expires_at, used_at, revoked_at`

func scanCode(sc scanner) (*store.AuthCode, error) {
	var (
		c                               store.AuthCode
		scopes                          string
		created, expires, used, revoked sql.NullInt64
	)
	if err := sc.Scan(&c.Hash, &c.ServerID, &c.ClientID, &c.UserID, &c.RedirectURI, &c.CodeChallenge, &c.Resource,
		&scopes, &created, &expires, &used, &revoked); err != nil {
		return nil, err
	}
	var err error
	if c.Scopes, err = columns.FromList(scopes); err != nil {
		return nil, err
	}
	c.CreatedAt, c.ExpiresAt = fromMillis(created), fromMillis(expires)
	c.UsedAt, c.RevokedAt = fromMillis(used), fromMillis(revoked)
	return &c, nil
}

// CreateAuthCode stores an authorization code; a duplicate hash wraps store.ErrConflict.
func (s *Store) CreateAuthCode(ctx context.Context, c *store.AuthCode) error {
	_, err := s.writer.ExecContext(ctx, `INSERT INTO auth_codes (`+codeColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.Hash, c.ServerID, c.ClientID, c.UserID, c.RedirectURI, c.CodeChallenge, c.Resource, columns.List(c.Scopes),
		millis(c.CreatedAt), millis(c.ExpiresAt), millis(c.UsedAt), millis(c.RevokedAt))
	return wrap("create auth code", err)
}

// RedeemAuthCode marks the server's code used at now with one conditional
// UPDATE, so of any number of concurrent callers exactly one sees its row
// come back. The others, and every later caller, get the code as stored
// (UsedAt set by the winner) with an error wrapping store.ErrCodeUsed; an
// unknown code, or another server's, wraps store.ErrNotFound and is left as
// it was. Expiry is the caller's to check.
func (s *Store) RedeemAuthCode(ctx context.Context, serverID, hash string, now time.Time) (*store.AuthCode, error) {
	const op = "redeem auth code"
	if now.IsZero() {
		return nil, fmt.Errorf("sqlite: %s: zero time would leave the code redeemable", op)
	}
	c, err := scanCode(s.writer.QueryRowContext(ctx, `UPDATE auth_codes SET used_at = ?
	WHERE hash = ? AND server_id = ? AND used_at IS NULL RETURNING `+codeColumns, now.UnixMilli(), hash, serverID))
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, wrap(op, err)
	}
	c, err = scanCode(s.reader.QueryRowContext(ctx, `SELECT `+codeColumns+` FROM auth_codes WHERE hash = ? AND server_id = ?`,
		hash, serverID))
	if err != nil {
		return nil, wrap(op, err)
	}
	return c, fmt.Errorf("sqlite: %s: %w", op, store.ErrCodeUsed)
}

// IssueCodeTokens stores the tokens redeeming the server's code in one
// transaction that first reads the code's revoked mark. Writer transactions
// run one at a time on the single writer connection, so RevokeByCode (which
// sets the mark and revokes in one transaction) runs wholly before or wholly
// after this one: before, and this fails with store.ErrCodeRevoked; after,
// and it finds and revokes these tokens.
func (s *Store) IssueCodeTokens(ctx context.Context, serverID, codeHash string, tokens ...*store.Token) error {
	const op = "issue code tokens"
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return wrap(op, err)
	}
	defer tx.Rollback()
	var revoked sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT revoked_at FROM auth_codes WHERE hash = ? AND server_id = ?`,
		codeHash, serverID).Scan(&revoked); err != nil {
		return wrap(op, err)
	}
	if revoked.Valid {
		return fmt.Errorf("sqlite: %s: %w", op, store.ErrCodeRevoked)
	}
	if err := insertTokens(ctx, tx, tokens); err != nil {
		return wrap(op, err)
	}
	return wrap(op, tx.Commit())
}
