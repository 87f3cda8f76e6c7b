package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// getJSON fetches url and decodes its JSON body into out, returning the response.
func getJSON(t *testing.T, url string, out any) *http.Response {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("GET %s: not JSON: %v: %s", url, err, snippet(body))
		}
	} else {
		t.Errorf("GET %s = %d %s, want 200", url, resp.StatusCode, snippet(body))
	}
	return resp
}

// protectedResource is the part of RFC 9728 metadata the walkthrough checks.
type protectedResource struct {
	Resource               string   `json:"resource"`
	AuthorizationServers   []string `json:"authorization_servers"`
	ScopesSupported        []string `json:"scopes_supported"`
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
}

// TestWalkthrough_SeedCurlSteps replays the seed README's "Testing OAuth
// Flow" walkthrough with plain HTTP, as curl would: discovery, dynamic client
// registration through the MCP server, an MCP request without a token, and
// the public health check.
func TestWalkthrough_SeedCurlSteps(t *testing.T) {
	h := startHarness(t)

	t.Run("ProtectedResourceMetadataNamesExactResourceAndIssuer", func(t *testing.T) {
		for _, path := range []string{"/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"} {
			var prm protectedResource
			resp := getJSON(t, h.MCPOrigin+path, &prm)
			if resp.StatusCode != http.StatusOK {
				continue
			}
			if prm.Resource != h.MCPURL {
				t.Errorf("%s resource = %q, want exactly %q", path, prm.Resource, h.MCPURL)
			}
			if !slices.Equal(prm.AuthorizationServers, []string{h.Issuer()}) {
				t.Errorf("%s authorization_servers = %v, want [%s]", path, prm.AuthorizationServers, h.Issuer())
			}
			if !sameSet(prm.ScopesSupported, tenantScopes) {
				t.Errorf("%s scopes_supported = %v, want %v", path, prm.ScopesSupported, tenantScopes)
			}
			if !slices.Equal(prm.BearerMethodsSupported, []string{"header"}) {
				t.Errorf("%s bearer_methods_supported = %v, want [header]", path, prm.BearerMethodsSupported)
			}
		}
	})

	t.Run("RegisterThroughMCPServerReturnsClientCredentials", func(t *testing.T) {
		reg := `{"client_name":"Test MCP Client","redirect_uris":["http://localhost:8000/callback"],"grant_types":["authorization_code"]}`
		resp, err := http.Post(h.MCPOrigin+"/register", "application/json", strings.NewReader(reg))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST /register = %d %s, want 201", resp.StatusCode, snippet(body))
		}
		var client struct {
			ClientID                string   `json:"client_id"`
			ClientSecret            string   `json:"client_secret"`
			TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
			RedirectURIs            []string `json:"redirect_uris"`
		}
		if err := json.Unmarshal(body, &client); err != nil {
			t.Fatalf("registration answer is not JSON: %v: %s", err, snippet(body))
		}
		if client.ClientID == "" {
			t.Errorf("registration answer has no client_id: %s", snippet(body))
		}
		if client.TokenEndpointAuthMethod == "" {
			t.Errorf("registration answer has no token_endpoint_auth_method (RFC 7591 §3.2.1): %s", snippet(body))
		}
		if client.TokenEndpointAuthMethod != "none" && client.ClientSecret == "" {
			t.Errorf("confidential client (%q) registered without a client_secret", client.TokenEndpointAuthMethod)
		}
		if !slices.Equal(client.RedirectURIs, []string{"http://localhost:8000/callback"}) {
			t.Errorf("registered redirect_uris = %v", client.RedirectURIs)
		}
		// The client exists on the platform, not only in the proxy's answer.
		if _, err := h.Store.Client(context.Background(), h.Tenant.ID, client.ClientID); err != nil {
			t.Errorf("registered client %q not in the platform's store: %v", client.ClientID, err)
		}
	})

	t.Run("MCPRequestWithoutTokenGetsChallenge", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, body, err := postMCP(ctx, h.MCPURL, "", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("POST /mcp without token = %d %s, want 401", resp.StatusCode, snippet(body))
		}
		values := resp.Header.Values("WWW-Authenticate")
		if len(values) == 0 || !strings.HasPrefix(values[0], "Bearer ") {
			t.Fatalf("WWW-Authenticate = %q, want a Bearer challenge", values)
		}
		ch := bearerChallenge(t, values)
		if _, ok := ch["error"]; ok {
			t.Errorf("challenge without a token carries error=%q; RFC 6750 §3.1 says it should not", ch["error"])
		}
		if got := strings.Fields(ch["scope"]); !sameSet(got, requiredScopes) {
			t.Errorf("challenge scope = %q, want %v", ch["scope"], requiredScopes)
		}
		prmURL := ch["resource_metadata"]
		if !strings.HasPrefix(prmURL, h.MCPOrigin+"/.well-known/oauth-protected-resource") {
			t.Fatalf("challenge resource_metadata = %q, want this server's protected-resource metadata", prmURL)
		}
		var prm protectedResource
		getJSON(t, prmURL, &prm)
		if prm.Resource != h.MCPURL {
			t.Errorf("metadata at resource_metadata has resource %q, want %q", prm.Resource, h.MCPURL)
		}
		var errBody struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal(body, &errBody); err != nil || errBody.Error == "" {
			t.Errorf("401 body = %s, want a JSON error object", snippet(body))
		}
	})

	t.Run("HealthIsPublic", func(t *testing.T) {
		var health struct {
			Status string `json:"status"`
		}
		resp := getJSON(t, h.MCPOrigin+"/health", &health)
		if resp.StatusCode == http.StatusOK && health.Status != "ok" {
			t.Errorf("/health status = %q, want ok", health.Status)
		}
	})
}
