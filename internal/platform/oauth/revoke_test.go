package oauth

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/mcp-obs/mcp-obs/internal/platform/clientauth"
	"github.com/mcp-obs/mcp-obs/internal/secret"
)

// revoke posts an RFC 7009 request as client c.
func (e *testEnv) revoke(tn *tenant, c *testClient, token, hint string) jsonAnswer {
	e.t.Helper()
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	return e.clientPost(e.base.Revoke(tn.srv.Slug), c, form)
}

func TestRevoke_AccessTokenBecomesInactive(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	for _, method := range []string{clientauth.MethodNone, clientauth.MethodSecretBasic, clientauth.MethodSecretPost} {
		c := e.newClient(tn, method)
		access, refresh := e.tokens(tn, c, "read")
		if a := e.revoke(tn, c, access, "access_token"); a.status != http.StatusOK || a.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%s: revoke: %d %s", method, a.status, a.raw)
		}
		if e.active(tn, access) {
			t.Fatalf("%s: revoked access token is active", method)
		}
		// Revoking an access token leaves the refresh token usable.
		if a := e.tokenRequest(tn, c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}); a.status != http.StatusOK {
			t.Fatalf("%s: refresh after access-token revocation: %d %s", method, a.status, a.raw)
		}
	}
}

func TestRevoke_RefreshTokenTakesItsAccessTokens(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	c := e.newClient(tn, clientauth.MethodNone)
	access, refresh := e.tokens(tn, c, "read")
	rotated := e.tokenRequest(tn, c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
	if a := e.revoke(tn, c, rotated.str("refresh_token"), ""); a.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", a.status, a.raw)
	}
	for name, tok := range map[string]string{"first access": access, "rotated access": rotated.str("access_token")} {
		if e.active(tn, tok) {
			t.Errorf("%s token still active after its refresh token was revoked", name)
		}
	}
	wantOAuthError(t, e.tokenRequest(tn, c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rotated.str("refresh_token")}}), http.StatusBadRequest, "invalid_grant")
}

func TestRevoke_AnotherClientsTokenIsAnswered200AndKept(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	owner, other := e.newClient(tn, clientauth.MethodNone), e.newClient(tn, clientauth.MethodNone)
	access, _ := e.tokens(tn, owner, "read")
	if a := e.revoke(tn, other, access, ""); a.status != http.StatusOK {
		t.Fatalf("revoke by another client: %d %s", a.status, a.raw)
	}
	if !e.active(tn, access) {
		t.Fatal("another client revoked the token")
	}
	if a := e.revoke(tn, other, secret.New(secret.PrefixAccessToken), ""); a.status != http.StatusOK {
		t.Fatalf("revoking an unknown token: %d", a.status)
	}
}

func TestRevoke_ResourceServerMayRevokeAnyTokenOfItsTenant(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	other := e.newTenant("other")
	c := e.newClient(tn, clientauth.MethodNone)
	access, _ := e.tokens(tn, c, "read")
	if a := e.postForm(e.base.Revoke("other"), url.Values{"token": {access}}, other.rsID, other.rsSecret); a.status != http.StatusOK {
		t.Fatalf("other tenant's resource server: %d", a.status)
	}
	if !e.active(tn, access) {
		t.Fatal("another tenant's resource server revoked the token")
	}
	if a := e.postForm(e.base.Revoke("acme"), url.Values{"token": {access}}, tn.rsID, tn.rsSecret); a.status != http.StatusOK {
		t.Fatalf("resource server revoke: %d %s", a.status, a.raw)
	}
	if e.active(tn, access) {
		t.Fatal("resource server's revocation did not take")
	}
}

func TestRevoke_ConfidentialClientMustAuthenticate(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	c := e.newClient(tn, clientauth.MethodSecretBasic)
	access, _ := e.tokens(tn, c, "read")
	a := e.postForm(e.base.Revoke("acme"), url.Values{"token": {access}}, c.ClientID, "wrong")
	wantOAuthError(t, a, http.StatusUnauthorized, "invalid_client")
	if !e.active(tn, access) {
		t.Fatal("an unauthenticated request revoked the token")
	}
}
