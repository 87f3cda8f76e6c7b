package postgres

import (
	"context"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

const sessionColumns = `id_hash, server_id, user_id, created_at, expires_at`

// CreateSession stores a browser session; a duplicate hash wraps store.ErrConflict.
func (s *Store) CreateSession(ctx context.Context, se *store.Session) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO sessions (`+sessionColumns+`) VALUES ($1, $2, $3, $4, $5)`,
		se.IDHash, se.ServerID, se.UserID, millis(se.CreatedAt), millis(se.ExpiresAt))
	return wrap("create session", err)
}

// Session returns a session by the hash of its cookie value, expired or not.
func (s *Store) Session(ctx context.Context, idHash string) (*store.Session, error) {
	var (
		se               store.Session
		created, expires *int64
	)
	err := s.pool.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id_hash = $1`, idHash).
		Scan(&se.IDHash, &se.ServerID, &se.UserID, &created, &expires)
	if err != nil {
		return nil, wrap("session", err)
	}
	se.CreatedAt, se.ExpiresAt = fromMillis(created), fromMillis(expires)
	return &se, nil
}

// DeleteSession removes a session; a missing session is not an error.
func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE id_hash = $1`, idHash)
	return wrap("delete session", err)
}
