package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

func newCode(t *testing.T, s store.Grants, serverID string) *store.AuthCode {
	t.Helper()
	c := &store.AuthCode{
		Hash:          secret.Hash(secret.New(secret.PrefixCode)),
		ServerID:      serverID,
		ClientID:      "c1",
		UserID:        "u1",
		RedirectURI:   "http://127.0.0.1:33418/callback",
		CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		Resource:      "http://localhost:3006/mcp",
		Scopes:        []string{"read", "write"},
		CreatedAt:     t0,
		ExpiresAt:     at(10 * time.Minute),
	}
	if err := s.CreateAuthCode(t.Context(), c); err != nil {
		t.Fatalf("CreateAuthCode: %v", err)
	}
	return c
}

var codeCases = rules([]rule[grantRoles]{
	{"AuthCode/RedeemReturnsEveryFieldWithUsedAt", func(t *testing.T, s grantRoles) {
		sv := newServer(t, s, "acme")
		c := newCode(t, s, sv.ID)
		got, err := s.RedeemAuthCode(t.Context(), sv.ID, c.Hash, at(time.Minute))
		noErr(t, "RedeemAuthCode", err)
		want := *c
		want.UsedAt = at(time.Minute)
		equal(t, "redeemed code", got, &want)
	}},
	{"AuthCode/EmptyScopesRoundTrip", func(t *testing.T, s grantRoles) {
		sv := newServer(t, s, "acme")
		c := &store.AuthCode{Hash: "h", ServerID: sv.ID, CreatedAt: t0, ExpiresAt: at(time.Minute)}
		noErr(t, "CreateAuthCode", s.CreateAuthCode(t.Context(), c))
		got, err := s.RedeemAuthCode(t.Context(), sv.ID, "h", t0)
		noErr(t, "RedeemAuthCode", err)
		equal(t, "scopes", got.Scopes, []string{})
	}},
	{"AuthCode/DuplicateHashConflicts", func(t *testing.T, s grantRoles) {
		sv := newServer(t, s, "acme")
		c := newCode(t, s, sv.ID)
		wantErr(t, "second CreateAuthCode", s.CreateAuthCode(t.Context(), c), store.ErrConflict)
	}},
	{"AuthCode/SecondRedeemGetsCodeAndErrCodeUsed", func(t *testing.T, s grantRoles) {
		sv := newServer(t, s, "acme")
		c := newCode(t, s, sv.ID)
		_, err := s.RedeemAuthCode(t.Context(), sv.ID, c.Hash, at(time.Minute))
		noErr(t, "first RedeemAuthCode", err)
		got, err := s.RedeemAuthCode(t.Context(), sv.ID, c.Hash, at(2*time.Minute))
		wantErr(t, "second RedeemAuthCode", err, store.ErrCodeUsed)
		if got == nil {
			t.Fatal("second RedeemAuthCode returned no code; the caller needs it to revoke what the first issued")
		}
		want := *c
		want.UsedAt = at(time.Minute) // the first redemption's time, not overwritten
		equal(t, "code returned with ErrCodeUsed", got, &want)
	}},
	{"AuthCode/UnknownNotFound", func(t *testing.T, s grantRoles) {
		sv := newServer(t, s, "acme")
		_, err := s.RedeemAuthCode(t.Context(), sv.ID, "nope", t0)
		wantErr(t, "RedeemAuthCode(unknown)", err, store.ErrNotFound)
	}},
	{"AuthCode/ExpiredCodeStillRedeemsExpiryIsTheCallers", func(t *testing.T, s grantRoles) {
		sv := newServer(t, s, "acme")
		c := newCode(t, s, sv.ID)
		_, err := s.RedeemAuthCode(t.Context(), sv.ID, c.Hash, at(time.Hour))
		noErr(t, "RedeemAuthCode after expiry", err)
	}},
	{"AuthCode/ConcurrentRedeemExactlyOneSucceeds", func(t *testing.T, s grantRoles) {
		sv := newServer(t, s, "acme")
		c := newCode(t, s, sv.ID)
		const n = 32
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			errs  = make([]error, n)
			codes = make([]*store.AuthCode, n)
		)
		for i := range n {
			wg.Go(func() {
				<-start
				codes[i], errs[i] = s.RedeemAuthCode(t.Context(), sv.ID, c.Hash, at(time.Duration(i+1)*time.Millisecond))
			})
		}
		close(start)
		wg.Wait()
		wins := 0
		var winnerAt time.Time
		for i, err := range errs {
			switch {
			case err == nil:
				wins++
				winnerAt = codes[i].UsedAt
			case errors.Is(err, store.ErrCodeUsed):
				if codes[i] == nil || codes[i].Hash != c.Hash {
					t.Errorf("caller %d: ErrCodeUsed without the code", i)
				}
			default:
				t.Errorf("caller %d: unexpected error %v", i, err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d of %d concurrent redemptions succeeded, want exactly 1", wins, n)
		}
		for i, err := range errs {
			if err != nil && codes[i] != nil && !codes[i].UsedAt.Equal(winnerAt) {
				t.Errorf("caller %d saw UsedAt %v, want the winner's %v", i, codes[i].UsedAt, winnerAt)
			}
		}
	}},
	{"AuthCode/AnotherServersCodeIsUnknownAndNotBurned", func(t *testing.T, s grantRoles) {
		a, b := newServer(t, s, "a"), newServer(t, s, "b")
		c := newCode(t, s, a.ID)
		got, err := s.RedeemAuthCode(t.Context(), b.ID, c.Hash, at(time.Minute))
		wantErr(t, "server A's code redeemed under server B", err, store.ErrNotFound)
		if got != nil {
			t.Errorf("RedeemAuthCode under another server returned the code %+v", got)
		}
		_, err = s.RedeemAuthCode(t.Context(), a.ID, c.Hash, at(2*time.Minute))
		noErr(t, "RedeemAuthCode under its own server after another server's attempt", err)
	}},
	{"AuthCode/AnotherServersUsedCodeIsUnknown", func(t *testing.T, s grantRoles) {
		a, b := newServer(t, s, "a"), newServer(t, s, "b")
		c := newCode(t, s, a.ID)
		_, err := s.RedeemAuthCode(t.Context(), a.ID, c.Hash, at(time.Minute))
		noErr(t, "RedeemAuthCode", err)
		got, err := s.RedeemAuthCode(t.Context(), b.ID, c.Hash, at(2*time.Minute))
		wantErr(t, "server A's used code redeemed under server B", err, store.ErrNotFound)
		if errors.Is(err, store.ErrCodeUsed) || got != nil {
			t.Errorf("another server learned the code was used: %v, %+v", err, got)
		}
	}},
	{"AuthCode/IssueCodeTokensStoresThem", func(t *testing.T, s grantRoles) {
		sv := newServer(t, s, "acme")
		c := newCode(t, s, sv.ID)
		_, err := s.RedeemAuthCode(t.Context(), sv.ID, c.Hash, at(time.Minute))
		noErr(t, "RedeemAuthCode", err)
		access := newToken(tokenFixture{serverID: sv.ID, family: "f1", code: c.Hash})
		refresh := newToken(tokenFixture{kind: store.KindRefresh, serverID: sv.ID, family: "f1", code: c.Hash})
		noErr(t, "IssueCodeTokens", s.IssueCodeTokens(t.Context(), sv.ID, c.Hash, access, refresh))
		equal(t, "access token", mustToken(t, s, sv.ID, access.Hash), access)
		equal(t, "refresh token", mustToken(t, s, sv.ID, refresh.Hash), refresh)
	}},
	{"AuthCode/IssueCodeTokensIsAllOrNothing", func(t *testing.T, s grantRoles) {
		sv := newServer(t, s, "acme")
		c := newCode(t, s, sv.ID)
		existing := newToken(tokenFixture{serverID: sv.ID, family: "f0"})
		issue(t, s, existing)
		fresh := newToken(tokenFixture{serverID: sv.ID, family: "f1", code: c.Hash})
		wantErr(t, "IssueCodeTokens with a duplicate", s.IssueCodeTokens(t.Context(), sv.ID, c.Hash, fresh, existing), store.ErrConflict)
		_, err := s.Token(t.Context(), sv.ID, fresh.Hash)
		wantErr(t, "the batch's other token", err, store.ErrNotFound)
	}},
	{"AuthCode/IssueAfterRevokeByCodeIsRefused", func(t *testing.T, s grantRoles) {
		sv := newServer(t, s, "acme")
		c := newCode(t, s, sv.ID)
		_, err := s.RedeemAuthCode(t.Context(), sv.ID, c.Hash, at(time.Minute))
		noErr(t, "RedeemAuthCode", err)
		_, err = s.RevokeByCode(t.Context(), sv.ID, c.Hash, at(2*time.Minute))
		noErr(t, "RevokeByCode", err)
		tok := newToken(tokenFixture{serverID: sv.ID, family: "f1", code: c.Hash})
		wantErr(t, "IssueCodeTokens after RevokeByCode", s.IssueCodeTokens(t.Context(), sv.ID, c.Hash, tok), store.ErrCodeRevoked)
		_, err = s.Token(t.Context(), sv.ID, tok.Hash)
		wantErr(t, "token refused by IssueCodeTokens", err, store.ErrNotFound)
		got, err := s.RedeemAuthCode(t.Context(), sv.ID, c.Hash, at(3*time.Minute))
		wantErr(t, "RedeemAuthCode of the revoked code", err, store.ErrCodeUsed)
		if got == nil {
			t.Fatal("RedeemAuthCode returned no code")
		}
		equal(t, "RevokedAt", got.RevokedAt, at(2*time.Minute))
		// A second replay keeps the first mark.
		_, err = s.RevokeByCode(t.Context(), sv.ID, c.Hash, at(4*time.Minute))
		noErr(t, "second RevokeByCode", err)
		got, _ = s.RedeemAuthCode(t.Context(), sv.ID, c.Hash, at(5*time.Minute))
		equal(t, "RevokedAt after a second RevokeByCode", got.RevokedAt, at(2*time.Minute))
	}},
	{"AuthCode/IssueForAnotherServersCodeIsNotFound", func(t *testing.T, s grantRoles) {
		a, b := newServer(t, s, "a"), newServer(t, s, "b")
		c := newCode(t, s, a.ID)
		tok := newToken(tokenFixture{serverID: b.ID, family: "f1", code: c.Hash})
		wantErr(t, "IssueCodeTokens under another server", s.IssueCodeTokens(t.Context(), b.ID, c.Hash, tok), store.ErrNotFound)
		_, err := s.Token(t.Context(), b.ID, tok.Hash)
		wantErr(t, "token refused by IssueCodeTokens", err, store.ErrNotFound)
		wantErr(t, "IssueCodeTokens of an unknown code", s.IssueCodeTokens(t.Context(), a.ID, "nope", tok), store.ErrNotFound)
	}},
	{"AuthCode/ConcurrentIssueAndRevokeByCodeLeaveNothingLive", func(t *testing.T, s grantRoles) {
		sv := newServer(t, s, "acme")
		for round := range 30 {
			c := newCode(t, s, sv.ID)
			_, err := s.RedeemAuthCode(t.Context(), sv.ID, c.Hash, at(time.Minute))
			noErr(t, "RedeemAuthCode", err)
			tokens := []*store.Token{
				newToken(tokenFixture{serverID: sv.ID, family: c.Hash, code: c.Hash}),
				newToken(tokenFixture{kind: store.KindRefresh, serverID: sv.ID, family: c.Hash, code: c.Hash}),
			}
			var (
				wg               sync.WaitGroup
				start            = make(chan struct{})
				issueErr, revErr error
			)
			wg.Go(func() {
				<-start
				issueErr = s.IssueCodeTokens(t.Context(), sv.ID, c.Hash, tokens...)
			})
			wg.Go(func() {
				<-start
				_, revErr = s.RevokeByCode(t.Context(), sv.ID, c.Hash, at(time.Minute))
			})
			close(start)
			wg.Wait()
			noErr(t, "RevokeByCode", revErr)
			if issueErr != nil && !errors.Is(issueErr, store.ErrCodeRevoked) {
				t.Fatalf("IssueCodeTokens: %v", issueErr)
			}
			if n := liveCount(t, s, tokens...); n != 0 {
				t.Fatalf("round %d: %d tokens issued from a replayed code are live (issue error %v)", round, n, issueErr)
			}
		}
	}},
})
