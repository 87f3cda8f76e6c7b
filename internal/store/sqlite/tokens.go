package sqlite

import (
	"context"
	"database/sql"

	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/store/columns"
)

const tokenColumns = `hash, kind, server_id, client_id, user_id, scopes, resource, family_id, code_hash, parent_hash,
	issued_at, expires_at, revoked_at, rotated_at`

func scanToken(sc scanner) (*store.Token, error) {
	var (
		t                                 store.Token
		kind, scopes                      string
		issued, expires, revoked, rotated sql.NullInt64
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

// IssueTokens stores tokens in one transaction: all of them or none.
func (s *Store) IssueTokens(ctx context.Context, tokens ...*store.Token) error {
	const op = "issue tokens"
	if len(tokens) == 0 {
		return nil
	}
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return wrap(op, err)
	}
	defer tx.Rollback()
	if err := insertTokens(ctx, tx, tokens); err != nil {
		return wrap(op, err)
	}
	return wrap(op, tx.Commit())
}

// insertTokens stores tokens within tx.
func insertTokens(ctx context.Context, tx *sql.Tx, tokens []*store.Token) error {
	if len(tokens) == 0 {
		return nil
	}
	st, err := tx.PrepareContext(ctx, `INSERT INTO tokens (`+tokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, t := range tokens {
		if _, err := st.ExecContext(ctx, t.Hash, string(t.Kind), t.ServerID, t.ClientID, t.UserID, columns.List(t.Scopes),
			t.Resource, t.FamilyID, t.CodeHash, t.ParentHash, millis(t.IssuedAt), millis(t.ExpiresAt), millis(t.RevokedAt),
			millis(t.RotatedAt)); err != nil {
			return err
		}
	}
	return nil
}

// Token returns the server's token by hash, revoked or expired or not: one
// primary-key lookup. Another server's token wraps store.ErrNotFound.
func (s *Store) Token(ctx context.Context, serverID, hash string) (*store.Token, error) {
	qctx, err := hotContext(ctx)
	if err != nil {
		return nil, wrap("token", err)
	}
	t, err := scanToken(s.hot.token.QueryRowContext(qctx, hash, serverID))
	if err != nil {
		return nil, wrap("token", err)
	}
	return t, nil
}
