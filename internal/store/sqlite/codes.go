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
	created_at, expires_at, used_at`

func scanCode(sc scanner) (*store.AuthCode, error) {
	var (
		c                      store.AuthCode
		scopes                 string
		created, expires, used sql.NullInt64
	)
	if err := sc.Scan(&c.Hash, &c.ServerID, &c.ClientID, &c.UserID, &c.RedirectURI, &c.CodeChallenge, &c.Resource,
		&scopes, &created, &expires, &used); err != nil {
		return nil, err
	}
	var err error
	if c.Scopes, err = columns.FromList(scopes); err != nil {
		return nil, err
	}
	c.CreatedAt, c.ExpiresAt, c.UsedAt = fromMillis(created), fromMillis(expires), fromMillis(used)
	return &c, nil
}

// CreateAuthCode stores an authorization code; a duplicate hash wraps store.ErrConflict.
func (s *Store) CreateAuthCode(ctx context.Context, c *store.AuthCode) error {
	_, err := s.writer.ExecContext(ctx, `INSERT INTO auth_codes (`+codeColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.Hash, c.ServerID, c.ClientID, c.UserID, c.RedirectURI, c.CodeChallenge, c.Resource, columns.List(c.Scopes),
		millis(c.CreatedAt), millis(c.ExpiresAt), millis(c.UsedAt))
	return wrap("create auth code", err)
}

// RedeemAuthCode marks the code used at now with one conditional UPDATE, so
// of any number of concurrent callers exactly one sees its row come back.
// The others, and every later caller, get the code as stored (UsedAt set by
// the winner) with an error wrapping store.ErrCodeUsed; an unknown code wraps
// store.ErrNotFound. Expiry is the caller's to check.
func (s *Store) RedeemAuthCode(ctx context.Context, hash string, now time.Time) (*store.AuthCode, error) {
	const op = "redeem auth code"
	if now.IsZero() {
		return nil, fmt.Errorf("sqlite: %s: zero time would leave the code redeemable", op)
	}
	c, err := scanCode(s.writer.QueryRowContext(ctx, `UPDATE auth_codes SET used_at = ?
	WHERE hash = ? AND used_at IS NULL RETURNING `+codeColumns, now.UnixMilli(), hash))
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, wrap(op, err)
	}
	c, err = scanCode(s.reader.QueryRowContext(ctx, `SELECT `+codeColumns+` FROM auth_codes WHERE hash = ?`, hash))
	if err != nil {
		return nil, wrap(op, err)
	}
	return c, fmt.Errorf("sqlite: %s: %w", op, store.ErrCodeUsed)
}
