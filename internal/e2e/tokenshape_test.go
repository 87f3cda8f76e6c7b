package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/secret"
)

// TestMCPServer_MalformedRefreshAndOversizedTokensGet401WithoutIntrospection
// sends the MCP server tokens that cannot be access tokens: garbage, a typo
// in a real access token, the real refresh token of a signed-in user, and a
// 66,000-byte token (larger than the platform's 64 KiB form limit, which once
// made the SDK answer 503 "platform down"). Each must get 401 invalid_token,
// and the platform must not see a single introspection for them.
func TestMCPServer_MalformedRefreshAndOversizedTokensGet401WithoutIntrospection(t *testing.T) {
	h := startHarness(t)
	h.addUser(t, "olga@example.com", "olga-password-1")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := connectGoClient(t, ctx, h, "olga@example.com", "olga-password-1")
	tok, err := c.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" || !secret.WellFormed(tok.AccessToken, secret.PrefixAccessToken) {
		t.Fatalf("the platform issued access token %q and refresh token %q: want a well-formed access token and a refresh token",
			secret.Redact(tok.AccessToken), secret.Redact(tok.RefreshToken))
	}
	at := tok.AccessToken
	other := "A"
	if at[20] == 'A' {
		other = "B"
	}
	typo := at[:20] + other + at[21:]

	before := h.Introspections.Load()
	for name, token := range map[string]string{
		"garbage":        "garbage",
		"typo":           typo,
		"refresh token":  tok.RefreshToken,
		"66,000 bytes":   at + strings.Repeat("A", 66000-len(at)),
		"no checksum":    at[:len(at)-6],
		"code as bearer": secret.New(secret.PrefixCode),
	} {
		resp, body, err := postMCP(ctx, h.MCPURL, token, initializeBody)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: POST /mcp = %d %s, want 401", name, resp.StatusCode, snippet(body))
			continue
		}
		if ch := bearerChallenge(t, resp.Header.Values("WWW-Authenticate")); ch == nil || ch["error"] != "invalid_token" {
			t.Errorf("%s: challenge %q, want Bearer error=\"invalid_token\"", name, resp.Header.Values("WWW-Authenticate"))
		}
	}
	if n := h.Introspections.Load() - before; n != 0 {
		t.Errorf("the platform answered %d introspections for tokens the SDK could refuse by their shape, want 0", n)
	}

	// The real access token still works, at the cost of one introspection.
	resp, body, err := postMCP(ctx, h.MCPURL, at, initializeBody)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the real access token: POST /mcp = %d %s, want 200", resp.StatusCode, snippet(body))
	}
}
