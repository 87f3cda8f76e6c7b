package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/secret"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

// TestGoClient_RefreshesShortLivedAccessTokensWithRotation shortens the
// tenant's access-token lifetime below the Go client's early-expiry margin
// (golang.org/x/oauth2 refreshes 10 s before expiry), so the client refreshes
// before its requests: it must keep working without a new sign-in, with a new
// access token, and the refresh token it used must be rotated (marked used)
// on the platform.
func TestGoClient_RefreshesShortLivedAccessTokensWithRotation(t *testing.T) {
	h := startHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h.Tenant.AccessTokenTTL = 5 * time.Second
	if _, err := h.Store.UpdateServer(ctx, h.Tenant.ID, func(sv *store.Server) error {
		sv.AccessTokenTTL = h.Tenant.AccessTokenTTL
		return nil
	}); err != nil {
		t.Fatalf("shorten access-token lifetime: %v", err)
	}
	h.addUser(t, "hank@example.com", "hank-password-1")

	c := connectGoClient(t, ctx, h, "hank@example.com", "hank-password-1")
	first, err := c.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if first.RefreshToken == "" {
		t.Fatal("no refresh token issued to a client registered with the refresh_token grant")
	}
	for i := 0; i < 3; i++ {
		who, err := c.whoami(ctx)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if who.Email != "hank@example.com" {
			t.Fatalf("call %d: whoami = %+v", i, who)
		}
	}
	last, err := c.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if last.AccessToken == first.AccessToken || last.RefreshToken == first.RefreshToken {
		t.Error("the client still holds its first tokens: it never refreshed")
	}
	if n := len(c.AuthURLs()); n != 1 {
		t.Errorf("authorization flows = %d, want 1: refreshing must not need a new sign-in", n)
	}

	tokenPosts := 0
	for _, e := range c.Rec.Exchanges(http.StatusOK) {
		if e.Method == http.MethodPost && e.URL == h.Base.Token(tenantSlug) {
			tokenPosts++
		}
	}
	if tokenPosts < 2 {
		t.Errorf("successful token requests = %d, want the code exchange and at least one refresh", tokenPosts)
	}
	old, err := h.Store.Token(ctx, h.Tenant.ID, secret.Hash(first.RefreshToken))
	if err != nil {
		t.Fatalf("first refresh token in the store: %v", err)
	}
	if old.RotatedAt.IsZero() {
		t.Error("the first refresh token was not marked rotated after use")
	}
}
