// Package oauth is the authorization server of each tenant: discovery
// documents, the public tenant configuration, authorization (sign-in and
// consent), the token endpoint, introspection, revocation and the revocation feed.
package oauth

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/platform/account"
	"github.com/mcp-obs/mcp-obs/internal/platform/clients"
	"github.com/mcp-obs/mcp-obs/internal/platform/endpoints"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// Options configures a [Handler]. Zero values are the defaults.
type Options struct {
	Store    store.Store
	Base     endpoints.Base
	Clients  *clients.Registry
	Accounts *account.Service
	Logger   *slog.Logger
	// RefreshReuseGrace is how long after a refresh token's first use a repeat
	// (a client retrying a lost response) is still honoured; default 10 seconds.
	RefreshReuseGrace time.Duration
	// Now returns the current time; default time.Now.
	Now func() time.Time
}

// Handler serves the authorization server endpoints of every tenant.
type Handler struct{}

// New returns a Handler.
func New(opts Options) *Handler { panic("unimplemented") }

// Routes registers the discovery documents, /api/v1/servers/{slug}/config and
// the /t/{slug}/oauth/... endpoints on mux.
func (h *Handler) Routes(mux *http.ServeMux) { panic("unimplemented") }
