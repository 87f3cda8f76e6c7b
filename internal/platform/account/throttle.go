package account

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// throttle counts failures per key in token buckets (golang.org/x/time/rate)
// driven by explicit times, so the service's clock (Options.Now) decides and
// tests can move time. Unlike a request limiter it is asked first and charged
// only on failure, and a success forgets the key.
//
// Memory is bounded: a bucket that has refilled completely is the same as no
// bucket and is dropped by a sweep that runs at most once per refill period,
// and at maxKeys an arbitrary entry is evicted to make room (which can only
// make the limit more lenient for that key, never stricter for anyone).
type throttle struct {
	limit   rate.Limit
	burst   int
	refill  time.Duration // time for an empty bucket to fill up again
	maxKeys int

	mu        sync.Mutex
	buckets   map[string]*rate.Limiter
	lastSweep time.Time
}

// newThrottle allows n failures per window per key, refilling evenly.
func newThrottle(n int, window time.Duration, maxKeys int) *throttle {
	return &throttle{
		limit:   rate.Limit(float64(n) / window.Seconds()),
		burst:   n,
		refill:  window,
		maxKeys: maxKeys,
		buckets: make(map[string]*rate.Limiter),
	}
}

// blocked reports whether key has no failures left at now and, if so, how
// long until it has one again.
func (t *throttle) blocked(key string, now time.Time) (retryAfter time.Duration, isBlocked bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, ok := t.buckets[key]
	if !ok {
		return 0, false
	}
	tokens := b.TokensAt(now)
	if tokens >= 1 {
		return 0, false
	}
	secs := (1 - tokens) / float64(t.limit)
	return time.Duration(math.Ceil(secs)) * time.Second, true
}

// fail charges one failure to key at now.
func (t *throttle) fail(key string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, ok := t.buckets[key]
	if !ok {
		t.sweepLocked(now)
		b = rate.NewLimiter(t.limit, t.burst)
		t.buckets[key] = b
	}
	b.AllowN(now, 1)
}

// reset forgets key's failures, as after a successful sign-in.
func (t *throttle) reset(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.buckets, key)
}

// size is the number of keys tracked.
func (t *throttle) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.buckets)
}

// sweepLocked makes room for a new key.
func (t *throttle) sweepLocked(now time.Time) {
	if now.Sub(t.lastSweep) >= t.refill || len(t.buckets) >= t.maxKeys {
		t.lastSweep = now
		for k, b := range t.buckets {
			if b.TokensAt(now) >= float64(t.burst) {
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
