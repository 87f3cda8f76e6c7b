// Package clients registers OAuth clients of each tenant: dynamic client
// registration (RFC 7591) and management (RFC 7592), client ID metadata
// documents (CIMD) fetched with SSRF guards, and the redirect URI policy.
//
// MCP clients reach a tenant in one of two ways. Most register themselves
// with POST /t/{slug}/oauth/register and receive a client_id such as
// "mcp_acme_…". Newer ones use an https URL as their client_id; the URL serves
// a JSON metadata document that [Registry.Lookup] fetches, validates and
// caches. The authorization and token endpoints resolve both kinds through
// [Registry.Lookup] and check redirects with [RedirectURIAllowed].
package clients

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/mcp-obs/mcp-obs/internal/platform/endpoints"
	"github.com/mcp-obs/mcp-obs/internal/platform/ratelimit"
	"github.com/mcp-obs/mcp-obs/internal/platform/web"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// Defaults for zero [Options] fields.
const (
	defaultUnusedClientTTL        = 24 * time.Hour
	defaultRegistrationsPerMinute = 20
	// newDocumentsPerMinute bounds how many metadata documents a server
	// fetches and caches for the first time per minute. Anyone can make the
	// platform look up a client ID URL, so this is the CIMD counterpart of
	// the registration rate limit.
	newDocumentsPerMinute = 60
)

// Store is what the registry keeps: the tenants it registers clients
// with, and their clients.
type Store interface {
	store.Servers
	store.Clients
}

// Options configures a [Registry]. Zero values are the defaults.
type Options struct {
	Store  Store
	Base   endpoints.Base
	Logger *slog.Logger
	// Dev allows CIMD documents on loopback and private addresses and over http.
	// It exists for local testing with a document served from this machine;
	// never set it on a platform reachable from the internet, because it lets
	// anyone make the platform fetch URLs inside its network.
	Dev bool
	// UnusedClientTTL is how long a DCR client that never completed an
	// authorization is kept; default 24 hours.
	UnusedClientTTL time.Duration
	// RegistrationsPerMinute bounds registrations per client IP (IPv6: per
	// /64); default 20, with bursts of as many. Negative disables the limit.
	// An address forwarded by a tenant's MCP server has a budget of its own
	// at that tenant.
	RegistrationsPerMinute int
	// HTTPClient fetches CIMD documents; default: a client with SSRF guards.
	// A client given here is used as it is, except that redirects are never
	// followed: guarding its connections is then the caller's job.
	HTTPClient *http.Client
	// Now returns the current time; default time.Now.
	Now func() time.Time
	// ClientAddr finds the client address that registrations are limited
	// by; the zero value uses the connection's address only. A registration
	// proxied by the tenant's own MCP server counts under the end client's
	// address that server forwards (see [web.ClientAddr.ForTenant]).
	ClientAddr web.ClientAddr
}

// Registry registers and resolves clients. It is safe for concurrent use.
type Registry struct {
	store     Store
	base      endpoints.Base
	log       *slog.Logger
	dev       bool
	unusedTTL time.Duration
	limiter   *ratelimit.Limiter
	perMinute int
	newDocs   *ratelimit.Limiter // first fetches of metadata documents, per server
	fetcher   *http.Client
	now       func() time.Time
	clientIP  web.ClientAddr // the address registrations are limited by

	// fetches collapses concurrent lookups of one metadata document into one
	// request.
	fetches singleflight.Group
	// backoff remembers, per metadata document, until when a failed refetch
	// is not retried while a stale copy is being served.
	backoffMu sync.Mutex
	backoff   map[string]time.Time
}

