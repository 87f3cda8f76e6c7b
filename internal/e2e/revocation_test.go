package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// revocationBudget is how fast a revoked token must stop working at the MCP
// server although the SDK cached it as active: the platform pushes the
// revocation over its feed (polled every 200 ms) and the SDK evicts it.
// The mcpobs unit tests hold the SDK to it on a fake clock; here it is the
// window a test waits out (restart_test.go).
const revocationBudget = time.Second

// refusalPatience is how long a test polls for a revoked token to be refused
// before it gives up. It is no measure of speed (a busy machine must not
// fail a test): the harness caches verified tokens for revocationCacheTTL,
// ten minutes, so a refusal long before that can only come from the
// revocation feed or a re-verification at the platform, however long it
// took. How long it took is logged.
const refusalPatience = 30 * time.Second

// waitRefused polls the MCP server with token until it answers 401, which it
// returns, and fails the test if refusalPatience passes first. what names the
// revocation in messages.
func waitRefused(t *testing.T, ctx context.Context, mcpURL, token, what string) *http.Response {
	t.Helper()
	revokedAt := time.Now()
	var last string
	for {
		resp, body, err := postMCP(ctx, mcpURL, token, initializeBody)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode == http.StatusUnauthorized {
			t.Logf("%s refused %v after its revocation", what, time.Since(revokedAt).Round(time.Millisecond))
			return resp
		}
		last = fmt.Sprintf("%d %s", resp.StatusCode, snippet(body))
		if time.Since(revokedAt) > refusalPatience {
			t.Fatalf("%s still accepted %v after its revocation, with the token cached for %v (last answer %s): nothing evicted it",
				what, refusalPatience, revocationCacheTTL, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// initializeBody is an MCP initialize request, the simplest POST /mcp that
// any client sends first.
const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"e2e-curl","version":"0"}}}`

// postMCP sends body to the MCP endpoint with the bearer token (none when
// empty) and returns the answer with its body read.
func postMCP(ctx context.Context, mcpURL, token, body string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, mcpURL, strings.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("POST %s: %w", mcpURL, err)
	}
	defer resp.Body.Close()
	// An accepted initialize may answer with an event stream; the first
	// event is all a test needs, and the status says whether the token passed.
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp, b, nil
}

// TestGoClient_RevokedTokenRejectedDespiteCacheAndClientRecovers signs a user
// in with the Go SDK client, makes sure the SDK has verified (and so cached)
// the access token, revokes it at the platform's RFC 7009 endpoint, and polls
// the MCP server with it: it must answer 401 invalid_token although the
// SDK's cache would keep the token for ten minutes (waitRefused; how fast is
// the mcpobs unit tests' business, on a fake clock). The client then
// recovers by authorizing again.
func TestGoClient_RevokedTokenRejectedDespiteCacheAndClientRecovers(t *testing.T) {
	h := startHarness(t)
	h.addUser(t, "dave@example.com", "dave-password-1")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	c := connectGoClient(t, ctx, h, "dave@example.com", "dave-password-1")
	if _, err := c.whoami(ctx); err != nil {
		t.Fatal(err)
	}
	tok, err := c.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	resp, body, err := postMCP(ctx, h.MCPURL, tok.AccessToken, initializeBody)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("live token: POST /mcp = %d %s, want 200", resp.StatusCode, snippet(body))
	}

	form := url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}, "client_id": {c.ClientID()}}
	rresp, err := http.PostForm(h.Base.Revoke(tenantSlug), form)
	if err != nil {
		t.Fatalf("revoke: %v", err)
	}
	rbody, _ := io.ReadAll(rresp.Body)
	rresp.Body.Close()
	if rresp.StatusCode != http.StatusOK {
		t.Fatalf("revoke = %d %s, want 200", rresp.StatusCode, snippet(rbody))
	}
	resp = waitRefused(t, ctx, h.MCPURL, tok.AccessToken, "the revoked token")
	if ch := bearerChallenge(t, resp.Header.Values("WWW-Authenticate")); ch == nil || ch["error"] != "invalid_token" {
		t.Errorf("revoked token: challenge %q, want Bearer error=\"invalid_token\"", resp.Header.Values("WWW-Authenticate"))
	}

	// The official client meets the 401, authorizes again and carries on.
	who, err := c.whoami(ctx)
	if err != nil {
		t.Fatalf("whoami after revocation: the client did not recover: %v", err)
	}
	if who.Email != "dave@example.com" {
		t.Errorf("whoami after re-authorization = %+v, want dave@example.com", who)
	}
	if n := len(c.AuthURLs()); n != 2 {
		t.Errorf("authorization flows = %d, want 2 (initial, and after the revocation)", n)
	}
	// The re-registered client is new to the user: consent is asked again,
	// but the browser's session spares a second sign-in.
	if pages := c.Browser.Pages(); !slices.Equal(pages, []string{"signin", "consent", "consent"}) {
		t.Errorf("pages = %v, want [signin consent consent]", pages)
	}
	newTok, err := c.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if newTok.AccessToken == tok.AccessToken {
		t.Error("the client still holds the revoked access token")
	}
}
