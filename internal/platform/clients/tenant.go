package clients

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/mcp-obs/mcp-obs/internal/platform/web"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// tenant resolves the request's {slug} to its server. When it returns nil it
// has already answered 404 (unknown slug) or 500.
func (r *Registry) tenant(w http.ResponseWriter, req *http.Request) *store.Server {
	slug := req.PathValue("slug")
	srv, err := r.store.ServerBySlug(req.Context(), slug)
	switch {
	case err == nil:
		return srv
	case errors.Is(err, store.ErrNotFound):
		web.WriteOAuthError(w, http.StatusNotFound, "not_found", fmt.Sprintf("unknown server %q", slug))
	default:
		r.log.ErrorContext(req.Context(), "clients: loading server", "slug", slug, "err", err)
		web.WriteOAuthError(w, http.StatusInternalServerError, "server_error", "the server could not be loaded")
	}
	return nil
}

// withCORS lets browser-based MCP clients (the MCP Inspector, web apps)
// register and manage clients from any origin. No cookie authenticates these
// endpoints (registration is anonymous, management takes a bearer token), so
// a wildcard origin grants a page nothing a plain HTTP client lacks.
func withCORS(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Expose-Headers", "WWW-Authenticate, Retry-After")
		next(w, r)
	}
}

// preflight answers a CORS preflight for an endpoint allowing methods.
func preflight(methods string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Methods", methods)
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, MCP-Protocol-Version")
		h.Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
	}
}
