package account

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// Password limits. bcrypt reads at most 72 bytes; rather than silently
// ignoring the rest, longer passwords are refused.
const (
	MinPasswordRunes = 8
	MaxPasswordBytes = 72
)

// Errors of [Service.CreateUser] (besides store.ErrConflict), for callers that
// explain them to a person.
var (
	// ErrPasswordTooShort means the password has fewer than MinPasswordRunes characters.
	ErrPasswordTooShort = fmt.Errorf("password shorter than %d characters", MinPasswordRunes)
	// ErrPasswordTooLong means the password exceeds bcrypt's MaxPasswordBytes.
	ErrPasswordTooLong = fmt.Errorf("password longer than %d bytes", MaxPasswordBytes)
)

// ValidatePassword checks a new password against the length limits.
func ValidatePassword(p string) error {
	if utf8.RuneCountInString(p) < MinPasswordRunes {
		return ErrPasswordTooShort
	}
	if len(p) > MaxPasswordBytes {
		return ErrPasswordTooLong
	}
	return nil
}

// CreateUser validates the email and password, hashes the password and stores a
// new account on srv. A duplicate email wraps store.ErrConflict.
//
// The password is hashed before the store is asked, so creating a duplicate
// takes as long as creating a new account.
func (s *Service) CreateUser(ctx context.Context, srv *store.Server, email, password string) (*store.User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	if err := ValidatePassword(password); err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.cost)
	if err != nil {
		return nil, fmt.Errorf("create user: hash password: %w", err)
	}
	u := &store.User{
		ID:           secret.ID(),
		ServerID:     srv.ID,
		Email:        email,
		PasswordHash: string(hash),
		CreatedAt:    s.now().UTC(),
	}
	if err := s.store.CreateUser(ctx, u); err != nil {
		return nil, fmt.Errorf("create user on server %q: %w", srv.Slug, err)
	}
	return u, nil
}

// User returns srv's user with the id, as the store has it: an unknown
// user (or another server's) wraps store.ErrNotFound. The authorization
// server names a token's subject with it.
func (s *Service) User(ctx context.Context, srv *store.Server, userID string) (*store.User, error) {
	return s.store.User(ctx, srv.ID, userID)
}

// authenticate checks an email and password on srv. It returns the account
// the email names (nil if none) and whether the password is right. It does the
// same bcrypt work either way, so timing does not tell which emails exist.
func (s *Service) authenticate(ctx context.Context, srv *store.Server, email, password string) (u *store.User, ok bool, err error) {
	u, err = s.store.UserByEmail(ctx, srv.ID, email)
	if err != nil && !isNotFound(err) {
		return nil, false, fmt.Errorf("look up user: %w", err)
	}
	hash := s.dummyHash
	if u != nil {
		hash = []byte(u.PasswordHash)
	}
	match := s.compareHash(hash, []byte(password)) == nil
	return u, u != nil && match, nil
}

// isNotFound reports whether err means a missing row.
func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
