package oauth

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/platform/clientauth"
	"github.com/mcp-obs/mcp-obs/internal/secret"
)

func TestIntrospect_ActiveAnswerCarriesIdentityAndAudience(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	c := e.newClient(tn, clientauth.MethodNone)
	access, _ := e.tokens(tn, c, "read", "write")
	a := e.introspect(tn, access)
	now := e.clock.Now().Unix()
	if a.status != http.StatusOK || a.body["active"] != true || a.str("sub") != tn.user.ID || a.str("email") != tn.email ||
		a.str("username") != tn.email || a.str("scope") != "read write" || a.str("aud") != tn.resource ||
		a.str("client_id") != c.ClientID || a.str("iss") != e.base.Issuer("acme") || a.str("token_type") != "Bearer" ||
		a.str("jti") != secret.Hash(access) || a.body["iat"] != float64(now) || a.body["exp"] != float64(now+3600) {
		t.Fatalf("introspection = %s", a.raw)
	}
	if a.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", a.header.Get("Cache-Control"))
	}
	// client_secret_post works too.
	b := e.postForm(e.base.Introspect("acme"), url.Values{"token": {access}, "client_id": {tn.rsID}, "client_secret": {tn.rsSecret}}, "", "")
	if b.body["active"] != true {
		t.Fatalf("client_secret_post introspection = %s", b.raw)
	}
}

func TestIntrospect_NotActiveIsExactlyActiveFalse(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	c := e.newClient(tn, clientauth.MethodNone)
	_, refresh := e.tokens(tn, c, "read")
	revoked, _ := e.tokens(tn, c, "read")
	if _, err := e.store.RevokeToken(context.Background(), tn.srv.ID, secret.Hash(revoked), e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	expiring, _ := e.tokens(tn, c, "read")

	cases := map[string]string{
		"refresh token": refresh,
		"unknown token": secret.New(secret.PrefixAccessToken),
		"revoked token": revoked,
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			if a := e.introspect(tn, tok); a.status != http.StatusOK || a.raw != `{"active":false}` {
				t.Fatalf("got %d %s, want exactly {\"active\":false}", a.status, a.raw)
			}
		})
	}
	e.clock.Advance(time.Hour)
	if a := e.introspect(tn, expiring); a.raw != `{"active":false}` {
		t.Fatalf("expired token: %s", a.raw)
	}
}

func TestIntrospect_RequiresTheTenantsResourceServerCredentials(t *testing.T) {
	e := newEnv(t)
	a := e.newTenant("a")
	b := e.newTenant("b")
	c := e.newClient(a, clientauth.MethodSecretBasic)
	access, _ := e.tokens(a, c, "read")
	tests := []struct {
		name       string
		user, pass string
		form       url.Values
	}{
		{"no credentials", "", "", nil},
		{"wrong secret", a.rsID, "wrong", nil},
		{"right secret, wrong id", "rs_other", a.rsSecret, nil},
		{"tenant B's credentials on tenant A", b.rsID, b.rsSecret, nil},
		{"an OAuth client's credentials", c.ClientID, c.secret, nil},
		{"client_id without secret", "", "", url.Values{"client_id": {a.rsID}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := url.Values{"token": {access}}
			for k, v := range tt.form {
				form[k] = v
			}
			got := e.postForm(e.base.Introspect("a"), form, tt.user, tt.pass)
			wantOAuthError(t, got, http.StatusUnauthorized, "invalid_client")
			if got.header.Get("WWW-Authenticate") == "" {
				t.Error("no WWW-Authenticate challenge")
			}
		})
	}
}

func TestIntrospect_AnotherTenantsTokenIsInactive(t *testing.T) {
	e := newEnv(t)
	a := e.newTenant("a")
	b := e.newTenant("b")
	tokenOfB, _ := e.tokens(b, e.newClient(b, clientauth.MethodNone), "read")
	if got := e.introspect(a, tokenOfB); got.raw != `{"active":false}` {
		t.Fatalf("tenant A introspecting tenant B's token: %s", got.raw)
	}
	if !e.active(b, tokenOfB) {
		t.Fatal("the token is not active at its own tenant")
	}
}
