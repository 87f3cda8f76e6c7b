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
const revocationBudget = time.Second

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

// TestGoClient_RevokedTokenRejectedWithinOneSecondDespiteCache signs a user in
// with the Go SDK client, makes sure the SDK has verified (and so cached) the
// access token, revokes it at the platform's RFC 7009 endpoint, and polls the
// MCP server with it: within a second it must answer 401 invalid_token,
// although the SDK's cache would otherwise keep the token for minutes. The
// client then recovers by authorizing again.
func TestGoClient_RevokedTokenRejectedWithinOneSecondDespiteCache(t *testing.T) {
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
	revokedAt := time.Now()

	var last string
	for {
		resp, body, err := postMCP(ctx, h.MCPURL, tok.AccessToken, initializeBody)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode == http.StatusUnauthorized {
			ch := bearerChallenge(t, resp.Header.Values("WWW-Authenticate"))
			if ch == nil || ch["error"] != "invalid_token" {
				t.Errorf("revoked token: challenge %q, want Bearer error=\"invalid_token\"", resp.Header.Values("WWW-Authenticate"))
			}
			t.Logf("revoked token rejected %v after revocation", time.Since(revokedAt).Round(time.Millisecond))
			break
		}
		last = fmt.Sprintf("%d %s", resp.StatusCode, snippet(body))
		if time.Since(revokedAt) > revocationBudget {
			t.Fatalf("revoked token still accepted %v after revocation (last answer %s): the revocation feed did not evict it", revocationBudget, last)
		}
		time.Sleep(20 * time.Millisecond)
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
