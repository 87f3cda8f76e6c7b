package mcpobs

import "time"

// How long a cached verdict is trusted.
//
// The platform promises that a revoked token stops working within
// revocationWindow. A cached verdict keeps that promise as long as the
// revocation feed is connected: the feed evicts revoked tokens as they are
// revoked. While it is not (the platform restarts, the network drops, the
// feed just reconnected and has not replayed what it missed), a cached
// verdict older than revocationWindow is re-verified at the platform before
// it is served. If the platform cannot answer, the cached verdict is served
// until its CacheTTL ends (stale-if-error) and /health says the promise is not
// held.
const (
	// revocationWindow is the revocation promise, and the age past which a
	// cached verdict is re-verified while the feed cannot vouch for it.
	revocationWindow = time.Second
	// feedCatchUp is how long after a resumed connection the feed is taken to
	// have replayed the revocations it missed: the platform sends them at its
	// first poll, every 200 ms.
	feedCatchUp = time.Second
	// staleWait bounds how long a request waits for the re-verification of a
	// stale cached verdict before it is served that verdict: a hanging
	// platform must not hang the MCP server.
	staleWait = time.Second
	// stalePause: after the platform failed a re-verification (or any
	// introspection), cached verdicts are served without re-verification for
	// this long, so that a failing platform is not asked by every request nor
	// makes each one wait. Any answer from the platform, or a new feed
	// connection, ends the pause.
	stalePause = time.Second
)

// feedConnection describes the open connection to the revocation feed.
type feedConnection struct {
	since time.Time // when it opened, on the introspector's clock
	// coveredFrom is when the feed's unbroken coverage began: the start of
	// this connection, or, when it resumed from the last event id of the one
	// before, that one's coveredFrom (the platform replays what happened in
	// between).
	coveredFrom time.Time
}

// fresh reports whether a verdict the platform was asked for at asked may be
// served at now without asking again: it is younger than the revocation
// window, or the feed has announced every revocation made since.
func (in *introspector) fresh(asked, now time.Time) bool {
	if now.Sub(asked) < revocationWindow {
		return true
	}
	c := in.feedConn.Load()
	if c == nil || asked.Before(c.coveredFrom) {
		return false
	}
	// Asked during this connection: revocations before were in the
	// platform's answer, later ones come over the feed (which starts from the
	// platform's position when it opened). Asked before it, across a resumed
	// gap: only once the replay has had time to arrive.
	return !asked.Before(c.since) || !now.Before(c.since.Add(feedCatchUp))
}

// stalePaused reports whether re-verifications are paused after a failure.
func (in *introspector) stalePaused(now time.Time) bool {
	until := in.staleUntil.Load()
	return until != 0 && now.UnixNano() < until
}

// pauseStale pauses re-verifications for stalePause from now.
func (in *introspector) pauseStale(now time.Time) {
	in.staleUntil.Store(now.Add(stalePause).UnixNano())
}

// platformAnswered records that the platform answered an introspection (or
// the feed connected): re-verifications resume at once.
func (in *introspector) platformAnswered() {
	if in.staleUntil.Load() != 0 {
		in.staleUntil.Store(0)
	}
	if in.platformFailing.Load() {
		in.platformFailing.Store(false)
	}
}

// platformFailed records that an introspection could not be completed.
func (in *introspector) platformFailed(now time.Time) {
	in.platformFailing.Store(true)
	in.pauseStale(now)
}

// revocationState is what /health reports about revocations.
type revocationState struct {
	// feedConnected: a connection to the revocation feed is open.
	feedConnected bool
	// degraded: the feed is down and the platform failed the last
	// introspection, so cached verdicts may be served until their TTL.
	degraded bool
	// window is the promise while it is held: revocationWindow, or less when
	// the cache keeps verdicts for less (0: no cache, every request asks).
	window time.Duration
	// cacheTTL is how long a revoked token may be served when degraded.
	cacheTTL time.Duration
}

// revocations reports the state of revocation for /health.
func (in *introspector) revocations() revocationState {
	connected := in.feedConn.Load() != nil
	return revocationState{
		feedConnected: connected,
		degraded:      !connected && in.platformFailing.Load() && in.cfg.CacheTTL > revocationWindow,
		window:        min(revocationWindow, in.cfg.CacheTTL),
		cacheTTL:      in.cfg.CacheTTL,
	}
}
