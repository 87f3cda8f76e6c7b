// Package priority lets the requests people wait on (sign-in, consent,
// token issuance, introspection, the query API) go before background work
// (telemetry ingest) on cores they share.
//
// Go's scheduler has no priorities, and the kernel sees only threads. A
// [Gate] runs background work on a few threads of its own, fewer than the
// cores (GOMAXPROCS-1, at least one), whose kernel scheduling priority is
// the lowest (nice 19, on Linux): the kernel runs a thread serving a
// request first, and while requests keep every core busy background work
// gets only what is left. Background work also pauses at its checkpoints ([Gate.Yield])
// while a foreground request is in flight, for at most
// [Options.MaxDefer], so it still advances under a steady stream of
// requests.
package priority

import (
	"context"
	"net/http"
	"runtime"
	"sync/atomic"
	"time"
)

// DefaultMaxDefer bounds one [Gate.Yield].
const DefaultMaxDefer = 20 * time.Millisecond

// idleTimeout is how long a worker waits for work before it ends, and its
// thread with it.
const idleTimeout = 10 * time.Second

// pollInterval is how often a yielding worker looks again.
const pollInterval = 200 * time.Microsecond

// Options configure a [Gate].
type Options struct {
	// Workers is the number of background threads; default GOMAXPROCS-1,
	// at least one.
	Workers int
	// MaxDefer bounds how long one Yield waits for foreground requests to
	// finish; default DefaultMaxDefer.
	MaxDefer time.Duration
}

// Gate orders foreground requests before background work. Make one with
// [New]. Its workers start with the first work and end after ten idle
// seconds, so a gate needs no closing.
type Gate struct {
	work       chan func()
	workers    chan struct{} // a token per running worker
	foreground atomic.Int64
	maxDefer   time.Duration
	deferred   atomic.Int64 // nanoseconds background work spent in Yield
}

// New returns a gate.
func New(opts Options) *Gate {
	if opts.Workers <= 0 {
		opts.Workers = max(1, runtime.GOMAXPROCS(0)-1)
	}
	if opts.MaxDefer <= 0 {
		opts.MaxDefer = DefaultMaxDefer
	}
	return &Gate{work: make(chan func()), workers: make(chan struct{}, opts.Workers), maxDefer: opts.MaxDefer}
}

// worker runs background work on a thread of its own at the lowest
// priority. The goroutine never unlocks the thread (an unprivileged
// process cannot raise a thread's priority again): when it ends, after
// idleTimeout without work, the thread ends with it.
func (g *Gate) worker() {
	runtime.LockOSThread()
	lowerThreadPriority()
	idle := time.NewTimer(idleTimeout)
	for {
		select {
		case fn := <-g.work:
			fn()
			idle.Reset(idleTimeout)
		case <-idle.C:
			<-g.workers
			return
		}
	}
}

// Foreground returns h counted as foreground work: while one of its
// requests is in flight, background work yields. A request counts until
// its handler returns or starts its response, whichever comes first: a
// handler does its work before it answers, and a long-lived response (the
// revocation feed's event stream) must not hold background work back for
// as long as it stays open.
func (g *Gate) Foreground(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.foreground.Add(1)
		a := &answering{ResponseWriter: w, g: g}
		defer a.leave()
		h.ServeHTTP(a, r)
	})
}

// answering stops counting its request as foreground at its first write.
type answering struct {
	http.ResponseWriter
	g    *Gate
	left atomic.Bool
}

func (a *answering) leave() {
	if a.left.CompareAndSwap(false, true) {
		a.g.foreground.Add(-1)
	}
}

func (a *answering) WriteHeader(code int) {
	a.leave()
	a.ResponseWriter.WriteHeader(code)
}

func (a *answering) Write(b []byte) (int, error) {
	a.leave()
	return a.ResponseWriter.Write(b)
}

// Flush keeps streaming working for handlers that assert http.Flusher.
func (a *answering) Flush() { http.NewResponseController(a.ResponseWriter).Flush() }

// Unwrap lets http.ResponseController reach the server's writer.
func (a *answering) Unwrap() http.ResponseWriter { return a.ResponseWriter }

// Run runs fn on a background worker and returns when it is done, or
// returns ctx's error, without running fn, if ctx ends before a worker is
// free. fn should call Yield between its steps. A panic in fn is raised
// again in Run's caller (an HTTP handler's panic ends its request, not the
// process); the worker goes on.
func (g *Gate) Run(ctx context.Context, fn func()) error {
	done := make(chan struct{})
	var panicked any
	work := func() {
		defer func() {
			panicked = recover()
			close(done)
		}()
		g.Yield()
		fn()
	}
	for {
		select {
		case g.work <- work:
			<-done
			if panicked != nil {
				panic(panicked)
			}
			return nil
		case g.workers <- struct{}{}: // room for one more worker
			go g.worker()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Yield is background work's checkpoint: while foreground requests are in
// flight it waits for them, for at most MaxDefer.
func (g *Gate) Yield() {
	if g.foreground.Load() == 0 {
		return
	}
	start := time.Now()
	for g.foreground.Load() > 0 && time.Since(start) < g.maxDefer {
		time.Sleep(pollInterval)
	}
	g.deferred.Add(int64(time.Since(start)))
}

// Deferred returns how long background work has paused in Yield in all.
func (g *Gate) Deferred() time.Duration { return time.Duration(g.deferred.Load()) }

type gateKey struct{}

// WithGate returns a copy of ctx carrying g, for the checkpoints of work
// done further down on its behalf (a store's write loop), which call
// [Yield] with it.
func WithGate(ctx context.Context, g *Gate) context.Context {
	return context.WithValue(ctx, gateKey{}, g)
}

// Yield is [Gate.Yield] of the gate ctx carries; without one it returns at
// once.
func Yield(ctx context.Context) {
	if g, ok := ctx.Value(gateKey{}).(*Gate); ok {
		g.Yield()
	}
}
