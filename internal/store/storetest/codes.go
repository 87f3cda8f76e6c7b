package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

func newCode(t *testing.T, s store.Store, serverID string) *store.AuthCode {
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

var codeCases = []testCase{
	{"AuthCode/RedeemReturnsEveryFieldWithUsedAt", func(t *testing.T, s store.Store) {
		sv := newServer(t, s, "acme")
		c := newCode(t, s, sv.ID)
		got, err := s.RedeemAuthCode(t.Context(), c.Hash, at(time.Minute))
		noErr(t, "RedeemAuthCode", err)
		want := *c
		want.UsedAt = at(time.Minute)
		equal(t, "redeemed code", got, &want)
	}},
	{"AuthCode/EmptyScopesRoundTrip", func(t *testing.T, s store.Store) {
		sv := newServer(t, s, "acme")
		c := &store.AuthCode{Hash: "h", ServerID: sv.ID, CreatedAt: t0, ExpiresAt: at(time.Minute)}
		noErr(t, "CreateAuthCode", s.CreateAuthCode(t.Context(), c))
		got, err := s.RedeemAuthCode(t.Context(), "h", t0)
		noErr(t, "RedeemAuthCode", err)
		equal(t, "scopes", got.Scopes, []string{})
	}},
	{"AuthCode/DuplicateHashConflicts", func(t *testing.T, s store.Store) {
		sv := newServer(t, s, "acme")
		c := newCode(t, s, sv.ID)
		wantErr(t, "second CreateAuthCode", s.CreateAuthCode(t.Context(), c), store.ErrConflict)
	}},
	{"AuthCode/SecondRedeemGetsCodeAndErrCodeUsed", func(t *testing.T, s store.Store) {
		sv := newServer(t, s, "acme")
		c := newCode(t, s, sv.ID)
		_, err := s.RedeemAuthCode(t.Context(), c.Hash, at(time.Minute))
		noErr(t, "first RedeemAuthCode", err)
		got, err := s.RedeemAuthCode(t.Context(), c.Hash, at(2*time.Minute))
		wantErr(t, "second RedeemAuthCode", err, store.ErrCodeUsed)
		if got == nil {
			t.Fatal("second RedeemAuthCode returned no code; the caller needs it to revoke what the first issued")
		}
		want := *c
		want.UsedAt = at(time.Minute) // the first redemption's time, not overwritten
		equal(t, "code returned with ErrCodeUsed", got, &want)
	}},
	{"AuthCode/UnknownNotFound", func(t *testing.T, s store.Store) {
		_, err := s.RedeemAuthCode(t.Context(), "nope", t0)
		wantErr(t, "RedeemAuthCode(unknown)", err, store.ErrNotFound)
	}},
	{"AuthCode/ExpiredCodeStillRedeemsExpiryIsTheCallers", func(t *testing.T, s store.Store) {
		sv := newServer(t, s, "acme")
		c := newCode(t, s, sv.ID)
		_, err := s.RedeemAuthCode(t.Context(), c.Hash, at(time.Hour))
		noErr(t, "RedeemAuthCode after expiry", err)
	}},
	{"AuthCode/ConcurrentRedeemExactlyOneSucceeds", func(t *testing.T, s store.Store) {
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
				codes[i], errs[i] = s.RedeemAuthCode(t.Context(), c.Hash, at(time.Duration(i+1)*time.Millisecond))
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
}
