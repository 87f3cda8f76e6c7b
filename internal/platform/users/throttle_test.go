package users

import (
	"strconv"
	"testing"
	"time"
)

func TestThrottle_BlocksAfterBudgetAndRecoversOverTime(t *testing.T) {
	th := newThrottle(5, 15*time.Minute, 100)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 5 {
		if _, ok := th.begin("k", now); !ok {
			t.Fatalf("blocked after %d failures, budget is 5", i)
		}
		th.end("k", now, true)
	}
	wait, ok := th.begin("k", now)
	if ok || wait <= 0 || wait > 3*time.Minute {
		t.Fatalf("after 5 failures: allowed=%v wait=%v; want blocked for up to 3m", ok, wait)
	}
	if _, ok := th.begin("other", now); !ok {
		t.Errorf("an unrelated key is blocked")
	}
	if _, ok := th.begin("k", now.Add(wait)); !ok {
		t.Errorf("still blocked after the announced wait %v", wait)
	}
	th.end("k", now.Add(wait), false)
	th.reset("k")
	if _, ok := th.begin("k", now); !ok {
		t.Errorf("blocked after reset")
	}
}

func TestThrottle_MemoryStaysBounded(t *testing.T) {
	th := newThrottle(5, time.Minute, 50)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 1000 {
		th.begin("k"+strconv.Itoa(i), now)
		th.end("k"+strconv.Itoa(i), now, true)
	}
	if n := th.size(); n > 50 {
		t.Errorf("tracking %d keys, cap is 50", n)
	}
	// Once refilled, old entries are swept when new keys arrive.
	th.begin("late", now.Add(2*time.Minute))
	th.end("late", now.Add(2*time.Minute), true)
	if n := th.size(); n != 1 {
		t.Errorf("after the refill period %d keys remain, want only the new one", n)
	}
}

func TestThrottle_ReservationsCountUntilTheyEnd(t *testing.T) {
	th := newThrottle(5, 15*time.Minute, 100)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 5 {
		if _, ok := th.begin("k", now); !ok {
			t.Fatalf("attempt %d refused while %d are in flight, budget is 5", i+1, i)
		}
	}
	if _, ok := th.begin("k", now); ok {
		t.Fatal("a sixth attempt began while five are still in flight")
	}
	// Attempts that succeed give their reservation back.
	th.end("k", now, false)
	if _, ok := th.begin("k", now); !ok {
		t.Fatal("no attempt possible after one in-flight attempt succeeded")
	}
}
