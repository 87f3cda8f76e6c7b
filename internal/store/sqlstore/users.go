package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

func scanUser(sc Row) (*store.User, error) {
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
	_, err := s.write.ExecContext(ctx, s.q.createUser, u.ID, u.ServerID, u.Email, u.PasswordHash, millis(u.CreatedAt))
	return s.wrap("create user", err)
}

// User returns a server's user by id: one primary-key lookup.
func (s *Store) User(ctx context.Context, serverID, userID string) (*store.User, error) {
	row, err := s.lookupRow(ctx, lookupUser, serverID, userID)
	if err != nil {
		return nil, s.wrap(fmt.Sprintf("user %q", userID), err)
	}
	u, err := scanUser(row)
	if err != nil {
		return nil, s.wrap(fmt.Sprintf("user %q", userID), err)
	}
	return u, nil
}

// UserByEmail returns a server's user by (already lower-cased) email.
func (s *Store) UserByEmail(ctx context.Context, serverID, email string) (*store.User, error) {
	u, err := scanUser(s.queryRow(ctx, s.read, s.q.userByEmail, serverID, email))
	if err != nil {
		return nil, s.wrap("user by email", err)
	}
	return u, nil
}

// UpdateUserPassword replaces a user's password hash.
func (s *Store) UpdateUserPassword(ctx context.Context, serverID, userID, passwordHash string) error {
	res, err := s.write.ExecContext(ctx, s.q.updateUserPassword, passwordHash, serverID, userID)
	return s.affected(fmt.Sprintf("update password of user %q", userID), res, err)
}