// New returns a Registry. Store and Base are required.
func New(opts Options) *Registry {
	r := &Registry{
		store:     opts.Store,
		base:      opts.Base,
		log:       opts.Logger,
		dev:       opts.Dev,
		unusedTTL: opts.UnusedClientTTL,
		perMinute: opts.RegistrationsPerMinute,
		now:       opts.Now,
		clientIP:  opts.ClientAddr,
		backoff:   make(map[string]time.Time),
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	if r.unusedTTL <= 0 {
		r.unusedTTL = defaultUnusedClientTTL
	}
	if r.perMinute == 0 {
		r.perMinute = defaultRegistrationsPerMinute
	}
	if r.now == nil {
		r.now = time.Now
	}
	r.limiter = ratelimit.New(r.perMinute, max(r.perMinute, 1)).WithClock(r.now)
	r.newDocs = ratelimit.New(newDocumentsPerMinute, newDocumentsPerMinute).WithClock(r.now)
	if opts.HTTPClient != nil {
		c := *opts.HTTPClient
		c.CheckRedirect = refuseRedirects
		r.fetcher = &c
	} else {
		r.fetcher = newGuardedClient(opts.Dev)
	}
	return r
}

// Routes registers POST /t/{slug}/oauth/register and GET and DELETE
// /t/{slug}/oauth/register/{client_id} on mux, with their CORS preflights.
func (r *Registry) Routes(mux *http.ServeMux) {
	tenants := web.Tenants{Store: r.store, Logger: r.log}
	jsonTenant := func(f http.HandlerFunc) http.Handler { return web.CORS(tenants.JSON(f)) }
	mux.Handle("POST /t/{slug}/oauth/register", jsonTenant(r.serveRegister))
	mux.HandleFunc("OPTIONS /t/{slug}/oauth/register", web.Preflight("POST, OPTIONS"))
	mux.Handle("GET /t/{slug}/oauth/register/{client_id}", jsonTenant(r.serveRead))
	mux.Handle("DELETE /t/{slug}/oauth/register/{client_id}", jsonTenant(r.serveDelete))
	mux.HandleFunc("OPTIONS /t/{slug}/oauth/register/{client_id}", web.Preflight("GET, DELETE, OPTIONS"))
}

// Lookup resolves a client of srv: a registered client from the store, or,
// when clientID is an https URL, its metadata document (fetched, validated and
// cached). An unknown client wraps store.ErrNotFound.
//
// A metadata document that cannot be fetched or is refused yields a
// [*DocumentError], which also matches store.ErrNotFound, so callers that
// only distinguish "no such client" from "internal failure" need no special
// case; its Reason is safe to show on an error page. In [Options.Dev] mode
// http:// client IDs are treated as metadata documents too.
func (r *Registry) Lookup(ctx context.Context, srv *store.Server, clientID string) (*store.Client, error) {
	if r.isDocumentURL(clientID) {
		return r.lookupDocument(ctx, srv, clientID)
	}
	c, err := r.store.Client(ctx, srv.ID, clientID)
	if err != nil {
		return nil, fmt.Errorf("client %q of server %q: %w", clientID, srv.Slug, err)
	}
	return c, nil
}

// Touch records that clientID completed an authorization at srv at time at,
// which keeps it from [Registry.ExpireUnused] for good.
func (r *Registry) Touch(ctx context.Context, srv *store.Server, clientID string, at time.Time) error {
	return r.store.TouchClient(ctx, srv.ID, clientID, at)
}

// ExpireUnused deletes clients that were never used within UnusedClientTTL.
// Registration is anonymous and anyone can name a metadata document, so
// without expiry anyone could fill the database with clients; a client that
// completed an authorization is kept for good, and an expired metadata
// document is simply fetched again when it is next named.
func (r *Registry) ExpireUnused(ctx context.Context) (int, error) {
	n, err := r.store.DeleteUnusedClients(ctx, r.now().Add(-r.unusedTTL))
	if err != nil {
		return 0, fmt.Errorf("expiring unused clients: %w", err)
	}
	return n, nil
}

// isDocumentURL reports whether a client ID names a metadata document.
func (r *Registry) isDocumentURL(clientID string) bool {
	return strings.HasPrefix(clientID, "https://") || (r.dev && strings.HasPrefix(clientID, "http://"))
}
