package postgres

import (
	"context"
	"fmt"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

const userColumns = `id, server_id, email, password_hash, created_at`

func scanUser(sc scanner) (*store.User, error) {
	var (
		u       store.User
		created *int64
	)
	if err := sc.Scan(&u.ID, &u.ServerID, &u.Email, &u.PasswordHash, &created); err != nil {
		return nil, err
	}
	u.CreatedAt = fromMillis(created)
	return &u, nil
}

// CreateUser adds an end user; a duplicate (ServerID, Email) wraps store.ErrConflict.
func (s *Store) CreateUser(ctx context.Context, u *store.User) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5)`,
		u.ID, u.ServerID, u.Email, u.PasswordHash, millis(u.CreatedAt))
	return wrap("create user", err)
}

// User returns a server's user by id: one primary-key lookup.
func (s *Store) User(ctx context.Context, serverID, userID string) (*store.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE server_id = $1 AND id = $2`,
		serverID, userID))
	if err != nil {
		return nil, wrap(fmt.Sprintf("user %q", userID), err)
	}
	return u, nil
}

// UserByEmail returns a server's user by (already lower-cased) email.
func (s *Store) UserByEmail(ctx context.Context, serverID, email string) (*store.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE server_id = $1 AND email = $2`,
		serverID, email))
	if err != nil {
		return nil, wrap("user by email", err)
	}
	return u, nil
}

// UpdateUserPassword replaces a user's password hash.
func (s *Store) UpdateUserPassword(ctx context.Context, serverID, userID, passwordHash string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE users SET password_hash = $1 WHERE server_id = $2 AND id = $3`,
		passwordHash, serverID, userID)
	return affected(fmt.Sprintf("update password of user %q", userID), tag, err)
}
