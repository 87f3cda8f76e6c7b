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
	created_at, expires_at, used_at`

func scanCode(sc scanner) (*store.AuthCode, error) {
	var (
		c                      store.AuthCode
		scopes                 string
		created, expires, used *int64
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
	_, err := s.pool.Exec(ctx, `INSERT INTO auth_codes (`+codeColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		c.Hash, c.ServerID, c.ClientID, c.UserID, c.RedirectURI, c.CodeChallenge, c.Resource, columns.List(c.Scopes),
		millis(c.CreatedAt), millis(c.ExpiresAt), millis(c.UsedAt))
	return wrap("create auth code", err)
}

// RedeemAuthCode marks the code used at now with one conditional UPDATE.
// Concurrent updates of the row queue on its row lock and re-check
// "used_at IS NULL" once the first commits, so of any number of callers, on
// any number of replicas, exactly one sees its row come back. The others,
// and every later caller, get the code as stored (UsedAt set by the winner)
// with an error wrapping store.ErrCodeUsed; an unknown code wraps
// store.ErrNotFound. Expiry is the caller's to check.
func (s *Store) RedeemAuthCode(ctx context.Context, hash string, now time.Time) (*store.AuthCode, error) {
	const op = "redeem auth code"
	if now.IsZero() {
		return nil, fmt.Errorf("postgres: %s: zero time would leave the code redeemable", op)
	}
	c, err := scanCode(s.pool.QueryRow(ctx, `UPDATE auth_codes SET used_at = $1
	WHERE hash = $2 AND used_at IS NULL RETURNING `+codeColumns, now.UnixMilli(), hash))
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, wrap(op, err)
	}
	c, err = scanCode(s.pool.QueryRow(ctx, `SELECT `+codeColumns+` FROM auth_codes WHERE hash = $1`, hash))
	if err != nil {
		return nil, wrap(op, err)
	}
	return c, fmt.Errorf("postgres: %s: %w", op, store.ErrCodeUsed)
}
