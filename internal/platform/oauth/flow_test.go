package oauth

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"golang.org/x/oauth2"

	"github.com/mcp-obs/mcp-obs/internal/platform/clientauth"
)

// TestAuthorizationCodeFlow_XOAuth2EndToEnd drives the whole flow as a real
// client and browser would: authorize → sign-in page → consent page → redirect
// with code, state and iss → token exchange with golang.org/x/oauth2 →
// introspection by the resource server. A second authorization of the same
// client and scopes skips the consent page.
func TestAuthorizationCodeFlow_XOAuth2EndToEnd(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	for _, method := range []string{clientauth.MethodNone, clientauth.MethodSecretBasic, clientauth.MethodSecretPost} {
		t.Run(method, func(t *testing.T) {
			e.t = t
			c := e.newClient(tn, method)
			style := map[string]oauth2.AuthStyle{clientauth.MethodNone: oauth2.AuthStyleInParams, clientauth.MethodSecretBasic: oauth2.AuthStyleInHeader, clientauth.MethodSecretPost: oauth2.AuthStyleInParams}[method]
			cfg := &oauth2.Config{
				ClientID:     c.ClientID,
				ClientSecret: c.secret,
				Endpoint:     oauth2.Endpoint{AuthURL: e.base.Authorize("acme"), TokenURL: e.base.Token("acme"), AuthStyle: style},
				RedirectURL:  c.RedirectURIs[0],
				Scopes:       []string{"read", "write"},
			}
			verifier := oauth2.GenerateVerifier()
			authURL := cfg.AuthCodeURL("xyz-state", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("resource", tn.resource))

			b := e.browser()
			p := e.get(b, authURL)
			if !strings.Contains(p.resp.Request.URL.Path, "/t/acme/signin") {
				t.Fatalf("not signed in: want the sign-in page, landed on %s (%d)", p.resp.Request.URL, p.resp.StatusCode)
			}
			p = e.signIn(b, p, tn.email, tn.password)
			if !isConsentPage(p) {
				t.Fatalf("want the consent page after sign-in, got %d at %s:\n%s", p.resp.StatusCode, p.resp.Request.URL, p.body)
			}
			for _, want := range []string{"Test client", "127.0.0.1:9", "read", "write"} {
				if !strings.Contains(p.body, want) {
					t.Errorf("consent page does not show %q", want)
				}
			}
			loc := clientRedirect(t, e.decide(b, p, "approve"))
			if got := loc.Scheme + "://" + loc.Host + loc.Path; got != c.RedirectURIs[0] {
				t.Fatalf("redirected to %s, want %s", got, c.RedirectURIs[0])
			}
			q := loc.Query()
			if q.Get("state") != "xyz-state" || q.Get("iss") != e.base.Issuer("acme") || q.Get("code") == "" {
				t.Fatalf("redirect query = %v, want code, state=xyz-state and iss=%s", q, e.base.Issuer("acme"))
			}

			tok, err := cfg.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", tn.resource))
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if tok.TokenType != "Bearer" || tok.RefreshToken == "" || tok.Expiry.IsZero() || tok.Extra("scope") != "read write" {
				t.Fatalf("token = %+v scope %v, want Bearer with refresh token, expiry and scope", tok, tok.Extra("scope"))
			}

			a := e.introspect(tn, tok.AccessToken)
			if a.body["active"] != true || a.str("sub") != tn.user.ID || a.str("email") != tn.email || a.str("username") != tn.email ||
				a.str("scope") != "read write" || a.str("aud") != tn.resource || a.str("client_id") != c.ClientID ||
				a.str("iss") != e.base.Issuer("acme") || a.str("token_type") != "Bearer" {
				t.Fatalf("introspection = %s", a.raw)
			}

			// Remembered consent: the same browser gets a code straight away.
			verifier2 := oauth2.GenerateVerifier()
			p = e.get(b, cfg.AuthCodeURL("again", oauth2.S256ChallengeOption(verifier2)))
			loc = clientRedirect(t, p)
			if loc.Query().Get("code") == "" || loc.Query().Get("state") != "again" {
				t.Fatalf("second authorization did not skip consent: %s", loc)
			}
			if _, err := cfg.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier2)); err != nil {
				t.Fatalf("second Exchange: %v", err)
			}

			// Refresh through x/oauth2 rotates the refresh token.
			tok.Expiry = tok.Expiry.Add(-2 * defaultAccessTokenTTL)
			fresh, err := cfg.TokenSource(context.Background(), tok).Token()
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == tok.RefreshToken || fresh.RefreshToken == "" {
				t.Fatal("refresh did not rotate the tokens")
			}
			if !e.active(tn, fresh.AccessToken) {
				t.Fatal("refreshed access token is not active")
			}
		})
	}
}

// TestDiscovery_GoSDKReadsMetadataAndRegistersClient checks the official Go
// MCP SDK's discovery and dynamic client registration against the platform.
func TestDiscovery_GoSDKReadsMetadataAndRegistersClient(t *testing.T) {
	e := newEnv(t)
	e.newTenant("acme")
	ctx := context.Background()
	for _, metaURL := range []string{e.base.AuthServerMetadata("acme"), e.base.OpenIDConfiguration("acme")} {
		asm, err := oauthex.GetAuthServerMeta(ctx, metaURL, e.base.Issuer("acme"), http.DefaultClient)
		if err != nil || asm == nil {
			t.Fatalf("GetAuthServerMeta(%s) = %v, %v", metaURL, asm, err)
		}
		if asm.TokenEndpoint != e.base.Token("acme") || asm.RegistrationEndpoint != e.base.Register("acme") {
			t.Fatalf("metadata endpoints = %+v", asm)
		}
	}
	asm, _ := oauthex.GetAuthServerMeta(ctx, e.base.AuthServerMetadata("acme"), e.base.Issuer("acme"), http.DefaultClient)
	reg, err := oauthex.RegisterClient(ctx, asm.RegistrationEndpoint, &oauthex.ClientRegistrationMetadata{
		ClientName:              "Go SDK client",
		RedirectURIs:            []string{"http://localhost:8765/callback"},
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		ResponseTypes:           []string{"code"},
		TokenEndpointAuthMethod: "none",
	}, http.DefaultClient)
	if err != nil {
		t.Fatalf("RegisterClient: %v", err)
	}
	if reg.ClientID == "" {
		t.Fatal("no client_id")
	}
	// The registered client can start an authorization (loopback: any port).
	q := url.Values{"client_id": {reg.ClientID}, "redirect_uri": {"http://localhost:9999/callback"}, "response_type": {"code"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"}}
	p := e.get(e.browser(), asm.AuthorizationEndpoint+"?"+q.Encode())
	if !strings.Contains(p.resp.Request.URL.Path, "/signin") {
		t.Fatalf("registered client's authorization did not reach sign-in: %d %s", p.resp.StatusCode, p.resp.Request.URL)
	}
}
