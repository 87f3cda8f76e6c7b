package platform

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/mcp-obs/mcp-obs/internal/platform/endpoints"
	"github.com/mcp-obs/mcp-obs/internal/store/sqlite"
)

func TestReadyz_ReportsTheDatabaseAndHealthzDoesNot(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	p := New(Config{Base: endpoints.Base("http://localhost:3000")}, st)
	srv := httptest.NewServer(p.Handler())
	defer srv.Close()

	status := func(path string) (int, map[string]string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]string
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("%s: body is not JSON: %v", path, err)
		}
		return resp.StatusCode, body
	}
	if code, body := status("/healthz"); code != http.StatusOK || body["status"] != "ok" {
		t.Fatalf("/healthz = %d %v", code, body)
	}
	if code, body := status("/readyz"); code != http.StatusOK || body["status"] != "ready" {
		t.Fatalf("/readyz = %d %v", code, body)
	}

	st.Close() // the database goes away
	if code, body := status("/readyz"); code != http.StatusServiceUnavailable || body["status"] != "unavailable" {
		t.Fatalf("/readyz with the database closed = %d %v, want 503 unavailable", code, body)
	}
	if code, _ := status("/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz with the database closed = %d, want 200: liveness is not readiness", code)
	}
}
