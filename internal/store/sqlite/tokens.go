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

const tokenColumns = `hash, kind, server_id, client_id, user_id, scopes, resource, family_id, code_hash,
	issued_at, expires_at, revoked_at, rotated_at`

func scanToken(sc scanner) (*store.Token, error) {
	var (
		t                                 store.Token
		kind, scopes                      string
		issued, expires, revoked, rotated sql.NullInt64
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
	st, err := tx.PrepareContext(ctx, `INSERT INTO tokens (`+tokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return wrap(op, err)
	}
	defer st.Close()
	for _, t := range tokens {
		if _, err := st.ExecContext(ctx, t.Hash, string(t.Kind), t.ServerID, t.ClientID, t.UserID, columns.List(t.Scopes),
			t.Resource, t.FamilyID, t.CodeHash, millis(t.IssuedAt), millis(t.ExpiresAt), millis(t.RevokedAt),
			millis(t.RotatedAt)); err != nil {
			return wrap(op, err)
		}
	}
	return wrap(op, tx.Commit())
}

// Token returns a token by hash, revoked or expired or not: one primary-key lookup.
func (s *Store) Token(ctx context.Context, hash string) (*store.Token, error) {
	qctx, err := hotContext(ctx)
	if err != nil {
		return nil, wrap("token", err)
	}
	t, err := scanToken(s.hot.token.QueryRowContext(qctx, hash))
	if err != nil {
		return nil, wrap("token", err)
	}
	return t, nil
}

// UseRefreshToken sets RotatedAt to now if it is zero, with one conditional
// UPDATE, and returns the token as it was before the call: a zero RotatedAt
// tells exactly one caller it was first.
func (s *Store) UseRefreshToken(ctx context.Context, hash string, now time.Time) (*store.Token, error) {
	const op = "use refresh token"
	if now.IsZero() {
		return nil, fmt.Errorf("sqlite: %s: zero time would leave the token unused", op)
	}
	t, err := scanToken(s.writer.QueryRowContext(ctx, `UPDATE tokens SET rotated_at = ?
	WHERE hash = ? AND rotated_at IS NULL RETURNING `+tokenColumns, now.UnixMilli(), hash))
	if err == nil {
		t.RotatedAt = time.Time{} // as it was before this call
		return t, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, wrap(op, err)
	}
	t, err = scanToken(s.reader.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = ?`, hash))
	if err != nil {
		return nil, wrap(op, err)
	}
	return t, nil
}
