package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

func scanCode(sc Row) (*store.AuthCode, error) {
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
	if c.Scopes, err = fromList(scopes); err != nil {
		return nil, err
	}
	c.CreatedAt, c.ExpiresAt = fromMillis(created), fromMillis(expires)
	c.UsedAt, c.RevokedAt = fromMillis(used), fromMillis(revoked)
	return &c, nil
}

// CreateAuthCode stores an authorization code; a duplicate hash wraps store.ErrConflict.
func (s *Store) CreateAuthCode(ctx context.Context, c *store.AuthCode) error {
	_, err := s.write.ExecContext(ctx, s.q.createCode,
		c.Hash, c.ServerID, c.ClientID, c.UserID, c.RedirectURI, c.CodeChallenge, c.Resource, list(c.Scopes),
		millis(c.CreatedAt), millis(c.ExpiresAt), millis(c.UsedAt), millis(c.RevokedAt))
	return s.wrap("create auth code", err)
}

// RedeemAuthCode marks the server's code used at now with one conditional
// UPDATE. Concurrent updates of the row queue (on its row lock, or on the
// single SQLite writer) and re-check "used_at IS NULL" once the first
// commits, so of any number of callers, in any number of processes, exactly
// one sees its row come back. The others, and every later caller, get the
// code as stored (UsedAt set by the winner) with an error wrapping
// store.ErrCodeUsed; an unknown code, or another server's, wraps
// store.ErrNotFound and is left as it was. Expiry is the caller's to check.
func (s *Store) RedeemAuthCode(ctx context.Context, serverID, hash string, now time.Time) (*store.AuthCode, error) {
	const op = "redeem auth code"
	if now.IsZero() {
		return nil, fmt.Errorf("%s: %s: zero time would leave the code redeemable", s.d.Name, op)
	}
	c, err := scanCode(s.queryRow(ctx, s.write, s.q.redeemCode, now.UnixMilli(), hash, serverID))
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, s.wrap(op, err)
	}
	c, err = scanCode(s.queryRow(ctx, s.read, s.q.code, hash, serverID))
	if err != nil {
		return nil, s.wrap(op, err)
	}
	return c, s.fail(op, store.ErrCodeUsed)
}

// IssueCodeTokens stores the tokens redeeming the server's code in one
// transaction that first reads the code's revoked mark with
// [Dialect.LockRows]. RevokeByCode sets the mark with an UPDATE of that row
// before it revokes, so the two queue on the row lock (or on the single
// SQLite writer), in any number of processes: if RevokeByCode comes first
// this fails with store.ErrCodeRevoked; if this comes first, RevokeByCode's
// revoking statement starts after this commits, sees these tokens and
// revokes them.
func (s *Store) IssueCodeTokens(ctx context.Context, serverID, codeHash string, tokens ...*store.Token) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var revoked sql.NullInt64
		if err := tx.QueryRowContext(ctx, s.q.codeRevokedForUpdate, codeHash, serverID).Scan(&revoked); err != nil {
			return err
		}
		if revoked.Valid {
			return store.ErrCodeRevoked
		}
		return s.insertTokens(ctx, tx, tokens)
	})
	return s.wrap("issue code tokens", err)
}
