package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestGoClient_StepsUpToAdminScopeOnInsufficientScope checks MCP step-up
// authorization: the token first carries read and write; calling
// admin_action answers 403 insufficient_scope naming every scope the call
// needs (read, write and admin), and the Go SDK client re-authorizes with
// that union and the retried call succeeds.
func TestGoClient_StepsUpToAdminScopeOnInsufficientScope(t *testing.T) {
	h := startHarness(t)
	h.addUser(t, "root@example.com", "root-password-1")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	c := connectGoClient(t, ctx, h, "root@example.com", "root-password-1")
	who, err := c.whoami(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(who.Scopes, "admin") {
		t.Fatalf("first token already has admin (%v): the step-up would not be exercised", who.Scopes)
	}
	if n := len(c.Rec.Exchanges(403)); n != 0 {
		t.Fatalf("%d 403 answers before admin_action was called", n)
	}

	var res adminResult
	if err := c.callTool(ctx, "admin_action", map[string]any{}, &res); err != nil {
		t.Fatalf("admin_action after step-up: %v", err)
	}
	if !res.Done || res.By != "root@example.com" {
		t.Errorf("admin_action = %+v, want done by root@example.com", res)
	}

	forbidden := c.Rec.Exchanges(403)
	if len(forbidden) == 0 {
		t.Fatal("admin_action succeeded without a 403 insufficient_scope first: the tool scope is not enforced")
	}
	ch := bearerChallenge(t, forbidden[0].WWWAuthenticate)
	if ch == nil {
		t.Fatalf("403 without a Bearer challenge: %q", forbidden[0].WWWAuthenticate)
	}
	if ch["error"] != "insufficient_scope" {
		t.Errorf("403 challenge error = %q, want insufficient_scope", ch["error"])
	}
	if got := strings.Fields(ch["scope"]); !sameSet(got, []string{"read", "write", "admin"}) {
		t.Errorf("403 challenge scope = %q, want read, write and admin so the client keeps what it has", ch["scope"])
	}

	urls := c.AuthURLs()
	if len(urls) != 2 {
		t.Fatalf("authorization flows = %d, want 2 (initial and step-up)", len(urls))
	}
	if got := strings.Fields(urls[1].Query().Get("scope")); !sameSet(got, []string{"read", "write", "admin"}) {
		t.Errorf("step-up authorization scope = %v, want read, write and admin", got)
	}
	if pages := c.Browser.Pages(); len(pages) < 3 || pages[len(pages)-1] != "consent" {
		t.Errorf("pages = %v, want the user asked to consent to admin at the end", pages)
	}

	who, err = c.whoami(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !sameSet(who.Scopes, []string{"read", "write", "admin"}) {
		t.Errorf("whoami scopes after step-up = %v, want read, write and admin", who.Scopes)
	}
}
