package oauth

import (
	"database/sql"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mcp-obs/mcp-obs/internal/platform/clientauth"
	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store/sqlite"
)

func TestRefresh_RotatesAndMayNarrowButNotWiden(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	c := e.newClient(tn, clientauth.MethodNone)
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
	c := e.newClient(tn, clientauth.MethodNone)
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

func TestRefresh_TokenOfAnotherClientOrAnAccessTokenIsInvalidGrant(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	a, b := e.newClient(tn, clientauth.MethodNone), e.newClient(tn, clientauth.MethodNone)
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
	c := e.newClient(tn, clientauth.MethodNone)
	_, refresh := e.tokens(tn, c, "read")
	e.clock.Advance(defaultRefreshTokenTTL + time.Second)
	wantOAuthError(t, e.tokenRequest(tn, c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}), http.StatusBadRequest, "invalid_grant")
}

// refreshWith runs the refresh_token grant as c with refresh.
func (e *testEnv) refreshWith(tn *tenant, c *testClient, refresh string) jsonAnswer {
	e.t.Helper()
	return e.tokenRequest(tn, c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
}

// A retry of R0 within the grace window, before R0's successor was used,
// is answered with new tokens and revokes what R0's first use issued, so
// there is always exactly one live chain.
func TestRefresh_RetryWithinGraceRevokesWhatTheFirstUseIssued(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	c := e.newClient(tn, clientauth.MethodNone)
	_, r0 := e.tokens(tn, c, "read")
	first := e.refreshWith(tn, c, r0)
	if first.status != http.StatusOK {
		t.Fatalf("first refresh: %d %s", first.status, first.raw)
	}
	seq, err := e.store.LatestRevocationSeq(t.Context(), tn.srv.ID)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(e.h.grace / 2)
	retry := e.refreshWith(tn, c, r0)
	if retry.status != http.StatusOK {
		t.Fatalf("retry within the grace window: %d %s", retry.status, retry.raw)
	}
	if e.active(tn, first.str("access_token")) {
		t.Error("the first use's access token is still active after the retry")
	}
	if !e.active(tn, retry.str("access_token")) {
		t.Error("the retry's access token is not active")
	}
	wantOAuthError(t, e.refreshWith(tn, c, first.str("refresh_token")), http.StatusBadRequest, "invalid_grant")
	next := e.refreshWith(tn, c, retry.str("refresh_token"))
	if next.status != http.StatusOK {
		t.Fatalf("the retry's refresh token: %d %s", next.status, next.raw)
	}
	feed, err := e.store.Revocations(t.Context(), tn.srv.ID, seq, 0)
	if err != nil {
		t.Fatal(err)
	}
	var fed []string
	for _, r := range feed {
		fed = append(fed, r.TokenHash)
	}
	if want := []string{secret.Hash(first.str("access_token")), secret.Hash(first.str("refresh_token"))}; !sameStrings(fed, want) {
		t.Errorf("feed after the retry = %v, want the first use's access and refresh token %v", fed, want)
	}
}

// A retry of R0 within the grace window after R0's successor was used is
// reuse: the whole family is revoked.
func TestRefresh_RetryWithinGraceAfterTheSuccessorWasUsedRevokesTheFamily(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	c := e.newClient(tn, clientauth.MethodNone)
	_, r0 := e.tokens(tn, c, "read")
	first := e.refreshWith(tn, c, r0)
	second := e.refreshWith(tn, c, first.str("refresh_token"))
	if first.status != http.StatusOK || second.status != http.StatusOK {
		t.Fatalf("refreshes: %d %s, %d %s", first.status, first.raw, second.status, second.raw)
	}
	e.clock.Advance(e.h.grace / 2)
	wantOAuthError(t, e.refreshWith(tn, c, r0), http.StatusBadRequest, "invalid_grant")
	for name, tok := range map[string]string{"first access": first.str("access_token"), "second access": second.str("access_token")} {
		if e.active(tn, tok) {
			t.Errorf("%s token still active after reuse", name)
		}
	}
	wantOAuthError(t, e.refreshWith(tn, c, second.str("refresh_token")), http.StatusBadRequest, "invalid_grant")
}

// Two retries of R0 at once, within the grace window, leave exactly one live
// refresh token: the two do not fork the family.
func TestRefresh_ConcurrentRetriesWithinGraceLeaveOneLiveRefreshToken(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := newEnvOn(t, b.open(t), nil)
			tn := e.newTenant("acme")
			c := e.newClient(tn, clientauth.MethodNone)
			for round := range 10 {
				_, r0 := e.tokens(tn, c, "read")
				refreshes := []string{}
				if round%2 == 0 { // half the rounds: a first use, then two retries
					first := e.refreshWith(tn, c, r0)
					if first.status != http.StatusOK {
						t.Fatalf("first refresh: %d %s", first.status, first.raw)
					}
					refreshes = append(refreshes, first.str("refresh_token"))
				}
				answers := make([]jsonAnswer, 2)
				var g errgroup.Group
				start := make(chan struct{})
				for i := range answers {
					g.Go(func() error {
						<-start
						answers[i] = e.refreshWith(tn, c, r0)
						return nil
					})
				}
				close(start)
				g.Wait()
				for _, a := range answers {
					if a.status != http.StatusOK {
						t.Fatalf("round %d: concurrent refresh within grace: %d %s", round, a.status, a.raw)
					}
					refreshes = append(refreshes, a.str("refresh_token"))
				}
				live := 0
				for _, rt := range refreshes {
					tok, err := e.store.Token(t.Context(), tn.srv.ID, secret.Hash(rt))
					if err != nil {
						t.Fatal(err)
					}
					if tok.RevokedAt.IsZero() {
						live++
					}
				}
				if live != 1 {
					t.Errorf("round %d: %d of the family's %d refresh tokens are live, want exactly 1", round, live, len(refreshes))
				}
			}
		})
	}
}

// sameStrings reports whether a and b hold the same strings, in any order.
func sameStrings(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// A refresh whose new tokens could not be stored (here a failing insert, as
// a crash between two writes would leave things) leaves the refresh token as
// it was: the client's retry, even after the grace window, is a first use,
// not reuse that would cost the user their sign-in.
func TestRefresh_FailedRotationLeavesTheRefreshTokenUnspent(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	c := e.newClient(tn, clientauth.MethodNone)
	_, r0 := e.tokens(tn, c, "read")

	db, err := sql.Open("sqlite", e.store.(*sqlite.Store).Path())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TRIGGER fail_refresh_insert BEFORE INSERT ON tokens WHEN NEW.kind = 'refresh'
	BEGIN SELECT RAISE(ABORT, 'injected failure'); END`); err != nil {
		t.Fatal(err)
	}
	wantOAuthError(t, e.refreshWith(tn, c, r0), http.StatusInternalServerError, "server_error")
	if _, err := db.Exec(`DROP TRIGGER fail_refresh_insert`); err != nil {
		t.Fatal(err)
	}

	e.clock.Advance(e.h.grace + time.Second)
	if a := e.refreshWith(tn, c, r0); a.status != http.StatusOK {
		t.Fatalf("retry after a failed rotation: %d %s, want the refresh honoured", a.status, a.raw)
	}
}
