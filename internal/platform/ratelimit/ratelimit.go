// Package ratelimit throttles requests per key (usually a client address) with
// token buckets from golang.org/x/time/rate, in memory that stays bounded no
// matter how many distinct keys an attacker sends.
package ratelimit

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/mcp-obs/mcp-obs/internal/netaddr"
)

// defaultMaxKeys caps how many keys a Limiter tracks at once. At the cap the
// least useful entries are dropped; see [Limiter.Allow].
const defaultMaxKeys = 100_000

// Limiter allows each key perMinute events on average with bursts of up to
// burst events. It is safe for concurrent use.
//
// Memory is bounded in two ways. A key whose bucket has been idle long enough
// to refill completely is indistinguishable from a key never seen, so it is
// dropped on the next sweep. And the number of tracked keys is capped: when a
// new key arrives at the cap, an arbitrary entry is evicted. Eviction can only
// make the limiter more lenient for the evicted key, never stricter for anyone.
type Limiter struct {
	limit   rate.Limit
	burst   int
	idle    time.Duration // time for an empty bucket to refill completely
	maxKeys int
	now     func() time.Time

	mu        sync.Mutex
	keys      map[string]*entry
	lastSweep time.Time
}

type entry struct {
	lim  *rate.Limiter
	seen time.Time
}

// New returns a Limiter allowing perMinute events per key per minute, with
// bursts of up to burst events (at least 1). A perMinute of zero or less
// disables limiting: Allow always reports true.
func New(perMinute, burst int) *Limiter {
	if burst < 1 {
		burst = 1
	}
	l := &Limiter{
		burst:   burst,
		maxKeys: defaultMaxKeys,
		now:     time.Now,
		keys:    make(map[string]*entry),
	}
	if perMinute <= 0 {
		l.limit = rate.Inf
		return l
	}
	l.limit = rate.Limit(float64(perMinute) / 60)
	l.idle = time.Duration(float64(burst) / float64(l.limit) * float64(time.Second))
	return l
}

// WithClock makes the limiter read the time from now instead of time.Now, so
// that it refills on the same clock as the service using it (and as that
// service's tests). It returns l; call it before the limiter is shared.
func (l *Limiter) WithClock(now func() time.Time) *Limiter {
	if now != nil {
		l.now = now
	}
	return l
}

// Allow reports whether one more event for key may happen now, and counts it
// if so.
func (l *Limiter) Allow(key string) bool {
	if l.limit == rate.Inf {
		return true
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.keys[key]
	if !ok {
		l.sweepLocked(now)
		if len(l.keys) >= l.maxKeys {
			l.evictOneLocked()
		}
		e = &entry{lim: rate.NewLimiter(l.limit, l.burst)}
		l.keys[key] = e
	}
	e.seen = now
	return e.lim.AllowN(now, 1)
}

// RetryAfter reports how long key must wait before [Limiter.Allow] can next
// succeed: zero if it would succeed now. Handlers put it in a Retry-After header.
func (l *Limiter) RetryAfter(key string) time.Duration {
	if l.limit == rate.Inf {
		return 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.keys[key]
	if !ok {
		return 0
	}
	tokens := e.lim.TokensAt(now)
	if tokens >= 1 {
		return 0
	}
	secs := (1 - tokens) / float64(l.limit)
	return time.Duration(math.Ceil(secs * float64(time.Second)))
}

// Len returns the number of keys currently tracked, to observe memory use.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}

// sweepLocked drops keys idle long enough to have a full bucket again. It runs
// at most once per refill period, or whenever the key cap is reached, so its
// cost is amortised over many calls.
func (l *Limiter) sweepLocked(now time.Time) {
	if now.Sub(l.lastSweep) < l.idle && len(l.keys) < l.maxKeys {
		return
	}
	l.lastSweep = now
	for k, e := range l.keys {
		if now.Sub(e.seen) >= l.idle {
			delete(l.keys, k)
		}
	}
}

// evictOneLocked removes an arbitrary entry (Go's map iteration order is
// randomised, so an attacker cannot choose which).
func (l *Limiter) evictOneLocked() {
	for k := range l.keys {
		delete(l.keys, k)
		return
	}
}

// IPKey turns a client IP address into a rate-limit key by the rule of
// [netaddr.Key], which the SDK and the connection caps share: IPv4 addresses
// (also when mapped into IPv6) as they are, IPv6 addresses reduced to their
// /64 network, other strings unchanged.
func IPKey(ip string) string { return netaddr.Key(ip) }
