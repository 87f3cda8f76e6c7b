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

const tokenColumns = `hash, kind, server_id, client_id, user_id, scopes, resource, family_id, code_hash,
	issued_at, expires_at, revoked_at, rotated_at`

func scanToken(sc scanner) (*store.Token, error) {
	var (
		t                                 store.Token
		kind, scopes                      string
		issued, expires, revoked, rotated *int64
	)
	if err := sc.Scan(&t.Hash, &kind, &t.ServerID, &t.ClientID, &t.UserID, &scopes, &t.Resource, &t.FamilyID,
		&t.CodeHash, &issued, &expires, &revoked, &rotated); err != nil {
		return nil, err
	}
	t.Kind = store.TokenKind(kind)
	var err error
	if t.Scopes, err = columns.FromList(scopes); err != nil {
		return nil, err
	}
	t.IssuedAt, t.ExpiresAt = fromMillis(issued), fromMillis(expires)
	t.RevokedAt, t.RotatedAt = fromMillis(revoked), fromMillis(rotated)
	return &t, nil
}

// IssueTokens stores tokens in one transaction, sent as one batch: all of them or none.
func (s *Store) IssueTokens(ctx context.Context, tokens ...*store.Token) error {
	if len(tokens) == 0 {
		return nil
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, t := range tokens {
			b.Queue(`INSERT INTO tokens (`+tokenColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
				t.Hash, string(t.Kind), t.ServerID, t.ClientID, t.UserID, columns.List(t.Scopes),
				t.Resource, t.FamilyID, t.CodeHash, millis(t.IssuedAt), millis(t.ExpiresAt), millis(t.RevokedAt),
				millis(t.RotatedAt))
		}
		return tx.SendBatch(ctx, b).Close()
	})
	return wrap("issue tokens", err)
}

// Token returns a token by hash, revoked or expired or not: one primary-key lookup.
func (s *Store) Token(ctx context.Context, hash string) (*store.Token, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = $1`, hash))
	if err != nil {
		return nil, wrap("token", err)
	}
	return t, nil
}

// UseRefreshToken sets RotatedAt to now if it is zero, with one conditional
// UPDATE, and returns the token as it was before the call: a zero RotatedAt
// tells exactly one caller, across all replicas, that it was first.
func (s *Store) UseRefreshToken(ctx context.Context, hash string, now time.Time) (*store.Token, error) {
	const op = "use refresh token"
	if now.IsZero() {
		return nil, fmt.Errorf("postgres: %s: zero time would leave the token unused", op)
	}
	t, err := scanToken(s.pool.QueryRow(ctx, `UPDATE tokens SET rotated_at = $1
	WHERE hash = $2 AND rotated_at IS NULL RETURNING `+tokenColumns, now.UnixMilli(), hash))
	if err == nil {
		t.RotatedAt = time.Time{} // as it was before this call
		return t, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, wrap(op, err)
	}
	t, err = scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = $1`, hash))
	if err != nil {
		return nil, wrap(op, err)
	}
	return t, nil
}
