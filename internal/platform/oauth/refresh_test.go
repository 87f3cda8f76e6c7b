package oauth

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

func TestRefresh_RotatesAndMayNarrowButNotWiden(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	c := e.newClient(tn, authNone)
	_, refresh := e.tokens(tn, c, "read", "write")

	narrow := e.tokenRequest(tn, c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "scope": {"read"}})
	if narrow.status != http.StatusOK || narrow.str("scope") != "read" || narrow.str("refresh_token") == "" || narrow.str("refresh_token") == refresh {
		t.Fatalf("narrowing refresh: %d %s", narrow.status, narrow.raw)
	}
	// The rotated refresh token keeps the original grant.
	full := e.tokenRequest(tn, c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {narrow.str("refresh_token")}})
	if full.status != http.StatusOK || full.str("scope") != "read write" {
		t.Fatalf("refresh of the rotated token: %d %s", full.status, full.raw)
	}
	wide := e.tokenRequest(tn, c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {full.str("refresh_token")}, "scope": {"read write admin"}})
	wantOAuthError(t, wide, http.StatusBadRequest, "invalid_scope")
	// A refused request does not spend the token.
	again := e.tokenRequest(tn, c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {full.str("refresh_token")}})
	if again.status != http.StatusOK {
		t.Fatalf("refresh after a refused one: %d %s", again.status, again.raw)
	}
	// A scope parameter naming nothing keeps the original grant.
	blank := e.tokenRequest(tn, c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {again.str("refresh_token")}, "scope": {"  , "}})
	if blank.status != http.StatusOK || blank.str("scope") != "read write" {
		t.Fatalf("refresh with a blank scope: %d %s, want the original read write", blank.status, blank.raw)
	}
}

func TestRefresh_ReuseAfterGraceWindowRevokesTheFamily(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	c := e.newClient(tn, authNone)
	access0, refresh := e.tokens(tn, c, "read")
	first := e.tokenRequest(tn, c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
	if first.status != http.StatusOK {
		t.Fatalf("first refresh: %d %s", first.status, first.raw)
	}
	e.clock.Advance(e.h.grace + time.Second)
	wantOAuthError(t, e.tokenRequest(tn, c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}), http.StatusBadRequest, "invalid_grant")
	for name, tok := range map[string]string{"original access": access0, "rotated access": first.str("access_token")} {
		if e.active(tn, tok) {
			t.Errorf("%s token still active after refresh token reuse", name)
		}
	}
	wantOAuthError(t, e.tokenRequest(tn, c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.str("refresh_token")}}), http.StatusBadRequest, "invalid_grant")
}

func TestRefresh_ReuseWithinGraceWindowIsHonoured(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	c := e.newClient(tn, authNone)
	_, refresh := e.tokens(tn, c, "read")
	first := e.tokenRequest(tn, c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
	e.clock.Advance(e.h.grace / 2)
	retry := e.tokenRequest(tn, c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
	if first.status != http.StatusOK || retry.status != http.StatusOK {
		t.Fatalf("first %d %s, retry %d %s", first.status, first.raw, retry.status, retry.raw)
	}
	for _, a := range []jsonAnswer{first, retry} {
		if !e.active(tn, a.str("access_token")) {
			t.Error("a token issued within the grace window is not active")
		}
	}
}

func TestRefresh_TokenOfAnotherClientOrAnAccessTokenIsInvalidGrant(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	a, b := e.newClient(tn, authNone), e.newClient(tn, authNone)
	access, refresh := e.tokens(tn, a, "read")
	wantOAuthError(t, e.tokenRequest(tn, b, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}), http.StatusBadRequest, "invalid_grant")
	wantOAuthError(t, e.tokenRequest(tn, a, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {access}}), http.StatusBadRequest, "invalid_grant")
	// The other client's attempt did not spend it.
	if got := e.tokenRequest(tn, a, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}); got.status != http.StatusOK {
		t.Fatalf("owner's refresh after another client's attempt: %d %s", got.status, got.raw)
	}
}

func TestRefresh_ExpiredRefreshTokenIsInvalidGrant(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	c := e.newClient(tn, authNone)
	_, refresh := e.tokens(tn, c, "read")
	e.clock.Advance(defaultRefreshTokenTTL + time.Second)
	wantOAuthError(t, e.tokenRequest(tn, c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}), http.StatusBadRequest, "invalid_grant")
}
