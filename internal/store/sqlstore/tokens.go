package sqlstore

import (
	"context"
	"database/sql"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

func scanToken(sc Row) (*store.Token, error) {
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
	if t.Scopes, err = fromList(scopes); err != nil {
		return nil, err
	}
	t.IssuedAt, t.ExpiresAt = fromMillis(issued), fromMillis(expires)
	t.RevokedAt, t.RotatedAt = fromMillis(revoked), fromMillis(rotated)
	return &t, nil
}

// IssueTokens stores tokens in one transaction: all of them or none.
func (s *Store) IssueTokens(ctx context.Context, tokens ...*store.Token) error {
	if len(tokens) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		return s.insertTokens(ctx, tx, tokens)
	})
	return s.wrap("issue tokens", err)
}

// insertTokens stores tokens within tx, up to maxTokenRows a statement, so
// the usual pair (an access and a refresh token) costs one round trip.
func (s *Store) insertTokens(ctx context.Context, tx *sql.Tx, tokens []*store.Token) error {
	for len(tokens) > 0 {
		n := min(len(tokens), maxTokenRows)
		args := make([]any, 0, 14*n)
		for _, t := range tokens[:n] {
			args = append(args, t.Hash, string(t.Kind), t.ServerID, t.ClientID, t.UserID, list(t.Scopes),
				t.Resource, t.FamilyID, t.CodeHash, t.ParentHash, millis(t.IssuedAt), millis(t.ExpiresAt), millis(t.RevokedAt),
				millis(t.RotatedAt))
		}
		if _, err := tx.ExecContext(ctx, s.q.insertTokens[n], args...); err != nil {
			return err
		}
		tokens = tokens[n:]
	}
	return nil
}

// Token returns the server's token by hash, revoked or expired or not: one
// primary-key lookup. Another server's token wraps store.ErrNotFound.
func (s *Store) Token(ctx context.Context, serverID, hash string) (*store.Token, error) {
	row, err := s.lookupRow(ctx, lookupToken, hash, serverID)
	if err != nil {
		return nil, s.wrap("token", err)
	}
	t, err := scanToken(row)
	if err != nil {
		return nil, s.wrap("token", err)
	}
	return t, nil
}
