package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// grace is the reuse grace window the rotation rules run with.
const grace = 10 * time.Second

// refreshToken is a live refresh token of client c1 in family.
func refreshToken(serverID, family string) *store.Token {
	return newToken(tokenFixture{kind: store.KindRefresh, serverID: serverID, clientID: "c1", family: family, code: "code-" + family})
}

// successors are the access and refresh token a refresh of rt issues at when.
func successors(rt *store.Token, when time.Time) []*store.Token {
	var out []*store.Token
	for _, kind := range []store.TokenKind{store.KindAccess, store.KindRefresh} {
		t := *rt
		t.Hash = secret.Hash(secret.New(secret.PrefixRefreshToken))
		t.Kind = kind
		t.ParentHash = rt.Hash
		t.IssuedAt, t.ExpiresAt = when, when.Add(time.Hour)
		t.RevokedAt, t.RotatedAt = time.Time{}, time.Time{}
		out = append(out, &t)
	}
	return out
}

// rotate uses rt as client c1 at when, issuing next, and fails the test on an error.
func rotate(t *testing.T, s store.Grants, rt *store.Token, when time.Time, next []*store.Token) *store.Rotation {
	t.Helper()
	rot, err := s.RotateRefreshToken(t.Context(), rt.ServerID, rt.Hash, "c1", when, grace, next...)
	noErr(t, "RotateRefreshToken", err)
	return rot
}

// hashes returns the tokens' hashes.
func hashes(tokens ...*store.Token) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		out[i] = t.Hash
	}
	return out
}

// wantStored fails unless each token is stored (stored) or not (!stored).
func wantStored(t *testing.T, s store.Grants, stored bool, tokens ...*store.Token) {
	t.Helper()
	for _, tok := range tokens {
		_, err := s.Token(t.Context(), tok.ServerID, tok.Hash)
		switch {
		case stored && err != nil:
			t.Errorf("token %s…: %v, want it stored", tok.Hash[:8], err)
		case !stored && !errors.Is(err, store.ErrNotFound):
			t.Errorf("token %s… is stored (err %v), want it not stored", tok.Hash[:8], err)
		}
	}
}

// liveCount counts the tokens that are stored and not revoked.
func liveCount(t *testing.T, s store.Grants, tokens ...*store.Token) int {
	t.Helper()
	n := 0
	for _, tok := range tokens {
		got, err := s.Token(t.Context(), tok.ServerID, tok.Hash)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		noErr(t, "Token", err)
		if got.RevokedAt.IsZero() {
			n++
		}
	}
	return n
}

