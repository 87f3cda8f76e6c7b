// Package account serves end-user accounts of each tenant: sign-up, sign-in
// and sign-out pages, browser sessions, and password hashing.
package account

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/platform/endpoints"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// Options configures a [Service]. Zero values are the defaults.
type Options struct {
	Store  store.Store
	Base   endpoints.Base
	Logger *slog.Logger
	// SessionTTL is how long a browser session lasts; default 12 hours.
	SessionTTL time.Duration
	// Now returns the current time; default time.Now.
	Now func() time.Time
}

// Service serves the account pages and answers who is signed in.
type Service struct{}

// New returns a Service.
func New(opts Options) *Service { panic("unimplemented") }

// Routes registers GET and POST /t/{slug}/signin, GET and POST /t/{slug}/signup
// and POST /t/{slug}/signout on mux.
func (s *Service) Routes(mux *http.ServeMux) { panic("unimplemented") }

// CurrentUser returns the user signed in to srv in this browser, or nil (and no
// error) when nobody is.
func (s *Service) CurrentUser(r *http.Request, srv *store.Server) (*store.User, error) {
	panic("unimplemented")
}

// SignInURL is the sign-in page that returns to returnTo (an absolute path on
// the platform, e.g. the authorization request's path and query) once signed in.
func (s *Service) SignInURL(srv *store.Server, returnTo string) string { panic("unimplemented") }

// CreateUser validates the email and password, hashes the password and stores a
// new account on srv. A duplicate email wraps store.ErrConflict.
func (s *Service) CreateUser(ctx context.Context, srv *store.Server, email, password string) (*store.User, error) {
	panic("unimplemented")
}
