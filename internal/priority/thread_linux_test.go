package priority

import (
	"context"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// niceOfThisThread returns the nice value of the calling thread (getpriority
// returns 20-nice for a thread id).
func niceOfThisThread(t *testing.T) int {
	t.Helper()
	prio, err := unix.Getpriority(unix.PRIO_PROCESS, unix.Gettid())
	if err != nil {
		t.Fatal(err)
	}
	return 20 - prio
}

// TestWorkersRunAtTheLowestPriority checks that background work runs on a
// thread at nice 19 and that the threads serving other goroutines keep
// their priority.
func TestWorkersRunAtTheLowestPriority(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := niceOfThisThread(t)
	g := New(Options{Workers: 2})
	for range 10 {
		var nice int
		if err := g.Run(context.Background(), func() { nice = niceOfThisThread(t) }); err != nil {
			t.Fatal(err)
		}
		if nice != lowestNice {
			t.Fatalf("background work ran at nice %d, want %d", nice, lowestNice)
		}
	}
	if after := niceOfThisThread(t); after != before {
		t.Errorf("the caller's thread went from nice %d to %d", before, after)
	}
	// Threads of ordinary goroutines are not lowered.
	for range 10 {
		ch := make(chan int)
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			ch <- niceOfThisThread(t)
		}()
		if n := <-ch; n == lowestNice && before != lowestNice {
			t.Fatalf("an ordinary goroutine's thread is at nice %d", n)
		}
	}
}
