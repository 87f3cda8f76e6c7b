package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// TestMCPServer_RejectsTokenIssuedForAnotherTenant signs a user in to a
// second tenant of the same platform and presents that tenant's valid access
// token to the first tenant's MCP server: tokens are bound to their resource
// (RFC 8707) and introspection is per tenant, so it must answer 401
// invalid_token, while the token keeps working where it belongs.
func TestMCPServer_RejectsTokenIssuedForAnotherTenant(t *testing.T) {
	h := startHarness(t)
	other := h.startMCPServer(t, "other", "Other Server")
	h.addUserOn(t, other.Tenant, "frank@example.com", "frank-password-1")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	c := newGoClient(t, "frank@example.com", "frank-password-1")
	if err := c.connect(ctx, other.MCPURL); err != nil {
		t.Fatal(err)
	}
	defer c.Session.Close()
	who, err := c.whoami(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if who.Email != "frank@example.com" {
		t.Fatalf("whoami on the token's own server = %+v, want frank@example.com", who)
	}
	tok, err := c.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}

	resp, body, err := postMCP(ctx, h.MCPURL, tok.AccessToken, initializeBody)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("token of tenant %q on tenant %q's MCP server: %d %s, want 401", other.Tenant.Slug, tenantSlug, resp.StatusCode, snippet(body))
	}
	if ch := bearerChallenge(t, resp.Header.Values("WWW-Authenticate")); ch == nil || ch["error"] != "invalid_token" {
		t.Errorf("challenge = %q, want Bearer error=\"invalid_token\"", resp.Header.Values("WWW-Authenticate"))
	}

	resp, body, err = postMCP(ctx, other.MCPURL, tok.AccessToken, initializeBody)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the same token on its own server: %d %s, want 200", resp.StatusCode, snippet(body))
	}
}
