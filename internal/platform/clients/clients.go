// Package clients registers OAuth clients of each tenant: dynamic client
// registration (RFC 7591) and management (RFC 7592), client ID metadata
// documents (CIMD) fetched with SSRF guards, and the redirect URI policy.
package clients

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/platform/endpoints"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// Options configures a [Registry]. Zero values are the defaults.
type Options struct {
	Store  store.Store
	Base   endpoints.Base
	Logger *slog.Logger
	// Dev allows CIMD documents on loopback and private addresses and over http.
	Dev bool
	// UnusedClientTTL is how long a DCR client that never completed an
	// authorization is kept; default 24 hours.
	UnusedClientTTL time.Duration
	// RegistrationsPerMinute bounds registrations per client IP; default 20.
	RegistrationsPerMinute int
	// HTTPClient fetches CIMD documents; default: a client with SSRF guards.
	HTTPClient *http.Client
	// Now returns the current time; default time.Now.
	Now func() time.Time
}

// Registry registers and resolves clients.
type Registry struct{}

// New returns a Registry.
func New(opts Options) *Registry { panic("unimplemented") }

// Routes registers POST /t/{slug}/oauth/register and GET and DELETE
// /t/{slug}/oauth/register/{client_id} on mux.
func (r *Registry) Routes(mux *http.ServeMux) { panic("unimplemented") }

// Lookup resolves a client of srv: a registered client from the store, or,
// when clientID is an https URL, its metadata document (fetched, validated and
// cached). An unknown client wraps store.ErrNotFound.
func (r *Registry) Lookup(ctx context.Context, srv *store.Server, clientID string) (*store.Client, error) {
	panic("unimplemented")
}

// ExpireUnused deletes DCR clients that were never used within UnusedClientTTL.
func (r *Registry) ExpireUnused(ctx context.Context) (int, error) { panic("unimplemented") }

// RedirectURIAllowed reports whether requested may be used with a client that
// registered the given redirect URIs: an exact match, or a loopback redirect
// (127.0.0.1, [::1], localhost over http) equal but for the port (RFC 8252 §7.3).
func RedirectURIAllowed(registered []string, requested string) bool { panic("unimplemented") }

// ValidateRedirectURI checks a redirect URI offered at registration: absolute,
// no fragment; https, or http on a loopback host, or a private-use scheme
// (reverse-domain, e.g. cursor://anysphere.cursor-mcp/oauth/callback).
func ValidateRedirectURI(uri string) error { panic("unimplemented") }
