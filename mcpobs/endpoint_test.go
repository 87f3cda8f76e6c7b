package mcpobs

import (
	"io"
	"net/http"
	"testing"
)

// Every endpoint answers a method it does not serve with 405 and its Allow
// header, before and after Initialize, and every endpoint that needs the
// platform's configuration answers 503 with Retry-After until Initialize has
// succeeded; /health and the MCP endpoint's own rules are elsewhere.
func TestEndpoints_WrongMethodIs405ThenUninitializedIs503(t *testing.T) {
	tests := []struct {
		path, wrong, right, allow, use string
	}{
		{"/.well-known/oauth-protected-resource", http.MethodPost, http.MethodGet, "GET, HEAD, OPTIONS", "use GET"},
		{"/.well-known/oauth-protected-resource/mcp", http.MethodPut, http.MethodGet, "GET, HEAD, OPTIONS", "use GET"},
		{"/.well-known/oauth-authorization-server", http.MethodPost, http.MethodGet, "GET, HEAD, OPTIONS", "use GET"},
		{"/authorize", http.MethodPost, http.MethodGet, "GET, HEAD", "use GET"},
		{"/register", http.MethodGet, http.MethodPost, "POST, OPTIONS", "use POST"},
		{"/token", http.MethodGet, http.MethodPost, "POST, OPTIONS", "use POST"},
		{"/revoke", http.MethodDelete, http.MethodPost, "POST, OPTIONS", "use POST"},
		{"/health", http.MethodPost, "", "GET, HEAD", "use GET"},
	}
	p := startPlatformFake(t)
	ps := startProtectedUninitialized(t, p, okHandler(), nil)
	check := func(t *testing.T, initialized bool) {
		for _, tt := range tests {
			req, _ := http.NewRequest(tt.wrong, ps.srv.URL+tt.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := readBody(t, resp)
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != tt.allow ||
				errorBody(t, body).Description != tt.use || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("%s %s: %d, Allow %q, body %s; want 405, Allow %q, %q, with CORS",
					tt.wrong, tt.path, resp.StatusCode, resp.Header.Get("Allow"), body, tt.allow, tt.use)
			}
			if initialized || tt.right == "" {
				continue
			}
			req, _ = http.NewRequest(tt.right, ps.srv.URL+tt.path, nil)
			resp, err = http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body = readBody(t, resp)
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "5" ||
				errorBody(t, body).Description != "this server has not reached the authorization platform yet; retry shortly" {
				t.Errorf("%s %s before Initialize: %d, Retry-After %q, body %s; want 503 with Retry-After 5",
					tt.right, tt.path, resp.StatusCode, resp.Header.Get("Retry-After"), body)
			}
		}
	}
	t.Run("before Initialize", func(t *testing.T) { check(t, false) })
	if err := ps.obs.Initialize(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Run("after Initialize", func(t *testing.T) { check(t, true) })
}

// readBody reads and closes resp's body.
func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
