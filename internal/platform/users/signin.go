package users

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/platform/ratelimit"
	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// Throttling limits. A token bucket per key refills the allowance evenly, so
// after a burst of failures one more attempt becomes possible every
// window/limit (3 minutes for an account, 3 seconds for an address).
const (
	// AccountFailures failed sign-ins per AccountWindow are allowed per
	// (server, email), whether or not the email has an account.
	AccountFailures = 5
	AccountWindow   = 15 * time.Minute
	// AddressAttempts failed sign-ins and sign-up attempts per
	// AddressWindow are allowed per client address (IPv6 by /64), across all
	// servers.
	AddressAttempts = 20
	AddressWindow   = time.Minute
	// maxThrottleKeys bounds the memory of each limiter.
	maxThrottleKeys = 100_000
)

var (
	// ErrBadCredentials means the email has no account or the password is
	// not its password: the two are one error, so nothing tells which
	// emails have accounts.
	ErrBadCredentials = errors.New("incorrect email or password")
	// ErrPasswordsDiffer means the password and its confirmation differ.
	ErrPasswordsDiffer = errors.New("the two passwords do not match")
	// ErrSignUpClosed means the server does not let end users create
	// their own accounts.
	ErrSignUpClosed = errors.New("sign-up is closed on this server")
)

// ThrottledError refuses an attempt over a throttle's budget.
type ThrottledError struct {
	// RetryAfter is how long until an attempt is possible again.
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many attempts; retry in %v", e.RetryAfter)
}

// Attempt is a sign-in attempt.
type Attempt struct {
	Email    string // as typed
	Password string
	Address  string // the client's IP address, which the per-address throttle counts
}

// SignIn checks an attempt's email and password on srv, throttled per
// account (AccountFailures per AccountWindow) and per client address
// (AddressAttempts per AddressWindow). It returns the account, or
// [ErrBadCredentials], a [*ThrottledError] (even with the right password:
// the budget protects the account), an error wrapping [ErrEmailCharacter]
// (no account can be looked up by such an address, so saying so reveals
// nothing), or a storage error.
//
// Both budgets are reserved before the bcrypt comparison, so concurrent
// guesses cannot all pass the check before the first one is charged. A
// success forgets the account's failures.
func (s *Service) SignIn(ctx context.Context, srv *store.Server, a Attempt) (*store.User, error) {
	now := s.now()
	email, err := lookupEmail(a.Email)
	if err != nil {
		return nil, err
	}
	addrKey := ratelimit.IPKey(a.Address)
	// Hashed: the email field may hold up to a form's worth of anything.
	acctKey := srv.ID + ":" + secret.Hash(email)
	if wait, ok := s.perAddress.begin(addrKey, now); !ok {
		s.log.InfoContext(ctx, "sign-in throttled for client address", "server", srv.Slug, "ip", addrKey)
		return nil, &ThrottledError{RetryAfter: wait}
	}
	if wait, ok := s.perAccount.begin(acctKey, now); !ok {
		s.perAddress.end(addrKey, now, false)
		s.log.InfoContext(ctx, "sign-in throttled for account", "server", srv.Slug, "ip", addrKey)
		return nil, &ThrottledError{RetryAfter: wait}
	}

	u, ok, err := s.check(ctx, srv, email, a.Password)
	failed := err == nil && !ok
	if ok {
		s.perAccount.reset(acctKey)
	}
	s.perAddress.end(addrKey, now, failed)
	s.perAccount.end(acctKey, now, failed)
	if err != nil {
		return nil, err
	}
	if !ok {
		// The attempted email is not logged: people type passwords into it.
		userID := "unknown"
		if u != nil {
			userID = u.ID
		}
		s.log.InfoContext(ctx, "sign-in failed", "server", srv.Slug, "user_id", userID, "ip", addrKey)
		return nil, ErrBadCredentials
	}
	return u, nil
}

// Authenticate checks an email and password on srv without the throttles,
// for doors that are not open to the network (the demo checks that the
// password it prints works). Its errors are those of [Service.SignIn] but
// [*ThrottledError].
func (s *Service) Authenticate(ctx context.Context, srv *store.Server, email, password string) (*store.User, error) {
	email, err := lookupEmail(email)
	if err != nil {
		return nil, err
	}
	u, ok, err := s.check(ctx, srv, email, password)
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, ErrBadCredentials
	}
	return u, nil
}

// lookupEmail is the email an account is looked up by: normalized by
// [NormalizeEmail]; an address the rule refuses for its form alone is used as
// typed (it finds no account, and is throttled and refused like any wrong
// email), one with a hidden character is refused at once.
func lookupEmail(raw string) (string, error) {
	email, err := NormalizeEmail(raw)
	switch {
	case errors.Is(err, ErrEmailCharacter):
		return "", fmt.Errorf("sign in: %w", err)
	case err != nil:
		return raw, nil
	}
	return email, nil
}

// check looks email up on srv and compares the password. It returns the
// account the email names (nil if none) and whether the password is right.
// It does the same bcrypt work either way, so timing does not tell which
// emails exist.
func (s *Service) check(ctx context.Context, srv *store.Server, email, password string) (u *store.User, ok bool, err error) {
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

// NewAccount is what a person gives to sign up.
type NewAccount struct {
	Email    string // as typed
	Password string
	Confirm  string // the password typed again
	Address  string // the client's IP address, which the per-address throttle counts
}

// SignUp creates an account on srv for a person signing up. Every attempt
// counts against the client address (the budget it shares with failed
// sign-ins): it bounds both mass account creation and probing which emails
// already have accounts. Its errors: [ErrSignUpClosed], a
// [*ThrottledError], [ErrPasswordsDiffer], and those of
// [Service.CreateUser] (a taken email wraps store.ErrConflict).
func (s *Service) SignUp(ctx context.Context, srv *store.Server, a NewAccount) (*store.User, error) {
	if !srv.AllowSignup {
		return nil, ErrSignUpClosed
	}
	now := s.now()
	addrKey := ratelimit.IPKey(a.Address)
	if wait, ok := s.perAddress.begin(addrKey, now); !ok {
		s.log.InfoContext(ctx, "sign-up throttled for client address", "server", srv.Slug, "ip", addrKey)
		return nil, &ThrottledError{RetryAfter: wait}
	}
	s.perAddress.end(addrKey, now, true)

	if a.Password != a.Confirm {
		return nil, ErrPasswordsDiffer
	}
	u, err := s.CreateUser(ctx, srv, a.Email, a.Password)
	if errors.Is(err, store.ErrConflict) {
		s.log.InfoContext(ctx, "sign-up refused: email taken", "server", srv.Slug, "ip", addrKey)
	}
	return u, err
}
