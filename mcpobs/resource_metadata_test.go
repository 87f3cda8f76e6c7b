package mcpobs

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

func TestResourceMetadata_ServedAtRootAndPathInsertedWithExactResource(t *testing.T) {
	p := startPlatformFake(t)
	ps := startProtected(t, p, okHandler(), func(c *Config) { c.Name = "Demo Server with OAuth" })

	for _, path := range []string{"/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"} {
		t.Run(path, func(t *testing.T) {
			resp, err := http.Get(ps.srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d, Content-Type %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
				t.Errorf("Access-Control-Allow-Origin = %q, want *", got)
			}
			var raw map[string]any
			if err := json.Unmarshal(body, &raw); err != nil {
				t.Fatal(err)
			}
			// Byte for byte: compare the raw JSON string, not a parsed URL.
			if !strings.Contains(string(body), `"resource":"`+ps.mcpURL()+`"`) {
				t.Errorf("resource is not %q byte for byte: %s", ps.mcpURL(), body)
			}
			var meta oauthex.ProtectedResourceMetadata
			json.Unmarshal(body, &meta)
			if !slices.Equal(meta.AuthorizationServers, []string{p.issuer()}) {
				t.Errorf("authorization_servers = %v, want [%s]", meta.AuthorizationServers, p.issuer())
			}
			if !slices.Equal(meta.ScopesSupported, []string{"read", "write", "admin"}) {
				t.Errorf("scopes_supported = %v, want the tenant's", meta.ScopesSupported)
			}
			if !slices.Equal(meta.BearerMethodsSupported, []string{"header"}) {
				t.Errorf("bearer_methods_supported = %v, want [header]", meta.BearerMethodsSupported)
			}
			if meta.ResourceName != "Demo Server with OAuth" {
				t.Errorf("resource_name = %q", meta.ResourceName)
			}
		})
	}
}

func TestResourceMetadata_ChallengeURLPassesTheOfficialClientsChecks(t *testing.T) {
	p := startPlatformFake(t)
	ps := startProtected(t, p, okHandler(), nil)
	resp, _ := doMCP(t, ps, http.MethodPost, "", `{}`)
	cs, err := oauthex.ParseWWWAuthenticate(resp.Header.Values("WWW-Authenticate"))
	if err != nil || len(cs) != 1 {
		t.Fatalf("ParseWWWAuthenticate: %v, %v", cs, err)
	}
	metaURL := cs[0].Params["resource_metadata"]
	// The official client fetches the metadata and checks that its resource
	// is the URL it connected to.
	meta, err := oauthex.GetProtectedResourceMetadata(context.Background(), metaURL, ps.mcpURL(), http.DefaultClient)
	if err != nil {
		t.Fatalf("GetProtectedResourceMetadata(%s): %v", metaURL, err)
	}
	if meta.Resource != ps.mcpURL() {
		t.Errorf("resource = %q, want %q", meta.Resource, ps.mcpURL())
	}
}

func TestResourceMetadata_BeforeInitializeAnswers503(t *testing.T) {
	p := startPlatformFake(t)
	ps := startProtectedUninitialized(t, p, okHandler(), nil)
	resp, err := http.Get(ps.srv.URL + "/.well-known/oauth-protected-resource")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

func TestCORS_PreflightAnsweredWithoutAuthAndChallengeHeadersExposed(t *testing.T) {
	p := startPlatformFake(t)
	ps := startProtected(t, p, okHandler(), nil)
	before := p.introspected.Load()

	for _, path := range []string{"/mcp", "/.well-known/oauth-protected-resource/mcp", "/register", "/token", "/health"} {
		req, _ := http.NewRequest(http.MethodOptions, ps.srv.URL+path, nil)
		req.Header.Set("Origin", "http://localhost:6274")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type, mcp-session-id, mcp-param-region")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Errorf("OPTIONS %s: status %d, want 204 without authentication", path, resp.StatusCode)
		}
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("OPTIONS %s: Allow-Origin %q", path, got)
		}
		allowed := resp.Header.Get("Access-Control-Allow-Headers")
		for _, h := range []string{"Authorization", "Content-Type", "Mcp-Session-Id", "Mcp-Protocol-Version", "Last-Event-ID", "mcp-param-region"} {
			if !strings.Contains(allowed, h) {
				t.Errorf("OPTIONS %s: Allow-Headers %q lacks %s", path, allowed, h)
			}
		}
	}
	if p.introspected.Load() != before {
		t.Error("a preflight triggered token verification")
	}

	resp, _ := doMCP(t, ps, http.MethodPost, "", `{}`)
	exposed := resp.Header.Get("Access-Control-Expose-Headers")
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(exposed, "WWW-Authenticate") || !strings.Contains(exposed, "Mcp-Session-Id") {
		t.Errorf("401 CORS: Allow-Origin %q, Expose-Headers %q; want * and WWW-Authenticate, Mcp-Session-Id",
			resp.Header.Get("Access-Control-Allow-Origin"), exposed)
	}
}
