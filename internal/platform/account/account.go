// Package account serves the end-user pages of each tenant: sign-up, sign-in
// and sign-out, and the browser side of sessions (the cookie). The rules
// behind them (the email and password rules, the throttles, the sessions
// themselves) are the users service's (package users); this package is the
// HTTP door to it, as the CLI and the demo are others.
//
// A session cookie is scoped to the tenant's path (/t/{slug}/), so a
// browser sends each tenant only its own session.
package account

import (
	"log/slog"
	"net/http"
	"net/url"

	"github.com/mcp-obs/mcp-obs/internal/platform/endpoints"
	"github.com/mcp-obs/mcp-obs/internal/platform/users"
	"github.com/mcp-obs/mcp-obs/internal/platform/web"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// Options configures a [Service]. Zero values are the defaults.
type Options struct {
	// Servers finds the tenant of each request. Required.
	Servers web.TenantLookup
	// Users is the service the pages call. Required.
	Users *users.Service
	// Base is the platform's public base URL. Required.
	Base   endpoints.Base
	Logger *slog.Logger
	// ClientAddr finds the client address that failed sign-ins and sign-ups
	// are throttled by; the zero value uses the connection's address only.
	ClientAddr web.ClientAddr
}

// Service serves the account pages and answers who is signed in.
type Service struct {
	servers    web.TenantLookup
	users      *users.Service
	base       endpoints.Base
	log        *slog.Logger
	clientAddr web.ClientAddr
}

// New returns a Service.
func New(opts Options) *Service {
	s := &Service{
		servers:    opts.Servers,
		users:      opts.Users,
		base:       opts.Base,
		log:        opts.Logger,
		clientAddr: opts.ClientAddr,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// Routes registers GET and POST /t/{slug}/signin, GET and POST /t/{slug}/signup
// and POST /t/{slug}/signout on mux.
//
// The pages carry the security headers of [web.SecurityHeaders], and their
// POSTs must pass both the CSRF token check and [web.CrossOriginProtection].
func (s *Service) Routes(mux *http.ServeMux) {
	tenants := web.Tenants{Store: s.servers, Logger: s.log}
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
