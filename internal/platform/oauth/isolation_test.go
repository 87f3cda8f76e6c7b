package oauth

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/mcp-obs/mcp-obs/internal/platform/clientauth"
)

// A used code of tenant "test", replayed at tenant "other" by the attacker's
// own client there with a verifier of the attacker's choosing, is unknown at
// "other": it is refused, and nothing of "test" is revoked.
func TestToken_CodeReplayedAtAnotherTenantRevokesNothing(t *testing.T) {
	e := newEnv(t)
	victim := e.newTenant("test")
	attacker := e.newTenant("other")
	vc := e.newClient(victim, clientauth.MethodNone)
	ac := e.newClient(attacker, clientauth.MethodNone)
	code, verifier := e.mintCode(victim, vc, "read")
	first := e.exchange(victim, vc, code, verifier)
	if first.status != http.StatusOK {
		t.Fatalf("victim's exchange: %d %s", first.status, first.raw)
	}

	_, attackerVerifier := pkcePair()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {attackerVerifier},
		"redirect_uri": {ac.RedirectURIs[0]}}
	wantOAuthError(t, e.tokenRequest(attacker, ac, form), http.StatusBadRequest, "invalid_grant")

	if !e.active(victim, first.str("access_token")) {
		t.Error("the victim's access token was revoked by a replay at another tenant")
	}
	if seq, err := e.store.LatestRevocationSeq(t.Context(), victim.srv.ID); err != nil || seq != 0 {
		t.Errorf("the victim's revocation feed moved to %d (err %v), want nothing revoked", seq, err)
	}
	refresh := e.tokenRequest(victim, vc, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.str("refresh_token")}})
	if refresh.status != http.StatusOK {
		t.Errorf("the victim's refresh token after the replay: %d %s", refresh.status, refresh.raw)
	}
}

// An unused code presented at another tenant is unknown there: the attempt
// does not burn it, and its own client still redeems it.
func TestToken_CodePresentedAtAnotherTenantIsNotBurned(t *testing.T) {
	e := newEnv(t)
	victim := e.newTenant("test")
	attacker := e.newTenant("other")
	vc := e.newClient(victim, clientauth.MethodNone)
	ac := e.newClient(attacker, clientauth.MethodNone)
	code, verifier := e.mintCode(victim, vc, "read")

	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier},
		"redirect_uri": {ac.RedirectURIs[0]}}
	a := e.tokenRequest(attacker, ac, form)
	wantOAuthError(t, a, http.StatusBadRequest, "invalid_grant")
	if got := a.str("error_description"); got != "unknown authorization code" {
		t.Errorf("error_description = %q, want the answer for an unknown code", got)
	}
	if got := e.exchange(victim, vc, code, verifier); got.status != http.StatusOK {
		t.Fatalf("the code's own client after another tenant's attempt: %d %s", got.status, got.raw)
	}
}
