package priority

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRunBoundsWorkers runs many pieces of work at once and checks that no
// more than Workers run together, and that every piece runs once.
func TestRunBoundsWorkers(t *testing.T) {
	for _, workers := range []int{1, 3} {
		g := New(Options{Workers: workers})
		var running, most, ran atomic.Int64
		var wg sync.WaitGroup
		for range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := g.Run(context.Background(), func() {
					n := running.Add(1)
					for {
						m := most.Load()
						if n <= m || most.CompareAndSwap(m, n) {
							break
						}
					}
					time.Sleep(time.Millisecond)
					running.Add(-1)
					ran.Add(1)
				})
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if ran.Load() != 40 {
			t.Errorf("workers %d: %d pieces ran, want 40", workers, ran.Load())
		}
		if most.Load() > int64(workers) {
			t.Errorf("workers %d: %d pieces ran at once", workers, most.Load())
		}
	}
}

// TestRunGivesUpWithTheContext fills the only worker, then asks for another
// run with a context that ends: Run returns its error and never runs fn.
func TestRunGivesUpWithTheContext(t *testing.T) {
	g := New(Options{Workers: 1})
	release := make(chan struct{})
	busy := make(chan struct{})
	go g.Run(context.Background(), func() { close(busy); <-release })
	<-busy
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	var ran atomic.Bool
	go func() { errc <- g.Run(ctx, func() { ran.Store(true) }) }()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	close(release)
	// The worker is free again and the abandoned fn never runs.
	if err := g.Run(context.Background(), func() {}); err != nil {
		t.Fatal(err)
	}
	if ran.Load() {
		t.Error("the work of an abandoned Run ran")
	}
}

// TestYieldWaitsForForeground starts a foreground request that stays in
// flight until told, and checks that background work calling Yield does not
// go on before the request ends, and goes on once it has.
func TestYieldWaitsForForeground(t *testing.T) {
	g := New(Options{Workers: 1, MaxDefer: time.Minute})
	inHandler := make(chan struct{})
	finish := make(chan struct{})
	var ended atomic.Bool
	h := g.Foreground(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(inHandler)
		<-finish
		ended.Store(true)
	}))
	go h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	<-inHandler
	yielded := make(chan bool)
	go g.Run(context.Background(), func() {
		g.Yield()
		yielded <- ended.Load()
	})
	select {
	case <-yielded:
		t.Fatal("Yield returned while a foreground request was in flight")
	case <-time.After(50 * time.Millisecond):
	}
	close(finish)
	if !<-yielded {
		t.Error("Yield returned before the foreground request ended")
	}
}

// TestYieldIsBounded keeps a foreground request in flight: Yield still
// returns (after MaxDefer), so background work advances under a steady
// stream of requests.
func TestYieldIsBounded(t *testing.T) {
	g := New(Options{Workers: 1, MaxDefer: 10 * time.Millisecond})
	finish := make(chan struct{})
	defer close(finish)
	inHandler := make(chan struct{})
	h := g.Foreground(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { close(inHandler); <-finish }))
	go h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	<-inHandler
	done := make(chan struct{})
	go func() {
		for range 3 {
			Yield(WithGate(context.Background(), g))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Yield did not return while a request stayed in flight")
	}
}

// TestYieldWithoutGate: work run without a gate (a store used directly)
// never waits.
func TestYieldWithoutGate(t *testing.T) {
	Yield(context.Background()) // returns at once; a hang fails the test by timeout
}

// TestStreamsAreNotForeground: a request that has started its answer and
// stays open (an event stream) holds no background work back, and its
// writer still flushes.
func TestStreamsAreNotForeground(t *testing.T) {
	g := New(Options{Workers: 1, MaxDefer: time.Minute})
	finish := make(chan struct{})
	defer close(finish)
	streaming := make(chan bool)
	h := g.Foreground(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		_, flushes := w.(http.Flusher)
		streaming <- flushes && http.NewResponseController(w).Flush() == nil
		<-finish
	}))
	go h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/feed", nil))
	if !<-streaming {
		t.Fatal("the stream's writer does not flush")
	}
	done := make(chan struct{})
	go func() { g.Yield(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second): // MaxDefer is a minute
		t.Fatal("Yield waited for a request that is streaming its answer")
	}
}

// TestRunRaisesPanicsInTheCaller: a panic in background work comes back in
// the goroutine that asked for it, and the worker goes on serving.
func TestRunRaisesPanicsInTheCaller(t *testing.T) {
	g := New(Options{Workers: 1})
	got := func() (p any) {
		defer func() { p = recover() }()
		g.Run(context.Background(), func() { panic("bad batch") })
		return nil
	}()
	if got != "bad batch" {
		t.Fatalf("Run's caller recovered %v, want the work's panic", got)
	}
	var ran bool
	if err := g.Run(context.Background(), func() { ran = true }); err != nil || !ran {
		t.Fatalf("after a panic: Run = %v, ran %v", err, ran)
	}
}
