package oauth

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/mcp-obs/mcp-obs/internal/platform/web"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// tenantJSON resolves the request's {slug} to its server for the JSON
// endpoints. When it returns nil it has already written the 404 or 500 answer.
func (h *Handler) tenantJSON(w http.ResponseWriter, r *http.Request) *store.Server {
	slug := r.PathValue("slug")
	srv, err := h.store.ServerBySlug(r.Context(), slug)
	switch {
	case err == nil:
		return srv
	case errors.Is(err, store.ErrNotFound):
		web.WriteOAuthError(w, http.StatusNotFound, "not_found", fmt.Sprintf("unknown server %q", slug))
	default:
		h.log.ErrorContext(r.Context(), "oauth: loading server", "slug", slug, "err", err)
		web.WriteOAuthError(w, http.StatusInternalServerError, "server_error", "the server could not be loaded")
	}
	return nil
}

// tenantHTML is tenantJSON for the browser-facing authorization endpoint: it
// answers with an HTML error page.
func (h *Handler) tenantHTML(w http.ResponseWriter, r *http.Request) *store.Server {
	slug := r.PathValue("slug")
	srv, err := h.store.ServerBySlug(r.Context(), slug)
	switch {
	case err == nil:
		return srv
	case errors.Is(err, store.ErrNotFound):
		web.RenderError(w, http.StatusNotFound, "Unknown server", fmt.Sprintf("There is no server named %q here.", slug))
	default:
		h.log.ErrorContext(r.Context(), "oauth: loading server", "slug", slug, "err", err)
		web.RenderError(w, http.StatusInternalServerError, "Something went wrong", "The server could not be loaded. Try again later.")
	}
	return nil
}
