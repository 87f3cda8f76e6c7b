package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/mcp-obs/mcp-obs/internal/platform/oautherr"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// TenantJSON resolves the request's {slug} path value to its server for a
// JSON endpoint. When it returns nil it has already answered: 404 JSON for an
// unknown slug, 500 (logged) when the store fails.
func TenantJSON(w http.ResponseWriter, r *http.Request, st store.Servers, log *slog.Logger) *store.Server {
	srv, err := loadTenant(r, st, log)
	switch {
	case err == nil:
		return srv
	case errors.Is(err, store.ErrNotFound):
		oautherr.Write(w, oautherr.New(http.StatusNotFound, "not_found", fmt.Sprintf("unknown server %q", r.PathValue("slug"))))
	default:
		oautherr.Write(w, oautherr.ServerError("the server could not be loaded"))
	}
	return nil
}

// TenantHTML is [TenantJSON] for pages: it answers with an HTML error page.
func TenantHTML(w http.ResponseWriter, r *http.Request, st store.Servers, log *slog.Logger) *store.Server {
	srv, err := loadTenant(r, st, log)
	switch {
	case err == nil:
		return srv
	case errors.Is(err, store.ErrNotFound):
		RenderError(w, http.StatusNotFound, "Server not found", "There is no MCP server at this address. Check the link you followed.")
	default:
		RenderError(w, http.StatusInternalServerError, "Something went wrong", "The server could not be loaded. Try again in a moment.")
	}
	return nil
}

func loadTenant(r *http.Request, st store.Servers, log *slog.Logger) (*store.Server, error) {
	slug := r.PathValue("slug")
	srv, err := st.ServerBySlug(r.Context(), slug)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		log.ErrorContext(r.Context(), "loading server", "slug", slug, "err", err)
	}
	return srv, err
}
