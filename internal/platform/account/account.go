// Package account serves end-user accounts of each tenant: sign-up, sign-in
// and sign-out pages, browser sessions, and password hashing.
//
// Accounts belong to one tenant (MCP server): the same email on two servers is
// two accounts, and a browser session of one server is never a session of
// another. Sessions live in the store, named by the SHA-256 of a random cookie
// value scoped to the tenant's path (/t/{slug}/). Passwords are bcrypt hashes.
// Failed sign-ins are throttled per account and per client address.
package account

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/mcp-obs/mcp-obs/internal/platform/endpoints"
	"github.com/mcp-obs/mcp-obs/internal/platform/web"
	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// Store is what the account pages keep: the tenants they serve, the end
// users' accounts and their browser sessions.
type Store interface {
	store.Servers
	store.Users
	store.Sessions
}

// Options configures a [Service]. Zero values are the defaults.
type Options struct {
	Store  Store
	Base   endpoints.Base
	Logger *slog.Logger
	// SessionTTL is how long a browser session lasts; default 12 hours.
	SessionTTL time.Duration
	// Now returns the current time; default time.Now.
	Now func() time.Time
	// ClientAddr finds the client address that failed sign-ins and sign-ups
	// are throttled by; the zero value uses the connection's address only.
	ClientAddr web.ClientAddr
	// PasswordCost is the bcrypt cost of new password hashes; zero means
	// bcrypt.DefaultCost. Existing hashes verify whatever their cost. Raise it
	// on fast hardware; tests lower it to bcrypt.MinCost to stay quick.
	PasswordCost int
}

// Throttling limits. A token bucket per key refills the allowance evenly, so
// after a burst of failures one more attempt becomes possible every
// window/limit (3 minutes for an account, 3 seconds for an address).
const (
	// accountFailures failed sign-ins per accountWindow are allowed per
	// (server, email), whether or not the email has an account.
	accountFailures = 5
	accountWindow   = 15 * time.Minute
	// addressAttempts failed sign-ins and sign-up attempts per addressWindow
	// are allowed per client address (IPv6 by /64), across all servers.
	addressAttempts = 20
	addressWindow   = time.Minute
	// maxThrottleKeys bounds the memory of each limiter.
	maxThrottleKeys = 100_000
)

// Service serves the account pages and answers who is signed in.
type Service struct {
	store      Store
	base       endpoints.Base
	log        *slog.Logger
	sessionTTL time.Duration
	now        func() time.Time
	clientAddr web.ClientAddr
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

// New returns a Service.
//
// It computes one bcrypt hash of a random password (a few tens of
// milliseconds) for constant-work sign-in failures.
func New(opts Options) *Service {
	s := &Service{
		store:       opts.Store,
		base:        opts.Base,
		log:         opts.Logger,
		sessionTTL:  opts.SessionTTL,
		now:         opts.Now,
		clientAddr:  opts.ClientAddr,
		compareHash: bcrypt.CompareHashAndPassword,
		perAccount:  newThrottle(accountFailures, accountWindow, maxThrottleKeys),
		perAddress:  newThrottle(addressAttempts, addressWindow, maxThrottleKeys),
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
	s.cost = opts.PasswordCost
	if s.cost == 0 {
		s.cost = bcrypt.DefaultCost
	}
	h, err := bcrypt.GenerateFromPassword([]byte(secret.New("")), s.cost)
	if err != nil {
		// Only possible for a cost out of range or a password over 72 bytes
		// (secret.New("") is 49 bytes).
		panic(fmt.Sprintf("account: dummy password hash: %v", err))
	}
	s.dummyHash = h
	return s
}

// Routes registers GET and POST /t/{slug}/signin, GET and POST /t/{slug}/signup
// and POST /t/{slug}/signout on mux.
//
// The pages carry the security headers of [web.SecurityHeaders], and their
// POSTs must pass both the CSRF token check and [web.CrossOriginProtection].
func (s *Service) Routes(mux *http.ServeMux) {
	tenants := web.Tenants{Store: s.store, Logger: s.log}
	page := func(h http.HandlerFunc) http.Handler {
		return web.SecurityHeaders(web.CrossOriginProtection(tenants.HTML(h)))
	}
	mux.Handle("GET /t/{slug}/signin", page(s.signInPage))
	mux.Handle("POST /t/{slug}/signin", page(s.signIn))
	mux.Handle("GET /t/{slug}/signup", page(s.signUpPage))
	mux.Handle("POST /t/{slug}/signup", page(s.signUp))
	mux.Handle("POST /t/{slug}/signout", page(s.signOut))
}

// SignInURL is the sign-in page that returns to returnTo (an absolute path on
// the platform, e.g. the authorization request's path and query) once signed in.
//
// The sign-in page only follows returnTo if it is a path under the tenant's
// own prefix (/t/{slug}/); anything else lands on a "you are signed in" page.
func (s *Service) SignInURL(srv *store.Server, returnTo string) string {
	return withReturnTo(s.base.SignIn(srv.Slug), returnTo)
}

// SignOutURL is the sign-out action of srv (it takes a POST with csrf_token)
// that goes on to returnTo afterwards, e.g. back to the authorization request
// so that a different user can sign in. returnTo is checked like in [Service.SignInURL].
func (s *Service) SignOutURL(srv *store.Server, returnTo string) string {
	return withReturnTo(s.base.SignOut(srv.Slug), returnTo)
}

// withReturnTo appends the return_to query parameter when returnTo is set.
func withReturnTo(u, returnTo string) string {
	if returnTo == "" {
		return u
	}
	return u + "?return_to=" + url.QueryEscape(returnTo)
}

// tenantPath is srv's path prefix: the Path of its cookies and the prefix
// every accepted return_to must have.
func (s *Service) tenantPath(srv *store.Server) string {
	return s.base.TenantPath(srv.Slug)
}
