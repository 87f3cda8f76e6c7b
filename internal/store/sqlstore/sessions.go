package sqlstore

import (
	"context"
	"database/sql"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

// CreateSession stores a browser session; a duplicate hash wraps store.ErrConflict.
func (s *Store) CreateSession(ctx context.Context, se *store.Session) error {
	_, err := s.write.ExecContext(ctx, s.q.createSession,
		se.IDHash, se.ServerID, se.UserID, millis(se.CreatedAt), millis(se.ExpiresAt))
	return s.wrap("create session", err)
}

// Session returns the server's session by the hash of its cookie value,
// expired or not; another server's session wraps store.ErrNotFound.
func (s *Store) Session(ctx context.Context, serverID, idHash string) (*store.Session, error) {
	var (
		se               store.Session
		created, expires sql.NullInt64
	)
	err := s.queryRow(ctx, s.read, s.q.session, idHash, serverID).
		Scan(&se.IDHash, &se.ServerID, &se.UserID, &created, &expires)
	if err != nil {
		return nil, s.wrap("session", err)
	}
	se.CreatedAt, se.ExpiresAt = fromMillis(created), fromMillis(expires)
	return &se, nil
}

// DeleteSession removes the server's session; a missing session, or
// another server's (which it leaves alone), is not an error.
func (s *Store) DeleteSession(ctx context.Context, serverID, idHash string) error {
	_, err := s.write.ExecContext(ctx, s.q.deleteSession, idHash, serverID)
	return s.wrap("delete session", err)
}
