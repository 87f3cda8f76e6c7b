package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

var tokenCases = []testCase{
	{"Token/RoundTripsEveryField", func(t *testing.T, s store.Store) {
		sv := newServer(t, s, "acme")
		access := &store.Token{
			Hash: "a1", Kind: store.KindAccess, ServerID: sv.ID, ClientID: "c1", UserID: "u1",
			Scopes: []string{"tools:read", "tools:write"}, Resource: "http://localhost:3006/mcp",
			FamilyID: "f1", CodeHash: "code1", IssuedAt: t0, ExpiresAt: at(time.Hour),
		}
		refresh := &store.Token{
			Hash: "r1", Kind: store.KindRefresh, ServerID: sv.ID, ClientID: "c1", UserID: "u1",
			Scopes: []string{"tools:read"}, Resource: "http://localhost:3006/mcp",
			FamilyID: "f1", CodeHash: "code1", IssuedAt: t0, ExpiresAt: at(720 * time.Hour),
			RevokedAt: at(2 * time.Minute), RotatedAt: at(time.Minute),
		}
		issue(t, s, access, refresh)
		equal(t, "access token", mustToken(t, s, "a1"), access)
		equal(t, "refresh token", mustToken(t, s, "r1"), refresh)
	}},
	{"Token/ZeroTimesAndEmptyScopesRoundTrip", func(t *testing.T, s store.Store) {
		sv := newServer(t, s, "acme")
		tok := &store.Token{Hash: "a1", Kind: store.KindAccess, ServerID: sv.ID, FamilyID: "f1"}
		issue(t, s, tok)
		want := *tok
		want.Scopes = []string{}
		equal(t, "token", mustToken(t, s, "a1"), &want)
	}},
	{"Token/UnknownNotFound", func(t *testing.T, s store.Store) {
		_, err := s.Token(t.Context(), "nope")
		wantErr(t, "Token(unknown)", err, store.ErrNotFound)
	}},
	{"Token/IssueIsAllOrNothing", func(t *testing.T, s store.Store) {
		sv := newServer(t, s, "acme")
		existing := newToken(tokenFixture{serverID: sv.ID, family: "f0"})
		issue(t, s, existing)
		fresh := newToken(tokenFixture{serverID: sv.ID, family: "f1"})
		err := s.IssueTokens(t.Context(), fresh, existing)
		wantErr(t, "IssueTokens with a duplicate", err, store.ErrConflict)
		_, err = s.Token(t.Context(), fresh.Hash)
		wantErr(t, "the batch's other token", err, store.ErrNotFound)
	}},
	{"Token/IssueNothingIsNoError", func(t *testing.T, s store.Store) {
		noErr(t, "IssueTokens()", s.IssueTokens(t.Context()))
	}},
	{"RefreshToken/FirstUseSeesZeroRotatedAtLaterUsesSeeIt", func(t *testing.T, s store.Store) {
		sv := newServer(t, s, "acme")
		rt := newToken(tokenFixture{kind: store.KindRefresh, serverID: sv.ID, family: "f1"})
		issue(t, s, rt)
		got, err := s.UseRefreshToken(t.Context(), rt.Hash, at(time.Minute))
		noErr(t, "first UseRefreshToken", err)
		equal(t, "token before first use", got, rt)
		equal(t, "stored RotatedAt", mustToken(t, s, rt.Hash).RotatedAt, at(time.Minute))

		got, err = s.UseRefreshToken(t.Context(), rt.Hash, at(2*time.Minute))
		noErr(t, "second UseRefreshToken", err)
		equal(t, "RotatedAt seen by second use", got.RotatedAt, at(time.Minute))
		equal(t, "stored RotatedAt after second use", mustToken(t, s, rt.Hash).RotatedAt, at(time.Minute))
	}},
	{"RefreshToken/UnknownNotFound", func(t *testing.T, s store.Store) {
		_, err := s.UseRefreshToken(t.Context(), "nope", t0)
		wantErr(t, "UseRefreshToken(unknown)", err, store.ErrNotFound)
	}},
	{"RefreshToken/ConcurrentUseExactlyOneIsFirst", func(t *testing.T, s store.Store) {
		sv := newServer(t, s, "acme")
		rt := newToken(tokenFixture{kind: store.KindRefresh, serverID: sv.ID, family: "f1"})
		issue(t, s, rt)
		const n = 16
		var (
			wg     sync.WaitGroup
			start  = make(chan struct{})
			mu     sync.Mutex
			firsts int
			errs   []error
		)
		for i := range n {
			wg.Go(func() {
				<-start
				got, err := s.UseRefreshToken(t.Context(), rt.Hash, at(time.Duration(i+1)*time.Second))
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				if got.RotatedAt.IsZero() {
					firsts++
				}
			})
		}
		close(start)
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("UseRefreshToken: %v", err)
		}
		if firsts != 1 {
			t.Errorf("%d of %d concurrent uses saw a zero RotatedAt, want exactly 1", firsts, n)
		}
	}},
}
