package account

import (
	"strconv"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

func newServer(slug string) *store.Server {
	return &store.Server{ID: "srv-" + slug, Slug: slug, Name: slug}
}

func TestThrottle_BlocksAfterBudgetAndRecoversOverTime(t *testing.T) {
	th := newThrottle(5, 15*time.Minute, 100)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 5 {
		if _, b := th.blocked("k", now); b {
			t.Fatalf("blocked after %d failures, budget is 5", i)
		}
		th.fail("k", now)
	}
	wait, b := th.blocked("k", now)
	if !b || wait <= 0 || wait > 3*time.Minute {
		t.Fatalf("after 5 failures: blocked=%v wait=%v; want blocked for up to 3m", b, wait)
	}
	if _, b := th.blocked("other", now); b {
		t.Errorf("an unrelated key is blocked")
	}
	if _, b := th.blocked("k", now.Add(wait)); b {
		t.Errorf("still blocked after the announced wait %v", wait)
	}
	th.reset("k")
	if _, b := th.blocked("k", now); b {
		t.Errorf("blocked after reset")
	}
}

func TestThrottle_MemoryStaysBounded(t *testing.T) {
	th := newThrottle(5, time.Minute, 50)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 1000 {
		th.fail("k"+strconv.Itoa(i), now)
	}
	if n := th.size(); n > 50 {
		t.Errorf("tracking %d keys, cap is 50", n)
	}
	// Once refilled, old entries are swept when new keys arrive.
	th.fail("late", now.Add(2*time.Minute))
	if n := th.size(); n != 1 {
		t.Errorf("after the refill period %d keys remain, want only the new one", n)
	}
}
