package mcpobs

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

// stalenessFixture is an introspector on a fake clock with one active token
// cached at the clock's start.
type stalenessFixture struct {
	fp    *fakePlatform
	in    *introspector
	clock *fakeClock
	token string
}

func newStalenessFixture(t *testing.T) *stalenessFixture {
	t.Helper()
	fp := newFakePlatform(t)
	clock := newFakeClock()
	in, _ := newTestIntrospector(t, fp, nil) // CacheTTL: the default minute
	in.now = clock.now
	f := &stalenessFixture{fp: fp, in: in, clock: clock, token: newToken()}
	fp.answer(f.token, activeAnswer(fp))
	f.verify(t, nil, 1)
	return f
}

// verify checks Verify's error (nil, or one it must wrap) and the number of
// introspections made so far.
func (f *stalenessFixture) verify(t *testing.T, wantErr error, wantCalls int64) {
	t.Helper()
	u, err := f.in.Verify(t.Context(), f.token, testClient)
	switch {
	case wantErr == nil && (err != nil || u == nil || u.Subject != "user-1"):
		t.Fatalf("Verify = %+v, %v; want user-1", u, err)
	case wantErr != nil && !errors.Is(err, wantErr):
		t.Fatalf("Verify error = %v, want %v", err, wantErr)
	}
	if n := f.fp.calls.Load(); n != wantCalls {
		t.Fatalf("introspections = %d, want %d", n, wantCalls)
	}
}

func TestVerify_FeedDownCachedVerdictOlderThanOneSecondIsReverifiedAndARevokedOneRefused(t *testing.T) {
	f := newStalenessFixture(t) // no revocation feed is followed: it is down
	f.clock.advance(revocationWindow - time.Millisecond)
	f.verify(t, nil, 1) // younger than the window: from the cache
	f.clock.advance(time.Millisecond)
	f.verify(t, nil, 2) // a second old: asked again, still active
	f.clock.advance(revocationWindow / 2)
	f.verify(t, nil, 2) // the fresh answer is cached in turn

	f.fp.answer(f.token, map[string]any{"active": false}) // revoked on the platform
	f.clock.advance(revocationWindow)
	f.verify(t, errTokenInactive, 3)
	f.verify(t, errTokenInactive, 3) // the verdict replaced the cached user
}

func TestVerify_FeedUpCachedVerdictIsServedFromCacheUntilCacheTTL(t *testing.T) {
	fp := newFakePlatform(t)
	newFakeFeed(fp, "retry: 1000\n\n")
	clock := newFakeClock()
	in, _ := newTestIntrospector(t, fp, nil)
	in.now = clock.now
	follow(t, in, fp.feedURL())
	waitFor(t, 10*time.Second, "the feed to connect", func() bool { return in.feedConnects.Load() == 1 })
	f := &stalenessFixture{fp: fp, in: in, clock: clock, token: newToken()}
	fp.answer(f.token, activeAnswer(fp))

	f.verify(t, nil, 1)
	f.clock.advance(DefaultCacheTTL - time.Millisecond)
	f.verify(t, nil, 1) // the feed would have evicted it: trusted for the whole TTL
	f.clock.advance(time.Millisecond)
	f.verify(t, nil, 2)
}

func TestVerify_VerdictCachedBeforeTheFirstFeedConnectionIsReverifiedOnce(t *testing.T) {
	// The first connection replays nothing: a revocation between the
	// verification and the connection would never be announced.
	f := newStalenessFixture(t)
	f.clock.advance(time.Millisecond) // the feed opens after the verification
	newFakeFeed(f.fp, "")
	follow(t, f.in, f.fp.feedURL())
	waitFor(t, 10*time.Second, "the feed to connect", func() bool { return f.in.feedConnects.Load() == 1 })
	f.clock.advance(2 * revocationWindow)
	f.verify(t, nil, 2) // re-verified while the feed is up
	f.clock.advance(30 * time.Second)
	f.verify(t, nil, 2) // then covered by the feed
}

func TestVerify_AfterAResumedReconnectionOlderVerdictsAreReverifiedUntilTheReplayHadTimeToArrive(t *testing.T) {
	fp := newFakePlatform(t)
	feed := newFakeFeed(fp, "retry: 20\n\n")
	clock := newFakeClock()
	in, _ := newTestIntrospector(t, fp, nil)
	in.now = clock.now
	fastFeed(in)
	follow(t, in, fp.feedURL())
	waitFor(t, 10*time.Second, "the feed to connect", func() bool { return in.feedConnects.Load() == 1 })
	a, b, gone := newToken(), newToken(), newToken()
	for _, tok := range []string{a, b, gone} {
		fp.answer(tok, activeAnswer(fp))
		verifyCached(t, in, tok)
	}
	feed.send(t, revokedEvent(7, gone)) // gives the stream a resume point
	waitFor(t, 10*time.Second, "event 7 to be applied", func() bool { return !cached(in, gone) })
	clock.advance(2 * revocationWindow)
	calls := fp.calls.Load()

	feed.dropStream(t)
	waitFor(t, 10*time.Second, "the feed to resume", func() bool { return in.feedConnects.Load() == 2 })
	if got := feed.connections()[1].Get("Last-Event-ID"); got != "7" {
		t.Fatalf("reconnection sent Last-Event-ID %q, want 7", got)
	}
	// Revocations made during the gap arrive with the platform's next poll;
	// until then a verdict from before the gap is asked about again.
	if _, err := in.Verify(t.Context(), a, testClient); err != nil || fp.calls.Load() != calls+1 {
		t.Fatalf("during catch-up: Verify = %v, introspections %d; want a re-verification (%d)", err, fp.calls.Load(), calls+1)
	}
	clock.advance(feedCatchUp)
	if _, err := in.Verify(t.Context(), b, testClient); err != nil || fp.calls.Load() != calls+1 {
		t.Fatalf("after catch-up: Verify = %v, introspections %d; want a cache hit", err, fp.calls.Load())
	}
}

