package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/store/columns"
)

const codeColumns = `hash, server_id, client_id, user_id, redirect_uri, code_challenge, resource, scopes,
	created_at, expires_at, used_at, revoked_at`

func scanCode(sc scanner) (*store.AuthCode, error) {
	var (
		c                               store.AuthCode
		scopes                          string
		created, expires, used, revoked *int64
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
	_, err := s.pool.Exec(ctx, `INSERT INTO auth_codes (`+codeColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		c.Hash, c.ServerID, c.ClientID, c.UserID, c.RedirectURI, c.CodeChallenge, c.Resource, columns.List(c.Scopes),
		millis(c.CreatedAt), millis(c.ExpiresAt), millis(c.UsedAt), millis(c.RevokedAt))
	return wrap("create auth code", err)
}

// RedeemAuthCode marks the server's code used at now with one conditional
// UPDATE. Concurrent updates of the row queue on its row lock and re-check
// "used_at IS NULL" once the first commits, so of any number of callers, on
// any number of replicas, exactly one sees its row come back. The others,
// and every later caller, get the code as stored (UsedAt set by the winner)
// with an error wrapping store.ErrCodeUsed; an unknown code, or another
// server's, wraps store.ErrNotFound and is left as it was. Expiry is the
// caller's to check.
func (s *Store) RedeemAuthCode(ctx context.Context, serverID, hash string, now time.Time) (*store.AuthCode, error) {
	const op = "redeem auth code"
	if now.IsZero() {
		return nil, fmt.Errorf("postgres: %s: zero time would leave the code redeemable", op)
	}
	c, err := scanCode(s.pool.QueryRow(ctx, `UPDATE auth_codes SET used_at = $1
	WHERE hash = $2 AND server_id = $3 AND used_at IS NULL RETURNING `+codeColumns, now.UnixMilli(), hash, serverID))
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, wrap(op, err)
	}
	c, err = scanCode(s.pool.QueryRow(ctx, `SELECT `+codeColumns+` FROM auth_codes WHERE hash = $1 AND server_id = $2`, hash, serverID))
	if err != nil {
		return nil, wrap(op, err)
	}
	return c, fmt.Errorf("postgres: %s: %w", op, store.ErrCodeUsed)
}

// IssueCodeTokens stores the tokens redeeming the server's code in one
// transaction that first locks the code's row (SELECT … FOR UPDATE) and reads
// its revoked mark. RevokeByCode sets the mark with an UPDATE of that row
// before it revokes, so the two queue on the row lock, on any number of
// replicas: if RevokeByCode comes first this fails with store.ErrCodeRevoked;
// if this comes first, RevokeByCode's revoking statement starts after this
// commits, sees these tokens and revokes them.
func (s *Store) IssueCodeTokens(ctx context.Context, serverID, codeHash string, tokens ...*store.Token) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var revoked *int64
		if err := tx.QueryRow(ctx, `SELECT revoked_at FROM auth_codes WHERE hash = $1 AND server_id = $2 FOR UPDATE`,
			codeHash, serverID).Scan(&revoked); err != nil {
			return err
		}
		if revoked != nil {
			return store.ErrCodeRevoked
		}
		return insertTokens(ctx, tx, tokens)
	})
	return wrap("issue code tokens", err)
}
