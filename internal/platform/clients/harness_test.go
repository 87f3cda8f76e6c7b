package clients

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/platform/endpoints"
	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/testkit"
	"github.com/mcp-obs/mcp-obs/internal/testkit/testdb"
)

// harness is a Registry on the real SQLite store, served over loopback HTTP.
type harness struct {
	st    store.Store
	srv   *store.Server
	reg   *Registry
	ts    *httptest.Server
	base  endpoints.Base
	clock *testkit.Clock
	logs  *testkit.Buffer
}

// newHarness creates a tenant "acme" with scopes read and write. Fields of
// opts that the harness owns (Store, Base, Now, Logger) are filled in.
func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	ctx := context.Background()
	st := testdb.SQLite(t)
	srv := &store.Server{
		ID:          secret.ID(),
		Slug:        "acme",
		Name:        "Acme",
		ResourceURL: "http://localhost:3006/mcp",
		Scopes:      []string{"read", "write"},
		CreatedAt:   time.Now().UTC(),
	}
	if err := st.CreateServer(ctx, srv); err != nil {
		t.Fatalf("create server: %v", err)
	}
	mux := http.NewServeMux()
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)

	h := &harness{
		st:    st,
		srv:   srv,
		ts:    ts,
		base:  endpoints.Base(ts.URL),
		clock: testkit.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)),
		logs:  &testkit.Buffer{},
	}
	opts.Store = st
	opts.Base = h.base
	opts.Now = h.clock.Now
	opts.Logger = slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.reg = New(opts)
	h.reg.Routes(mux)
	return h
}

// do sends a request with an optional JSON body and returns the response and
// its body.
func (h *harness) do(t *testing.T, method, path string, body string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := h.ts.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// register POSTs a JSON registration request to the acme tenant.
func (h *harness) register(t *testing.T, body string) (*http.Response, map[string]any) {
	t.Helper()
	resp, b := h.do(t, http.MethodPost, "/t/acme/oauth/register", body, http.Header{"Content-Type": {"application/json"}})
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("register: status %d, body %q is not a JSON object: %v", resp.StatusCode, b, err)
	}
	return resp, m
}

// mustRegister registers a client and fails the test unless it got 201.
func (h *harness) mustRegister(t *testing.T, body string) map[string]any {
	t.Helper()
	resp, m := h.register(t, body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("register: status %d, body %v", resp.StatusCode, m)
	}
	return m
}

// storedClient loads a client of the acme tenant from the store.
func (h *harness) storedClient(t *testing.T, clientID string) *store.Client {
	t.Helper()
	c, err := h.st.Client(context.Background(), h.srv.ID, clientID)
	if err != nil {
		t.Fatalf("load client %q: %v", clientID, err)
	}
	return c
}

// wantOAuthError checks an RFC 6749 §5.2 style error answer.
func wantOAuthError(t *testing.T, resp *http.Response, body []byte, status int, code string) map[string]any {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, status, body)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("error body %q is not JSON: %v", body, err)
	}
	if m["error"] != code {
		t.Fatalf("error = %v, want %q; body %s", m["error"], code, body)
	}
	return m
}
