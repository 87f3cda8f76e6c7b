package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/priority"
	"github.com/mcp-obs/mcp-obs/internal/telemetry"
)

// SpanWriter is where the committer writes: store.Telemetry's WriteSpans.
type SpanWriter interface {
	WriteSpans(ctx context.Context, spans []telemetry.Span) (int, error)
}

// batch is one request's spans, waiting for the commit that holds them.
type batch struct {
	spans []telemetry.Span
	cost  int
	done  chan error // buffered: the writer never blocks on a request that left
}

// committer is the group commit: requests queue their batches, and one
// writer goroutine commits whatever is queued in one WriteSpans call (one
// transaction, so one fsync for many requests), then tells each request
// the outcome of the commit that held its spans. A request answers 200
// only after that commit, so an acknowledged span survives a crash.
//
// The writer goroutine runs while there is work and ends when the queue is
// empty: there is nothing to start or stop, and a platform shutting down
// drains it simply by waiting for its requests in flight, each of which
// waits for its commit.
type committer struct {
	w        SpanWriter
	gate     *priority.Gate // a commit runs under one of its background slots
	maxQueue int            // bound on the queued cost (about the bytes of the spans)
	maxGroup int            // most spans in one commit
	timeout  time.Duration
	observe  func(spans int, d time.Duration, err error)

	mu      sync.Mutex
	queue   []*batch
	queued  int // cost of the queue
	spans   int // spans in the queue
	running bool
	closed  bool
	idle    *sync.Cond // signalled when the writer stops
}

func newCommitter(w SpanWriter, gate *priority.Gate, maxQueue, maxGroup int, timeout time.Duration, observe func(int, time.Duration, error)) *committer {
	c := &committer{w: w, gate: gate, maxQueue: maxQueue, maxGroup: maxGroup, timeout: timeout, observe: observe}
	c.idle = sync.NewCond(&c.mu)
	return c
}

// spanCost estimates the memory a queued span holds.
func spanCost(s *telemetry.Span) int {
	return 160 + len(s.Name) + len(s.Method) + len(s.Tool) + len(s.UserID) + len(s.ClientID) +
		len(s.SessionID) + len(s.ErrorType) + len(s.Attributes)
}

// commit queues spans and waits until they are committed. It returns
// errBusy at once when the queue is full, and ctx's error if the request
// goes away first (its spans may still be committed: the sender, not
// having its 200, sends them again, and the store skips the duplicates).
func (c *committer) commit(ctx context.Context, spans []telemetry.Span) error {
	if len(spans) == 0 {
		return nil
	}
	b := &batch{spans: spans, done: make(chan error, 1)}
	for i := range spans {
		b.cost += spanCost(&spans[i])
	}
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return errClosed
	case c.queued > 0 && c.queued+b.cost > c.maxQueue:
		c.mu.Unlock()
		return errBusy
	}
	c.queue = append(c.queue, b)
	c.queued += b.cost
	c.spans += len(spans)
	if !c.running {
		c.running = true
		go c.run()
	}
	c.mu.Unlock()
	select {
	case err := <-b.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run is the writer: it commits groups until the queue is empty.
func (c *committer) run() {
	for {
		c.mu.Lock()
		if len(c.queue) == 0 {
			c.running = false
			c.idle.Broadcast()
			c.mu.Unlock()
			return
		}
		n, count := 0, 0
		for n < len(c.queue) && (n == 0 || count+len(c.queue[n].spans) <= c.maxGroup) {
			count += len(c.queue[n].spans)
			n++
		}
		group := make([]*batch, n)
		copy(group, c.queue)
		c.queue = append(c.queue[:0], c.queue[n:]...)
		for _, b := range group {
			c.queued -= b.cost
			c.spans -= len(b.spans)
		}
		c.mu.Unlock()
		c.write(group, count)
	}
}

// write commits one group in one WriteSpans call. Should the store refuse
// the group for one batch's spans, each batch is committed alone, so one
// sender's bad batch fails only that sender.
func (c *committer) write(group []*batch, count int) {
	all := group[0].spans
	if len(group) > 1 {
		all = make([]telemetry.Span, 0, count)
		for _, b := range group {
			all = append(all, b.spans...)
		}
	}
	err := c.writeOnce(all)
	if err != nil && len(group) > 1 && errors.Is(err, telemetry.ErrInvalidSpan) {
		for _, b := range group {
			b.done <- c.writeOnce(b.spans)
		}
		return
	}
	for _, b := range group {
		b.done <- err
	}
}

func (c *committer) writeOnce(spans []telemetry.Span) error {
	// The commit serves many requests: no one request's context may cancel
	// it, but a stuck database must not hold them all forever.
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	ctx = priority.WithGate(ctx, c.gate) // the store yields between its chunks
	var (
		start = time.Now()
		err   error
	)
	if ran := c.gate.Run(ctx, func() { _, err = c.w.WriteSpans(ctx, spans) }); ran != nil {
		err = ran
	}
	if c.observe != nil {
		c.observe(len(spans), time.Since(start), err)
	}
	if err != nil {
		return fmt.Errorf("commit %d spans: %w", len(spans), err)
	}
	return nil
}

// depth returns the spans waiting for a commit.
func (c *committer) depth() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.spans
}

// close refuses new batches and waits until the queued ones are committed.
func (c *committer) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for c.running {
		c.idle.Wait()
	}
}
