package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/store/columns"
)

const tokenColumns = `hash, kind, server_id, client_id, user_id, scopes, resource, family_id, code_hash, parent_hash,
	issued_at, expires_at, revoked_at, rotated_at`

func scanToken(sc scanner) (*store.Token, error) {
	var (
		t                                 store.Token
		kind, scopes                      string
		issued, expires, revoked, rotated *int64
	)
	if err := sc.Scan(&t.Hash, &kind, &t.ServerID, &t.ClientID, &t.UserID, &scopes, &t.Resource, &t.FamilyID,
		&t.CodeHash, &t.ParentHash, &issued, &expires, &revoked, &rotated); err != nil {
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
		return insertTokens(ctx, tx, tokens)
	})
	return wrap("issue tokens", err)
}

// insertTokens stores tokens within tx, sent as one batch.
func insertTokens(ctx context.Context, tx pgx.Tx, tokens []*store.Token) error {
	if len(tokens) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, t := range tokens {
		b.Queue(`INSERT INTO tokens (`+tokenColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			t.Hash, string(t.Kind), t.ServerID, t.ClientID, t.UserID, columns.List(t.Scopes),
			t.Resource, t.FamilyID, t.CodeHash, t.ParentHash, millis(t.IssuedAt), millis(t.ExpiresAt), millis(t.RevokedAt),
			millis(t.RotatedAt))
	}
	return tx.SendBatch(ctx, b).Close()
}

// Token returns the server's token by hash, revoked or expired or not: one
// primary-key lookup. Another server's token wraps store.ErrNotFound.
func (s *Store) Token(ctx context.Context, serverID, hash string) (*store.Token, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = $1 AND server_id = $2`, hash, serverID))
	if err != nil {
		return nil, wrap("token", err)
	}
	return t, nil
}
