package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/oauth2"
)

// TestProxyFlow_ClientTreatingMCPOriginAsAuthorizationServer drives the whole
// OAuth flow through the MCP server's own endpoints, as the seed's diagram
// shows for clients that take the MCP origin for the authorization server:
// metadata, registration, authorization (redirected to the platform), token
// and revocation all go to the MCP server, which proxies them to the tenant.
func TestProxyFlow_ClientTreatingMCPOriginAsAuthorizationServer(t *testing.T) {
	h := startHarness(t)
	ivan := h.addUser(t, "ivan@example.com", "ivan-password-1")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var meta struct {
		Issuer                string `json:"issuer"`
		AuthorizationEndpoint string `json:"authorization_endpoint"`
		TokenEndpoint         string `json:"token_endpoint"`
		RegistrationEndpoint  string `json:"registration_endpoint"`
		RevocationEndpoint    string `json:"revocation_endpoint"`
	}
	if resp := getJSON(t, h.MCPOrigin+"/.well-known/oauth-authorization-server", &meta); resp.StatusCode != http.StatusOK {
		t.FailNow()
	}
	if meta.Issuer != h.Issuer() {
		t.Errorf("proxied metadata issuer = %q, want the tenant's %q unchanged", meta.Issuer, h.Issuer())
	}
	for name, got := range map[string]string{
		"authorization_endpoint": meta.AuthorizationEndpoint,
		"token_endpoint":         meta.TokenEndpoint,
		"registration_endpoint":  meta.RegistrationEndpoint,
		"revocation_endpoint":    meta.RevocationEndpoint,
	} {
		if u, err := url.Parse(got); err != nil || u.Scheme+"://"+u.Host != h.MCPOrigin {
			t.Errorf("proxied metadata %s = %q, want an endpoint on the MCP server %s", name, got, h.MCPOrigin)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	reg, _ := json.Marshal(map[string]any{
		"client_name":                "proxy-flow client",
		"redirect_uris":              []string{callbackURL},
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"token_endpoint_auth_method": "none",
	})
	resp, err := http.Post(meta.RegistrationEndpoint, "application/json", bytes.NewReader(reg))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var client struct {
		ClientID string `json:"client_id"`
	}
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &client) != nil || client.ClientID == "" {
		t.Fatalf("register through the proxy = %d %s, want 201 with a client_id", resp.StatusCode, snippet(body))
	}

	cfg := &oauth2.Config{
		ClientID:    client.ClientID,
		Endpoint:    oauth2.Endpoint{AuthURL: meta.AuthorizationEndpoint, TokenURL: meta.TokenEndpoint, AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: callbackURL,
		Scopes:      requiredScopes,
	}
	verifier, state := oauth2.GenerateVerifier(), rand.Text()
	authURL := cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("resource", h.MCPURL))
	b := newBrowser("ivan@example.com", "ivan-password-1")
	cb, err := b.authorize(ctx, authURL)
	if err != nil {
		t.Fatalf("authorize through the proxy: %v", err)
	}
	q := cb.Query()
	if q.Get("state") != state || q.Get("code") == "" {
		t.Fatalf("callback %s: want a code and state %q", cb.Redacted(), state)
	}
	if q.Get("iss") != h.Issuer() {
		t.Errorf("callback iss = %q, want %q", q.Get("iss"), h.Issuer())
	}

	tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", h.MCPURL))
	if err != nil {
		t.Fatalf("token exchange through the proxy: %v", err)
	}

	// A plain MCP client with the bearer token, no OAuth handler.
	session, err := mcp.NewClient(&mcp.Implementation{Name: "proxy-flow", Version: "0"}, nil).Connect(ctx,
		&mcp.StreamableClientTransport{Endpoint: h.MCPURL, HTTPClient: oauth2.NewClient(ctx, oauth2.StaticTokenSource(tok))}, nil)
	if err != nil {
		t.Fatalf("connect with the proxied token: %v", err)
	}
	defer session.Close()
	c := &goClient{Session: session}
	who, err := c.whoami(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if who.Email != "ivan@example.com" || who.Subject != ivan.ID || who.ClientID != client.ClientID {
		t.Errorf("whoami = %+v, want ivan@example.com (%s) through client %s", who, ivan.ID, client.ClientID)
	}

	// Revocation through the proxy really revokes.
	rresp, err := http.PostForm(meta.RevocationEndpoint, url.Values{"token": {tok.AccessToken}, "client_id": {client.ClientID}})
	if err != nil {
		t.Fatal(err)
	}
	rresp.Body.Close()
	if rresp.StatusCode != http.StatusOK {
		t.Fatalf("revoke through the proxy = %d, want 200", rresp.StatusCode)
	}
	waitRefused(t, ctx, h.MCPURL, tok.AccessToken, "the token revoked through the proxy")
}
