package mcpobs

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for cache tests that must not depend on the
// machine's speed.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func assertCached(t *testing.T, c *ttlCache[string], key string, want bool) {
	t.Helper()
	if _, ok := c.get(key); ok != want {
		t.Errorf("get(%q) cached = %v, want %v", key, ok, want)
	}
}

func TestCache_EntryIsServedUntilItsTTLAndNotAfter(t *testing.T) {
	clock := newFakeClock()
	c := newTTLCache[string](10, clock.now)
	c.set("k", "v", time.Minute)

	clock.advance(time.Minute - time.Nanosecond)
	if v, ok := c.get("k"); !ok || v != "v" {
		t.Fatalf("get before expiry = %q, %v; want v, true", v, ok)
	}
	clock.advance(time.Nanosecond)
	assertCached(t, c, "k", false)
}

func TestCache_ZeroOrNegativeTTLCachesNothing(t *testing.T) {
	c := newTTLCache[string](10, newFakeClock().now)
	c.set("zero", "v", 0)
	c.set("negative", "v", -time.Second)
	assertCached(t, c, "zero", false)
	assertCached(t, c, "negative", false)
	if n := c.len(); n != 0 {
		t.Errorf("len = %d, want 0", n)
	}
}

func TestCache_FullCacheEvictsExpiredEntriesBeforeLiveOnes(t *testing.T) {
	clock := newFakeClock()
	c := newTTLCache[string](4, clock.now)
	c.set("a-live", "v", 10*time.Second)
	c.set("b-short", "v", time.Second)
	c.set("c-live", "v", 10*time.Second)
	c.set("d-short", "v", time.Second)
	clock.advance(2 * time.Second)

	c.set("e-new", "v", 10*time.Second)

	for _, k := range []string{"a-live", "c-live", "e-new"} {
		assertCached(t, c, k, true)
	}
	if n := c.len(); n != 3 {
		t.Errorf("len = %d, want 3 (both expired entries swept, no live one evicted)", n)
	}
}

func TestCache_FullCacheEvictsOldestInsertionWhenNothingExpired(t *testing.T) {
	c := newTTLCache[string](3, newFakeClock().now)
	c.set("a", "v", time.Minute)
	c.set("b", "v", time.Minute)
	c.set("c", "v", time.Minute)

	c.set("d", "v", time.Minute)
	assertCached(t, c, "a", false)
	for _, k := range []string{"b", "c", "d"} {
		assertCached(t, c, k, true)
	}

	// Setting b again makes it the newest, so c is now the oldest.
	c.set("b", "v2", time.Minute)
	c.set("e", "v", time.Minute)
	assertCached(t, c, "c", false)
	for _, k := range []string{"b", "d", "e"} {
		assertCached(t, c, k, true)
	}
	if v, _ := c.get("b"); v != "v2" {
		t.Errorf("get(b) = %q, want the updated value v2", v)
	}
}

func TestCache_NeverHoldsMoreThanItsBound(t *testing.T) {
	clock := newFakeClock()
	c := newTTLCache[string](100, clock.now)
	for i := range 5000 {
		c.set(fmt.Sprint("k", i), "v", time.Duration(1+i%7)*time.Second)
		if i%3 == 0 {
			clock.advance(time.Second)
		}
		if n := c.len(); n > 100 {
			t.Fatalf("after %d insertions len = %d, want <= 100", i+1, n)
		}
	}
}

func TestCache_DeleteInvalidatesGenerationSoAnInFlightAnswerIsNotCached(t *testing.T) {
	c := newTTLCache[string](10, newFakeClock().now)
	gen := c.generation()
	if !c.setIfGeneration(gen, "k", "v", time.Minute) {
		t.Fatal("setIfGeneration with the current generation did not cache")
	}

	gen = c.generation()
	c.delete("other") // a revocation while an introspection call is in flight
	if c.setIfGeneration(gen, "k2", "v", time.Minute) {
		t.Error("setIfGeneration cached an answer obtained before a revocation")
	}
	assertCached(t, c, "k2", false)
}

func TestCache_DeleteAndClearDropEntries(t *testing.T) {
	c := newTTLCache[string](10, newFakeClock().now)
	c.set("a", "v", time.Minute)
	c.set("b", "v", time.Minute)
	c.set("c", "v", time.Minute)

	if !c.delete("a") || c.delete("a") {
		t.Error("delete should report true once for a present key, then false")
	}
	assertCached(t, c, "a", false)
	if n := c.clear(); n != 2 {
		t.Errorf("clear = %d, want 2", n)
	}
	assertCached(t, c, "b", false)
	// The cache still works after clear.
	c.set("d", "v", time.Minute)
	assertCached(t, c, "d", true)
}

func TestCache_ConcurrentUseIsSafe(t *testing.T) {
	c := newTTLCache[string](50, nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				k := fmt.Sprint("k", (g*31+i)%80)
				switch i % 5 {
				case 0:
					c.delete(k)
				case 1:
					c.setIfGeneration(c.generation(), k, "v", time.Minute)
				default:
					if _, ok := c.get(k); !ok {
						c.set(k, "v", time.Minute)
					}
				}
			}
		})
	}
	wg.Wait()
	if n := c.len(); n > 50 {
		t.Errorf("len = %d, want <= 50", n)
	}
}
