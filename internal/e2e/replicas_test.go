package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/store/postgres"
	"github.com/mcp-obs/mcp-obs/internal/store/postgres/pgtest"
)

// TestReplicas_TwoPlatformsOnOnePostgreSQLServeOneFlowAndShareRevocations
// runs two platform replicas on one PostgreSQL database behind a round-robin
// balancer: the Go SDK client's whole flow (registration, sign-in session,
// consent, code, token, introspection) hops between them, and a token revoked
// on replica 1 is refused by the MCP server, long before its cache would let
// it go, although its revocation feed is served by replica 0.
func TestReplicas_TwoPlatformsOnOnePostgreSQLServeOneFlowAndShareRevocations(t *testing.T) {
	dbURL := pgtest.FreshSchema(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, err := postgres.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b, err := postgres.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })

	h := startHarnessOn(t, a, b)
	h.addUser(t, "rita@example.com", "rita-password-1")
	c := connectGoClient(t, ctx, h, "rita@example.com", "rita-password-1")
	who, err := c.whoami(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if who.Email != "rita@example.com" {
		t.Fatalf("whoami = %+v, want rita@example.com", who)
	}
	tok, err := c.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}

	replica1 := httptest.NewServer(h.Replicas[1].Handler())
	defer replica1.Close()
	resp, err := http.PostForm(replica1.URL+"/t/"+tenantSlug+"/oauth/revoke",
		url.Values{"token": {tok.AccessToken}, "client_id": {c.ClientID()}})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke on replica 1 = %d, want 200", resp.StatusCode)
	}
	waitRefused(t, ctx, h.MCPURL, tok.AccessToken, "the token revoked on replica 1 (feed on replica 0)")
}