var rotationCases = rules([]rule[feedRoles]{
	{"RefreshRotation/FirstUseMarksRotatedAndStoresTheNewTokens", func(t *testing.T, s feedRoles) {
		sv := newServer(t, s, "acme")
		rt := refreshToken(sv.ID, "f1")
		issue(t, s, rt)
		next := successors(rt, at(time.Minute))
		rot := rotate(t, s, rt, at(time.Minute), next)
		equal(t, "outcome", rot.Outcome, store.RotationFirstUse)
		equal(t, "token as it was before", rot.Token, rt)
		equal(t, "revoked", len(rot.Revoked), 0)
		equal(t, "stored RotatedAt", mustToken(t, s, sv.ID, rt.Hash).RotatedAt, at(time.Minute))
		for _, n := range next {
			equal(t, "new token", mustToken(t, s, sv.ID, n.Hash), n)
		}
	}},
	{"RefreshRotation/RetryWithinGraceRevokesWhatTheEarlierUseIssued", func(t *testing.T, s feedRoles) {
		sv := newServer(t, s, "acme")
		rt := refreshToken(sv.ID, "f1")
		issue(t, s, rt)
		first := successors(rt, at(time.Minute))
		rotate(t, s, rt, at(time.Minute), first)

		retry := successors(rt, at(time.Minute+5*time.Second))
		rot := rotate(t, s, rt, at(time.Minute+5*time.Second), retry)
		equal(t, "outcome", rot.Outcome, store.RotationRetry)
		equal(t, "RotatedAt seen by the retry", rot.Token.RotatedAt, at(time.Minute))
		if !sameSet(rot.Revoked, hashes(first...)) {
			t.Errorf("retry revoked %v, want the first use's two tokens", rot.Revoked)
		}
		equal(t, "first use's tokens live", liveCount(t, s, first...), 0)
		equal(t, "retry's tokens live", liveCount(t, s, retry...), 2)
		equal(t, "RevokedAt", mustToken(t, s, sv.ID, first[0].Hash).RevokedAt, at(time.Minute+5*time.Second))
		equal(t, "RotatedAt after the retry (the grace window runs from the first use)",
			mustToken(t, s, sv.ID, rt.Hash).RotatedAt, at(time.Minute))
		if feed := feedHashes(t, s, sv.ID); !sameSet(feed, hashes(first...)) {
			t.Errorf("feed = %v, want the first use's two tokens", feed)
		}

		again := successors(rt, at(time.Minute+8*time.Second))
		rot = rotate(t, s, rt, at(time.Minute+8*time.Second), again)
		equal(t, "second retry's outcome", rot.Outcome, store.RotationRetry)
		if !sameSet(rot.Revoked, hashes(retry...)) {
			t.Errorf("second retry revoked %v, want the first retry's two tokens", rot.Revoked)
		}
		equal(t, "live tokens after two retries", liveCount(t, s, append(append(first, retry...), again...)...), 2)
	}},
	{"RefreshRotation/RepeatIsReuseOnlyAfterTheGraceWindow", func(t *testing.T, s feedRoles) {
		for _, c := range []struct {
			name  string
			after time.Duration
			want  store.RotationOutcome
		}{
			{"at the end of the window", grace, store.RotationRetry},
			{"just after it", grace + time.Millisecond, store.RotationReuse},
		} {
			sv := newServer(t, s, "s"+secret.ID()[:8])
			rt := refreshToken(sv.ID, "f-"+sv.ID)
			issue(t, s, rt)
			first := successors(rt, at(time.Minute))
			rotate(t, s, rt, at(time.Minute), first)
			repeat := successors(rt, at(time.Minute+c.after))
			rot := rotate(t, s, rt, at(time.Minute+c.after), repeat)
			equal(t, c.name+": outcome", rot.Outcome, c.want)
			if c.want != store.RotationReuse {
				continue
			}
			wantStored(t, s, false, repeat...)
			equal(t, c.name+": live tokens of the family", liveCount(t, s, append(first, rt)...), 0)
			if !sameSet(rot.Revoked, hashes(append(first, rt)...)) {
				t.Errorf("%s: reuse revoked %v, want the family's three live tokens", c.name, rot.Revoked)
			}
		}
	}},
	{"RefreshRotation/RetryAfterTheSuccessorWasUsedIsReuse", func(t *testing.T, s feedRoles) {
		sv := newServer(t, s, "acme")
		rt := refreshToken(sv.ID, "f1")
		other := refreshToken(sv.ID, "f2")
		issue(t, s, rt, other)
		first := successors(rt, at(time.Minute))
		rotate(t, s, rt, at(time.Minute), first)
		second := successors(first[1], at(time.Minute+time.Second))
		rotate(t, s, first[1], at(time.Minute+time.Second), second)

		repeat := successors(rt, at(time.Minute+2*time.Second))
		rot := rotate(t, s, rt, at(time.Minute+2*time.Second), repeat)
		equal(t, "outcome", rot.Outcome, store.RotationReuse)
		wantStored(t, s, false, repeat...)
		family := append(append([]*store.Token{rt}, first...), second...)
		equal(t, "live tokens of the family", liveCount(t, s, family...), 0)
		if !sameSet(rot.Revoked, hashes(family...)) {
			t.Errorf("reuse revoked %v, want the family's five tokens", rot.Revoked)
		}
		equal(t, "another family's token live", liveCount(t, s, other), 1)
	}},
	{"RefreshRotation/RevokedTokenChangesNothing", func(t *testing.T, s feedRoles) {
		sv := newServer(t, s, "acme")
		rt := refreshToken(sv.ID, "f1")
		issue(t, s, rt)
		_, err := s.RevokeToken(t.Context(), sv.ID, rt.Hash, at(time.Minute))
		noErr(t, "RevokeToken", err)
		next := successors(rt, at(2*time.Minute))
		rot := rotate(t, s, rt, at(2*time.Minute), next)
		equal(t, "outcome", rot.Outcome, store.RotationRevoked)
		wantStored(t, s, false, next...)
		equal(t, "RotatedAt", mustToken(t, s, sv.ID, rt.Hash).RotatedAt.IsZero(), true)
		equal(t, "feed", feedHashes(t, s, sv.ID), []string{rt.Hash})
	}},
	{"RefreshRotation/IsAllOrNothing", func(t *testing.T, s feedRoles) {
		sv := newServer(t, s, "acme")
		rt := refreshToken(sv.ID, "f1")
		existing := newToken(tokenFixture{serverID: sv.ID, family: "f0"})
		issue(t, s, rt, existing)

		// A first use whose insert fails leaves the token unused.
		next := successors(rt, at(time.Minute))
		next[0].Hash = existing.Hash
		_, err := s.RotateRefreshToken(t.Context(), sv.ID, rt.Hash, "c1", at(time.Minute), grace, next...)
		wantErr(t, "first use with a duplicate new token", err, store.ErrConflict)
		equal(t, "RotatedAt after the failed first use", mustToken(t, s, sv.ID, rt.Hash).RotatedAt.IsZero(), true)
		wantStored(t, s, false, next[1])

		// So the client's retry, long after the grace window, is a first use.
		first := successors(rt, at(time.Hour))
		equal(t, "retry's outcome", rotate(t, s, rt, at(time.Hour), first).Outcome, store.RotationFirstUse)

		// A retry whose insert fails revokes nothing.
		retry := successors(rt, at(time.Hour+time.Second))
		retry[1].Hash = existing.Hash
		_, err = s.RotateRefreshToken(t.Context(), sv.ID, rt.Hash, "c1", at(time.Hour+time.Second), grace, retry...)
		wantErr(t, "retry with a duplicate new token", err, store.ErrConflict)
		equal(t, "first use's tokens live after the failed retry", liveCount(t, s, first...), 2)
		wantStored(t, s, false, retry[0])
		equal(t, "feed", len(feedHashes(t, s, sv.ID)), 0)
	}},
	{"RefreshRotation/AnotherServersOrClientsTokenOrAnAccessTokenIsUnknown", func(t *testing.T, s feedRoles) {
		a, b := newServer(t, s, "a"), newServer(t, s, "b")
		rt := refreshToken(a.ID, "f1")
		access := newToken(tokenFixture{serverID: a.ID, clientID: "c1", family: "f1"})
		issue(t, s, rt, access)
		for _, c := range []struct {
			name, serverID, hash, clientID string
		}{
			{"another server's id", b.ID, rt.Hash, "c1"},
			{"another client", a.ID, rt.Hash, "c2"},
			{"an access token", a.ID, access.Hash, "c1"},
			{"an unknown token", a.ID, "nope", "c1"},
		} {
			parent := *rt
			parent.Hash, parent.ServerID = c.hash, c.serverID
			next := successors(&parent, at(time.Minute))
			_, err := s.RotateRefreshToken(t.Context(), c.serverID, c.hash, c.clientID, at(time.Minute), grace, next...)
			wantErr(t, c.name, err, store.ErrNotFound)
			wantStored(t, s, false, next...)
		}
		equal(t, "refresh token after the attempts", mustToken(t, s, a.ID, rt.Hash), rt)
		equal(t, "access token after the attempts", mustToken(t, s, a.ID, access.Hash), access)
		equal(t, "A's feed", len(feedHashes(t, s, a.ID)), 0)
	}},
	{"RefreshRotation/NewTokensMustNameTheUsedTokenAsParent", func(t *testing.T, s feedRoles) {
		sv := newServer(t, s, "acme")
		rt := refreshToken(sv.ID, "f1")
		issue(t, s, rt)
		next := successors(rt, at(time.Minute))
		next[1].ParentHash = ""
		if _, err := s.RotateRefreshToken(t.Context(), sv.ID, rt.Hash, "c1", at(time.Minute), grace, next...); err == nil {
			t.Error("RotateRefreshToken stored a new token that does not name the used one as its parent")
		}
		equal(t, "RotatedAt", mustToken(t, s, sv.ID, rt.Hash).RotatedAt.IsZero(), true)
		wantStored(t, s, false, next...)
	}},
	{"RefreshRotation/ConcurrentUsesLeaveExactlyOneLiveChain", func(t *testing.T, s feedRoles) {
		sv := newServer(t, s, "acme")
		rt := refreshToken(sv.ID, "f1")
		issue(t, s, rt)
		const n = 8
		var (
			wg       sync.WaitGroup
			start    = make(chan struct{})
			outcomes = make([]store.RotationOutcome, n)
			errs     = make([]error, n)
			issued   []*store.Token
		)
		nexts := make([][]*store.Token, n)
		for i := range n {
			nexts[i] = successors(rt, at(time.Minute+time.Duration(i)*time.Millisecond))
			issued = append(issued, nexts[i]...)
			wg.Go(func() {
				<-start
				rot, err := s.RotateRefreshToken(t.Context(), sv.ID, rt.Hash, "c1", at(time.Minute+time.Duration(i)*time.Millisecond), grace, nexts[i]...)
				if errs[i] = err; err == nil {
					outcomes[i] = rot.Outcome
				}
			})
		}
		close(start)
		wg.Wait()
		firsts := 0
		for i, o := range outcomes {
			switch {
			case errs[i] != nil:
				t.Fatalf("caller %d: %v", i, errs[i])
			case o == store.RotationFirstUse:
				firsts++
			case o != store.RotationRetry:
				t.Errorf("caller %d: outcome %v, want a first use or a retry", i, o)
			}
		}
		equal(t, "first uses", firsts, 1)
		equal(t, "live tokens issued by the concurrent uses", liveCount(t, s, issued...), 2)
	}},
	{"RefreshRotation/ConcurrentWithFamilyRevocationLeavesNothingLive", func(t *testing.T, s feedRoles) {
		sv := newServer(t, s, "acme")
		for round := range 30 {
			family := "f" + secret.ID()
			rt := refreshToken(sv.ID, family)
			issue(t, s, rt)
			next := successors(rt, at(time.Minute))
			var wg sync.WaitGroup
			start := make(chan struct{})
			var rotErr, revErr error
			wg.Go(func() {
				<-start
				_, rotErr = s.RotateRefreshToken(t.Context(), sv.ID, rt.Hash, "c1", at(time.Minute), grace, next...)
			})
			wg.Go(func() {
				<-start
				_, revErr = s.RevokeFamily(t.Context(), sv.ID, family, at(time.Minute))
			})
			close(start)
			wg.Wait()
			noErr(t, "RotateRefreshToken", rotErr)
			noErr(t, "RevokeFamily", revErr)
			if n := liveCount(t, s, append(next, rt)...); n != 0 {
				t.Fatalf("round %d: %d tokens of a family revoked during a rotation are live", round, n)
			}
		}
	}},
})
