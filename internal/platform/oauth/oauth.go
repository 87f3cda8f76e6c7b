// Package oauth is the authorization server of each tenant: discovery
// documents, the public tenant configuration, authorization (sign-in and
// consent), the token endpoint, introspection, revocation and the revocation feed.
//
// Every URL it hands out is built from the configured [endpoints.Base], never
// from the request's Host header, so a forged Host cannot move an issuer or a
// redirect. The handlers speak OAuth; everything they remember goes through
// the store (see [Store]), so several replicas can serve one tenant.
package oauth

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/platform/account"
	"github.com/mcp-obs/mcp-obs/internal/platform/clients"
	"github.com/mcp-obs/mcp-obs/internal/platform/endpoints"
	"github.com/mcp-obs/mcp-obs/internal/platform/users"
	"github.com/mcp-obs/mcp-obs/internal/platform/web"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// Defaults applied by [New] to zero [Options] fields and zero server TTLs.
const (
	defaultRefreshReuseGrace = 10 * time.Second
	defaultAccessTokenTTL    = time.Hour
	defaultRefreshTokenTTL   = 30 * 24 * time.Hour
	authCodeTTL              = 10 * time.Minute
	feedPollInterval         = 200 * time.Millisecond
	feedPingInterval         = 15 * time.Second
)

// Store is what the authorization server keeps itself: the tenants it
// serves, the grants it makes (consents, codes, tokens) and the revocation
// feed. Clients and end users it reaches through their own services
// ([clients.Registry], [users.Service] and its pages, [account.Service]).
type Store interface {
	store.Servers
	store.Grants
	store.Revocations
}

// Options configures a [Handler]. Zero values are the defaults.
type Options struct {
	Store    Store
	Base     endpoints.Base
	Clients  *clients.Registry
	Users    *users.Service
	Accounts *account.Service // the sign-in pages, and who is signed in
	Logger   *slog.Logger
	// RefreshReuseGrace is how long after a refresh token's first use a repeat
	// (a client retrying a lost response) is still honoured; default 10 seconds.
	RefreshReuseGrace time.Duration
	// Now returns the current time; default time.Now.
	Now func() time.Time
}

// Handler serves the authorization server endpoints of every tenant.
type Handler struct {
	store    Store
	base     endpoints.Base
	clients  *clients.Registry
	users    *users.Service
	accounts *account.Service
	log      *slog.Logger
	grace    time.Duration
	clock    func() time.Time

	// feedPoll and feedPing pace the revocation feed; tests shorten them.
	feedPoll time.Duration
	feedPing time.Duration

	// cache keeps introspection answers and server rows (introspectcache.go);
	// introspectTenants finds tenants through it.
	cache             *introspectionCache
	introspectTenants web.Tenants
}

// New returns a Handler. Store, Base, Clients, Users and Accounts are required.
func New(opts Options) *Handler {
	h := &Handler{
		store:    opts.Store,
		base:     opts.Base,
		clients:  opts.Clients,
		users:    opts.Users,
		accounts: opts.Accounts,
		log:      opts.Logger,
		grace:    opts.RefreshReuseGrace,
		clock:    opts.Now,
		feedPoll: feedPollInterval,
		feedPing: feedPingInterval,
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.grace <= 0 {
		h.grace = defaultRefreshReuseGrace
	}
	if h.clock == nil {
		h.clock = time.Now
	}
	h.cache = newIntrospectionCache(opts.Store, h.log, h.now, feedPollInterval)
	h.store = forgettingStore{Store: opts.Store, cache: h.cache}
	h.introspectTenants = web.Tenants{Store: h.cache, Logger: h.log}
	return h
}

// now is the current time in UTC, the zone the store expects.
func (h *Handler) now() time.Time { return h.clock().UTC() }

// Routes registers the discovery documents, /api/v1/servers/{slug}/config and
// the /t/{slug}/oauth/... endpoints on mux, each behind the tenant middleware
// ([web.Tenants]): the handlers find their tenant with [web.Tenant].
func (h *Handler) Routes(mux *http.ServeMux) {
	tenants := web.Tenants{Store: h.store, Logger: h.log}
	jsonTenant := func(f http.HandlerFunc) http.Handler { return tenants.JSON(f) }
	discovery := []string{
		"/.well-known/oauth-authorization-server/t/{slug}",
		"/t/{slug}/.well-known/oauth-authorization-server",
		"/.well-known/openid-configuration/t/{slug}",
		"/t/{slug}/.well-known/openid-configuration",
	}
	for _, p := range discovery {
		mux.Handle("GET "+p, web.CORS(jsonTenant(h.serveMetadata)))
		mux.HandleFunc("OPTIONS "+p, web.Preflight("GET, OPTIONS"))
	}
	mux.Handle("GET /api/v1/servers/{slug}/config", web.CORS(jsonTenant(h.serveConfig)))
	mux.HandleFunc("OPTIONS /api/v1/servers/{slug}/config", web.Preflight("GET, OPTIONS"))

	// The consent POST is a state-changing form: besides its CSRF token, refuse
	// it when the browser says it came from another site.
	authorize := web.SecurityHeaders(web.CrossOriginProtection(tenants.HTML(http.HandlerFunc(h.serveAuthorize))))
	mux.Handle("GET /t/{slug}/oauth/authorize", authorize)
	mux.Handle("POST /t/{slug}/oauth/authorize", authorize)

	mux.Handle("POST /t/{slug}/oauth/token", web.CORS(jsonTenant(h.serveToken)))
	mux.HandleFunc("OPTIONS /t/{slug}/oauth/token", web.Preflight("POST, OPTIONS"))
	mux.Handle("POST /t/{slug}/oauth/revoke", web.CORS(jsonTenant(h.serveRevoke)))
	mux.HandleFunc("OPTIONS /t/{slug}/oauth/revoke", web.Preflight("POST, OPTIONS"))

	// Introspection and the feed are server to server: no CORS.
	// Introspection, the hot path, finds its tenant itself, in the cache (introspectcache.go).
	mux.HandleFunc("POST /t/{slug}/oauth/introspect", h.serveIntrospect)
	mux.Handle("GET /t/{slug}/oauth/revocations", jsonTenant(h.serveFeed))
}
