// Package users is the service of end-user accounts of each tenant: creating
// an account, the email and password rules, checking a password (with the
// sign-in throttles) and browser sessions. The sign-in and sign-up pages
// (package account), the authorization server, the CLI (`user add`) and the
// demo all go through it, so each rule is written once.
//
// Accounts belong to one tenant (MCP server): the same email on two servers is
// two accounts, and a session of one server is never a session of another.
// Passwords are bcrypt hashes; sessions are stored as the SHA-256 of their
// random id. Failed sign-ins are throttled per account and per client
// address.
package users

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// Store is what the service keeps: end users' accounts and their sessions.
type Store interface {
	store.Users
	store.Sessions
}

// Options configures a [Service]. Zero values are the defaults.
type Options struct {
	Store  Store
	Logger *slog.Logger
	// SessionTTL is how long a browser session lasts; default 12 hours.
	SessionTTL time.Duration
	// Now returns the current time; default time.Now.
	Now func() time.Time
	// PasswordCost is the bcrypt cost of new password hashes; zero means
	// bcrypt.DefaultCost. Existing hashes verify whatever their cost. Raise it
	// on fast hardware; tests lower it to bcrypt.MinCost to stay quick.
	PasswordCost int
}

// Service creates and authenticates end users and keeps their sessions. It
// is safe for concurrent use.
type Service struct {
	store      Store
	log        *slog.Logger
	sessionTTL time.Duration
	now        func() time.Time
	cost       int // bcrypt cost of new hashes

	// dummyHash is compared against when the email has no account, so a
	// failed sign-in costs the same bcrypt work either way.
	dummyHash []byte
	// compareHash is bcrypt.CompareHashAndPassword; tests count its calls
	// instead of timing sign-ins.
	compareHash func(hash, password []byte) error

	perAccount *throttle
	perAddress *throttle
}

// New returns a Service. Store is required.
//
// It computes one bcrypt hash of a random password (a few tens of
// milliseconds) for constant-work sign-in failures.
func New(opts Options) *Service {
	s := &Service{
		store:       opts.Store,
		log:         opts.Logger,
		sessionTTL:  opts.SessionTTL,
		now:         opts.Now,
		cost:        opts.PasswordCost,
		compareHash: bcrypt.CompareHashAndPassword,
		perAccount:  newThrottle(AccountFailures, AccountWindow, maxThrottleKeys),
		perAddress:  newThrottle(AddressAttempts, AddressWindow, maxThrottleKeys),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.sessionTTL <= 0 {
		s.sessionTTL = 12 * time.Hour
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.cost == 0 {
		s.cost = bcrypt.DefaultCost
	}
	h, err := bcrypt.GenerateFromPassword([]byte(secret.New("")), s.cost)
	if err != nil {
		// Only possible for a cost out of range or a password over 72 bytes
		// (secret.New("") is 49 bytes).
		panic(fmt.Sprintf("users: dummy password hash: %v", err))
	}
	s.dummyHash = h
	return s
}

// CreateUser validates the email ([NormalizeEmail]) and password
// ([ValidatePassword]), hashes the password and stores a new account on srv.
// A duplicate email wraps store.ErrConflict.
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

// isNotFound reports whether err means a missing row.
func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
