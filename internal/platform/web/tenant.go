package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/mcp-obs/mcp-obs/internal/platform/oautherr"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// TenantLookup finds a tenant by slug ([store.Servers] has it).
type TenantLookup interface {
	ServerBySlug(ctx context.Context, slug string) (*store.Server, error)
}

// Tenants is the middleware that resolves a request's {slug} path value to
// its tenant before the handler runs, and puts the tenant in the request's
// context, where [Tenant] finds it. Every route under /t/{slug}/ and
// /api/v1/servers/{slug}/ goes through it, so an unknown slug and a failing
// store are answered the same way everywhere: [Tenants.JSON] for endpoints
// that speak JSON, [Tenants.HTML] for pages.
type Tenants struct {
	Store TenantLookup
	// Logger receives store failures; default slog.Default().
	Logger *slog.Logger
}

// tenantKey is the context key of the request's tenant.
type tenantKey struct{}

// Tenant returns the tenant [Tenants] resolved for the request whose
// context is ctx, or nil outside that middleware.
func Tenant(ctx context.Context) *store.Server {
	srv, _ := ctx.Value(tenantKey{}).(*store.Server)
	return srv
}

// JSON wraps h for a JSON endpoint: an unknown slug is answered 404
// not_found, a store failure 500 server_error (logged), as OAuth errors.
func (t Tenants) JSON(h http.Handler) http.Handler {
	return t.wrap(h, refuseJSON)
}

// LookupJSON resolves the request's tenant as [Tenants.JSON] does and
// returns it instead of putting it in a copy of the request: for the hot
// path (introspection), which spares that copy. When it returns nil it has
// answered.
func (t Tenants) LookupJSON(w http.ResponseWriter, r *http.Request) *store.Server {
	srv, err := t.lookup(r)
	if err != nil {
		refuseJSON(w, r, err)
		return nil
	}
	return srv
}

// refuseJSON answers a failed tenant lookup of a JSON endpoint.
func refuseJSON(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrNotFound) {
		oautherr.Write(w, oautherr.New(http.StatusNotFound, "not_found", fmt.Sprintf("unknown server %q", r.PathValue("slug"))))
		return
	}
	oautherr.Write(w, oautherr.ServerError("the server could not be loaded"))
}

// HTML wraps h for a page: an unknown slug or a store failure is answered
// with the error page.
func (t Tenants) HTML(h http.Handler) http.Handler {
	return t.wrap(h, func(w http.ResponseWriter, r *http.Request, err error) {
		if errors.Is(err, store.ErrNotFound) {
			RenderError(w, http.StatusNotFound, "Server not found", "There is no MCP server at this address. Check the link you followed.")
			return
		}
		RenderError(w, http.StatusInternalServerError, "Something went wrong", "The server could not be loaded. Try again in a moment.")
	})
}

// wrap resolves the tenant and runs h with it, or refuse with why not.
func (t Tenants) wrap(h http.Handler, refuse func(http.ResponseWriter, *http.Request, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv, err := t.lookup(r)
		if err != nil {
			refuse(w, r, err)
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tenantKey{}, srv)))
	})
}

// lookup finds the tenant of the request's {slug}, logging store failures.
func (t Tenants) lookup(r *http.Request) (*store.Server, error) {
	slug := r.PathValue("slug")
	srv, err := t.Store.ServerBySlug(r.Context(), slug)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.logger().ErrorContext(r.Context(), "loading server", "slug", slug, "err", err)
	}
	return srv, err
}

func (t Tenants) logger() *slog.Logger {
	if t.Logger == nil {
		return slog.Default()
	}
	return t.Logger
}
