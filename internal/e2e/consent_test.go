package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestGoClient_DeniedConsentFailsWithAccessDenied has the user press Deny on
// the consent page: the platform must send the client back to its callback
// with error=access_denied, no code is issued, and the connection fails.
func TestGoClient_DeniedConsentFailsWithAccessDenied(t *testing.T) {
	h := startHarness(t)
	h.addUser(t, "gina@example.com", "gina-password-1")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	c := newGoClient(t, "gina@example.com", "gina-password-1")
	c.Browser.Decision = "deny"
	err := c.connect(ctx, h.MCPURL)
	if err == nil {
		c.Session.Close()
		t.Fatal("connected although the user denied consent")
	}
	if !strings.Contains(err.Error(), "access_denied") {
		t.Errorf("connect error = %v, want the callback's access_denied", err)
	}
	// The client may try more than once (the Go SDK retries the connection
	// with the legacy initialize); each try must end at a consent page.
	if got := c.Browser.Pages(); len(got) < 2 || got[0] != "signin" || slices.ContainsFunc(got[1:], func(p string) bool { return p != "consent" }) {
		t.Errorf("pages = %v, want a sign-in, then only consent pages", got)
	}
	if codes := c.Codes(); len(codes) != 0 {
		t.Errorf("codes received after a denial: %d", len(codes))
	}
	if ts, _ := c.Handler.TokenSource(ctx); ts != nil {
		t.Error("the client holds a token source after a denial")
	}
}
