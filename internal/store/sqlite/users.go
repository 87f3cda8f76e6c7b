package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

const userColumns = `id, server_id, email, password_hash, created_at`

func scanUser(sc scanner) (*store.User, error) {
	var (
		u       store.User
		created sql.NullInt64
	)
	if err := sc.Scan(&u.ID, &u.ServerID, &u.Email, &u.PasswordHash, &created); err != nil {
		return nil, err
	}
	u.CreatedAt = fromMillis(created)
	return &u, nil
}

// CreateUser adds an end user; a duplicate (ServerID, Email) wraps store.ErrConflict.
func (s *Store) CreateUser(ctx context.Context, u *store.User) error {
	_, err := s.writer.ExecContext(ctx, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?)`,
		u.ID, u.ServerID, u.Email, u.PasswordHash, millis(u.CreatedAt))
	return wrap("create user", err)
}

// User returns a server's user by id: one primary-key lookup.
func (s *Store) User(ctx context.Context, serverID, userID string) (*store.User, error) {
	qctx, err := hotContext(ctx)
	if err != nil {
		return nil, wrap(fmt.Sprintf("user %q", userID), err)
	}
	u, err := scanUser(s.hot.user.QueryRowContext(qctx, serverID, userID))
	if err != nil {
		return nil, wrap(fmt.Sprintf("user %q", userID), err)
	}
	return u, nil
}

// UserByEmail returns a server's user by (already lower-cased) email.
func (s *Store) UserByEmail(ctx context.Context, serverID, email string) (*store.User, error) {
	u, err := scanUser(s.reader.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE server_id = ? AND email = ?`,
		serverID, email))
	if err != nil {
		return nil, wrap("user by email", err)
	}
	return u, nil
}

// UpdateUserPassword replaces a user's password hash.
func (s *Store) UpdateUserPassword(ctx context.Context, serverID, userID, passwordHash string) error {
	res, err := s.writer.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE server_id = ? AND id = ?`,
		passwordHash, serverID, userID)
	return affected(fmt.Sprintf("update password of user %q", userID), res, err)
}
