package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/store/sqlite"
	"github.com/mcp-obs/mcp-obs/internal/testkit/testdb"
)

// tenantStore opens a SQLite store holding the tenants named by slugs.
func tenantStore(t *testing.T, slugs ...string) *sqlite.Store {
	t.Helper()
	st := testdb.SQLite(t)
	for _, slug := range slugs {
		if err := st.CreateServer(context.Background(), &store.Server{ID: "srv-" + slug, Slug: slug, Name: slug}); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// echoTenant answers the slug of the tenant in its request's context.
var echoTenant = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	srv := Tenant(r.Context())
	if srv == nil {
		io.WriteString(w, "no tenant")
		return
	}
	io.WriteString(w, srv.Slug)
})

func TestTenants_HandlerRunsWithTheTenantOfItsPath(t *testing.T) {
	mw := Tenants{Store: tenantStore(t, "acme")}
	for name, h := range map[string]http.Handler{"JSON": mw.JSON(echoTenant), "HTML": mw.HTML(echoTenant)} {
		mux := http.NewServeMux()
		mux.Handle("GET /t/{slug}/x", h)
		resp, body := get(t, mux, "/t/acme/x")
		if resp.StatusCode != http.StatusOK || body != "acme" {
			t.Errorf("%s: %d %q, want the handler to see tenant acme", name, resp.StatusCode, body)
		}
	}
}

func TestTenants_UnknownOrFailingTenantAnsweredWithoutTheHandler(t *testing.T) {
	known := tenantStore(t, "acme")
	failing := tenantStore(t, "acme")
	failing.Close()
	called := false
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true })
	tests := []struct {
		name       string
		wrap       func(http.Handler) http.Handler
		path       string
		wantStatus int
		wantType   string
		wantBody   string
	}{
		{"JSON, unknown", Tenants{Store: known}.JSON, "/t/nope/x", 404, "application/json", `{"error":"not_found","error_description":"unknown server \"nope\""}` + "\n"},
		{"JSON, store fails", Tenants{Store: failing}.JSON, "/t/acme/x", 500, "application/json", `{"error":"server_error","error_description":"the server could not be loaded"}` + "\n"},
		{"HTML, unknown", Tenants{Store: known}.HTML, "/t/nope/x", 404, "text/html; charset=utf-8", "Server not found"},
		{"HTML, store fails", Tenants{Store: failing}.HTML, "/t/acme/x", 500, "text/html; charset=utf-8", "Something went wrong"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called = false
			mux := http.NewServeMux()
			mux.Handle("GET /t/{slug}/x", tt.wrap(h))
			resp, body := get(t, mux, tt.path)
			if called {
				t.Error("the handler ran without a tenant")
			}
			if resp.StatusCode != tt.wantStatus || resp.Header.Get("Content-Type") != tt.wantType || !strings.Contains(body, tt.wantBody) {
				t.Errorf("got %d %q %q, want %d %q containing %q", resp.StatusCode, resp.Header.Get("Content-Type"), body,
					tt.wantStatus, tt.wantType, tt.wantBody)
			}
			if resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", resp.Header.Get("Cache-Control"))
			}
		})
	}
}

// The tenant travels in each request's own context: requests for two
// tenants at once never see each other's.
func TestTenants_ConcurrentRequestsEachSeeTheirOwnTenant(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("GET /t/{slug}/x", Tenants{Store: tenantStore(t, "acme", "other")}.JSON(echoTenant))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	const n = 16
	var ready sync.WaitGroup
	ready.Add(n)
	start := make(chan struct{})
	var g errgroup.Group
	for i := range n {
		slug := []string{"acme", "other"}[i%2]
		g.Go(func() error {
			ready.Done()
			<-start
			resp, err := srv.Client().Get(srv.URL + "/t/" + slug + "/x")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if string(body) != slug {
				return fmt.Errorf("request for %s saw tenant %q", slug, body)
			}
			return nil
		})
	}
	ready.Wait()
	close(start)
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestTenant_NoneOutsideTheMiddleware(t *testing.T) {
	if srv := Tenant(context.Background()); srv != nil {
		t.Fatalf("Tenant of a bare context = %+v, want nil", srv)
	}
}