func TestVerify_FeedDownAndPlatformUnreachableServesCachedVerdictUntilCacheTTL(t *testing.T) {
	f := newStalenessFixture(t)
	f.fp.setHandler(func(w http.ResponseWriter, r *http.Request, _ int64) {
		http.Error(w, "restarting", http.StatusServiceUnavailable)
	})
	f.clock.advance(2 * revocationWindow)
	f.verify(t, nil, 2) // re-verification failed: the cached verdict is served
	f.verify(t, nil, 2) // and for stalePause the platform is not asked again
	if rs := f.in.revocations(); rs.feedConnected || !rs.degraded || rs.cacheTTL != DefaultCacheTTL {
		t.Fatalf("revocations() = %+v, want disconnected and degraded up to %s", rs, DefaultCacheTTL)
	}
	f.clock.advance(stalePause)
	f.verify(t, nil, 3) // asked again, failed again, served again

	f.clock.advance(DefaultCacheTTL - 2*revocationWindow - stalePause) // the cached verdict has now expired
	f.verify(t, errPlatformUnavailable, 4)

	f.fp.setHandler(nil) // the platform is back: the next answer ends the degraded state
	f.verify(t, nil, 5)
	if rs := f.in.revocations(); rs.degraded {
		t.Errorf("revocations() = %+v after the platform answered, want not degraded", rs)
	}
}

func TestVerify_HangingPlatformNeitherHangsRequestsForCachedTokensNorIsAskedByEach(t *testing.T) {
	f := newStalenessFixture(t)
	f.in.staleWait = 20 * time.Millisecond
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	f.fp.setHandler(func(w http.ResponseWriter, r *http.Request, _ int64) {
		<-release // accepts the connection, never answers
	})
	f.clock.advance(2 * revocationWindow)
	f.verify(t, nil, 2) // waited staleWait for the re-verification, then served from the cache
	f.verify(t, nil, 2) // paused: served at once
	f.clock.advance(stalePause)
	f.verify(t, nil, 2) // joins the re-verification still in flight instead of starting another
}

func TestHealth_ReportsRevocationFeedAndFreshnessAndServesCachedTokensWhileFeedAndPlatformAreDown(t *testing.T) {
	p := startPlatformFake(t)
	clock := newFakeClock()
	ps := startProtectedWithClock(t, p, clock, nil)
	in := ps.obs.loaded().verifier.(*introspector)
	waitFor(t, 10*time.Second, "the feed to connect", func() bool { return in.feedConn.Load() != nil })
	if rep := getHealth(t, ps.srv.URL); rep.Status != "ok" || rep.Revocations != (healthRevocations{Feed: "connected", Freshness: "1s"}) {
		t.Fatalf("health with the feed up = %+v, want ok, connected, 1s", rep)
	}
	p.issue(accessToken("good"), "user-1", "user@example.com", "read", "write")
	if resp, body := doMCP(t, ps, http.MethodPost, "Bearer "+accessToken("good"), `{}`); resp.StatusCode != 200 {
		t.Fatalf("status %d %s", resp.StatusCode, body)
	}

	p.down.Store(true) // the platform restarts: the stream ends, nothing answers
	p.dropFeeds()
	waitFor(t, 10*time.Second, "the feed to notice", func() bool { return in.feedConn.Load() == nil })
	clock.advance(2 * revocationWindow)
	if resp, body := doMCP(t, ps, http.MethodPost, "Bearer "+accessToken("good"), `{}`); resp.StatusCode != 200 {
		t.Fatalf("cached token while the platform restarts: status %d %s, want 200 (stale-if-error)", resp.StatusCode, body)
	}
	rep := getHealth(t, ps.srv.URL)
	if rep.Status != "degraded" || rep.Revocations != (healthRevocations{Feed: "disconnected", Freshness: "up to 1m0s"}) {
		t.Fatalf("health while feed and platform are down = %+v, want degraded, disconnected, up to 1m0s", rep)
	}

	p.down.Store(false)
	waitFor(t, 10*time.Second, "the feed to reconnect", func() bool { return in.feedConn.Load() != nil })
	if rep := getHealth(t, ps.srv.URL); rep.Revocations != (healthRevocations{Feed: "connected", Freshness: "1s"}) {
		t.Fatalf("health after the platform came back = %+v, want connected, 1s", rep.Revocations)
	}
}

func TestHealth_FeedDownButPlatformAnsweringKeepsTheOneSecondPromise(t *testing.T) {
	p := startPlatformFake(t)
	clock := newFakeClock()
	ps := startProtectedWithClock(t, p, clock, func(in *introspector) {
		in.feed = feedSettings{minBackoff: time.Hour, maxBackoff: time.Hour, idleTimeout: time.Hour}
	})
	in := ps.obs.loaded().verifier.(*introspector)
	waitFor(t, 10*time.Second, "the feed to connect", func() bool { return in.feedConn.Load() != nil })
	p.dropFeeds() // and no reconnection for an hour
	waitFor(t, 10*time.Second, "the feed to notice", func() bool { return in.feedConn.Load() == nil })
	if rep := getHealth(t, ps.srv.URL); rep.Status != "ok" || rep.Revocations != (healthRevocations{Feed: "disconnected", Freshness: "1s"}) {
		t.Fatalf("health = %+v, want ok, disconnected, 1s: cached tokens are re-verified, the promise holds", rep)
	}
}
