package users

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// throttle counts failures per key in token buckets (golang.org/x/time/rate)
// driven by explicit times, so the service's clock (Options.Now) decides and
// tests can move time. Unlike a request limiter it is charged only on
// failure, and a success forgets the key.
//
// An attempt reserves its place with begin before the slow work (a bcrypt
// comparison) and settles it with end. A reserved attempt counts against the
// budget until it ends, so a burst of concurrent attempts cannot all pass the
// check before the first of them is charged.
//
// Memory is bounded: a bucket that has refilled completely and has no
// attempt in flight is the same as no bucket and is dropped by a sweep that
// runs at most once per refill period, and at maxKeys an arbitrary entry is
// evicted to make room (which can only make the limit more lenient for that
// key, never stricter for anyone).
type throttle struct {
	limit   rate.Limit
	burst   int
	refill  time.Duration // time for an empty bucket to fill up again
	maxKeys int

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

// bucket is one key's failure allowance and its attempts in flight.
type bucket struct {
	lim     *rate.Limiter
	pending int // attempts begun and not yet ended
}

// newThrottle allows n failures per window per key, refilling evenly.
func newThrottle(n int, window time.Duration, maxKeys int) *throttle {
	return &throttle{
		limit:   rate.Limit(float64(n) / window.Seconds()),
		burst:   n,
		refill:  window,
		maxKeys: maxKeys,
		buckets: make(map[string]*bucket),
	}
}

// begin reserves one attempt for key at now. It reports false, with how
// long until an attempt is possible again, when the failures charged plus
// the attempts in flight leave no allowance. Every successful begin must be
// followed by one end.
func (t *throttle) begin(key string, now time.Time) (retryAfter time.Duration, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.bucketLocked(key, now)
	free := b.lim.TokensAt(now) - float64(b.pending)
	if free < 1 {
		secs := (1 - free) / float64(t.limit)
		return time.Duration(math.Ceil(secs)) * time.Second, false
	}
	b.pending++
	return 0, true
}

// end settles an attempt begun on key, charging one failure if it failed.
func (t *throttle) end(key string, now time.Time, failed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, ok := t.buckets[key]
	if !ok { // evicted while in flight
		if !failed {
			return
		}
		b = t.bucketLocked(key, now)
	} else if b.pending > 0 {
		b.pending--
	}
	if failed {
		b.lim.AllowN(now, 1)
		return
	}
	if b.pending == 0 && b.lim.TokensAt(now) >= float64(t.burst) {
		delete(t.buckets, key)
	}
}

// reset forgets key's failures, as after a successful sign-in. Attempts
// still in flight keep their reservations.
func (t *throttle) reset(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, ok := t.buckets[key]
	if !ok {
		return
	}
	if b.pending == 0 {
		delete(t.buckets, key)
		return
	}
	b.lim = rate.NewLimiter(t.limit, t.burst)
}

// size is the number of keys tracked.
func (t *throttle) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.buckets)
}

// bucketLocked returns key's bucket, making room for and adding a full one
// when there is none.
func (t *throttle) bucketLocked(key string, now time.Time) *bucket {
	b, ok := t.buckets[key]
	if !ok {
		t.sweepLocked(now)
		b = &bucket{lim: rate.NewLimiter(t.limit, t.burst)}
		t.buckets[key] = b
	}
	return b
}

// sweepLocked makes room for a new key.
func (t *throttle) sweepLocked(now time.Time) {
	if now.Sub(t.lastSweep) >= t.refill || len(t.buckets) >= t.maxKeys {
		t.lastSweep = now
		for k, b := range t.buckets {
			if b.pending == 0 && b.lim.TokensAt(now) >= float64(t.burst) {
				delete(t.buckets, k)
			}
		}
	}
	for k := range t.buckets {
		if len(t.buckets) < t.maxKeys {
			break
		}
		delete(t.buckets, k)
	}
}
