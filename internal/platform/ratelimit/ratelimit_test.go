package ratelimit

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// fakeClock is a manually advanced clock for deterministic tests.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newWithClock(perMinute, burst int) (*Limiter, *fakeClock) {
	c := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	l := New(perMinute, burst)
	l.now = c.now
	return l, c
}

func TestAllow_DeniesOnceBurstIsSpentPerKey(t *testing.T) {
	l, _ := newWithClock(60, 3)
	for i := range 3 {
		if !l.Allow("a") {
			t.Fatalf("event %d of the burst was denied", i+1)
		}
	}
	if l.Allow("a") {
		t.Fatal("event beyond the burst was allowed")
	}
	if !l.Allow("b") {
		t.Fatal("another key was throttled by the first key's events")
	}
}

func TestAllow_RefillsAtTheConfiguredRate(t *testing.T) {
	l, c := newWithClock(60, 1) // one per second
	if !l.Allow("a") {
		t.Fatal("first event denied")
	}
	c.advance(500 * time.Millisecond)
	if l.Allow("a") {
		t.Fatal("allowed before the bucket refilled")
	}
	c.advance(500 * time.Millisecond)
	if !l.Allow("a") {
		t.Fatal("denied after the bucket refilled")
	}
}

func TestRetryAfter_IsTimeUntilNextToken(t *testing.T) {
	l, c := newWithClock(30, 1) // one per two seconds
	if got := l.RetryAfter("a"); got != 0 {
		t.Fatalf("unknown key: RetryAfter = %v, want 0", got)
	}
	l.Allow("a")
	if got := l.RetryAfter("a"); got != 2*time.Second {
		t.Fatalf("RetryAfter = %v, want 2s", got)
	}
	c.advance(1500 * time.Millisecond)
	if got := l.RetryAfter("a"); got != 500*time.Millisecond {
		t.Fatalf("RetryAfter = %v, want 500ms", got)
	}
	c.advance(time.Second)
	if got := l.RetryAfter("a"); got != 0 {
		t.Fatalf("after refill: RetryAfter = %v, want 0", got)
	}
}

func TestAllow_DropsKeysIdleLongEnoughToRefill(t *testing.T) {
	l, c := newWithClock(60, 2) // refills completely in 2s
	for i := range 100 {
		l.Allow(fmt.Sprint("k", i))
	}
	if l.Len() != 100 {
		t.Fatalf("Len = %d, want 100", l.Len())
	}
	c.advance(2 * time.Second)
	l.Allow("fresh")
	if l.Len() != 1 {
		t.Fatalf("after idle period Len = %d, want 1 (idle keys dropped)", l.Len())
	}
}

func TestAllow_KeepsRecentKeysWhenSweeping(t *testing.T) {
	l, c := newWithClock(60, 2)
	l.Allow("old")
	l.Allow("busy")
	c.advance(1500 * time.Millisecond)
	l.Allow("busy")
	c.advance(600 * time.Millisecond) // "old" idle 2.1s, "busy" seen 0.6s ago
	l.Allow("new")
	if l.Len() != 2 {
		t.Fatalf("Len = %d, want 2 (old dropped, busy and new kept)", l.Len())
	}
}

func TestAllow_KeyCountNeverExceedsCap(t *testing.T) {
	l, _ := newWithClock(1, 1) // nothing ever becomes idle during the test
	l.maxKeys = 10
	for i := range 50 {
		l.Allow(fmt.Sprint("k", i))
		if l.Len() > 10 {
			t.Fatalf("Len = %d after %d keys, cap is 10", l.Len(), i+1)
		}
	}
}

func TestNew_NonPositiveRateDisablesLimiting(t *testing.T) {
	l := New(0, 0)
	for range 1000 {
		if !l.Allow("a") {
			t.Fatal("disabled limiter denied an event")
		}
	}
	if l.Len() != 0 || l.RetryAfter("a") != 0 {
		t.Fatal("disabled limiter tracked state")
	}
}

func TestAllow_ConcurrentUseCountsEveryEvent(t *testing.T) {
	l := New(1, 50) // refill is negligible during the test
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 8 {
		wg.Go(func() {
			for range 20 {
				if l.Allow("shared") {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if allowed != 50 {
		t.Fatalf("allowed %d of 160 concurrent events, want exactly the burst of 50", allowed)
	}
}

func TestIPKey_GroupsIPv6By64AndKeepsIPv4(t *testing.T) {
	tests := []struct{ in, want string }{
		{"203.0.113.7", "203.0.113.7"},
		{"::ffff:203.0.113.7", "203.0.113.7"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"not-an-ip", "not-an-ip"},
	}
	for _, tt := range tests {
		if got := IPKey(tt.in); got != tt.want {
			t.Errorf("IPKey(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestWithClock_RefillsOnTheGivenClockOnly(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	l := New(60, 2).WithClock(func() time.Time { return now })
	if !l.Allow("k") || !l.Allow("k") {
		t.Fatal("the burst of 2 was not allowed")
	}
	if l.Allow("k") {
		t.Fatal("a third event with the clock standing still was allowed")
	}
	now = now.Add(time.Second) // 60 a minute: one more
	if !l.Allow("k") {
		t.Fatal("no event allowed after the given clock moved a second")
	}
	if l.Allow("k") {
		t.Fatal("two events allowed after one second at 60 a minute")
	}
}
