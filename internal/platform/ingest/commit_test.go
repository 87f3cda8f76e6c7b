package ingest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/priority"
	"github.com/mcp-obs/mcp-obs/internal/telemetry"
)

// gateWriter is a span writer whose commits wait for a gate, so a test can
// hold the writer busy while requests queue behind it. It records the size
// of every commit.
type gateWriter struct {
	gate    chan struct{}
	entered chan struct{}
	fail    error
	mu      sync.Mutex
	sizes   []int
}

func (g *gateWriter) WriteSpans(ctx context.Context, spans []telemetry.Span) (int, error) {
	g.entered <- struct{}{}
	<-g.gate
	g.mu.Lock()
	defer g.mu.Unlock()
	g.sizes = append(g.sizes, len(spans))
	return len(spans), g.fail
}

func spansN(n int) []telemetry.Span {
	s := make([]telemetry.Span, n)
	for i := range s {
		s[i] = telemetry.Span{ServerID: "s", Name: "x"}
	}
	return s
}

func TestCommitter_QueuedBatchesShareOneCommitAndEachWaitsForIt(t *testing.T) {
	w := &gateWriter{gate: make(chan struct{}), entered: make(chan struct{}, 10)}
	c := newCommitter(w, priority.New(priority.Options{}), 1<<20, 1000, time.Second, nil)
	errs := make(chan error, 10)
	go func() { errs <- c.commit(context.Background(), spansN(1)) }()
	<-w.entered // the first commit is in progress: the next batches queue
	for range 5 {
		go func() { errs <- c.commit(context.Background(), spansN(10)) }()
	}
	for c.depth() != 50 {
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-errs:
		t.Fatalf("a request was answered (%v) before its commit", err)
	default:
	}
	close(w.gate)
	for range 6 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if len(w.sizes) != 2 || w.sizes[0] != 1 || w.sizes[1] != 50 {
		t.Fatalf("commit sizes %v, want [1 50]: the five queued batches share one commit", w.sizes)
	}
}

func TestCommitter_FullQueueRefusesAtOnceAndFailuresReachEveryRequest(t *testing.T) {
	w := &gateWriter{gate: make(chan struct{}), entered: make(chan struct{}, 10), fail: errors.New("disk full")}
	one := spanCost(&spansN(1)[0])
	c := newCommitter(w, priority.New(priority.Options{}), 10*one, 1000, time.Second, nil)
	errs := make(chan error, 10)
	go func() { errs <- c.commit(context.Background(), spansN(1)) }()
	<-w.entered
	go func() { errs <- c.commit(context.Background(), spansN(8)) }()
	for c.depth() != 8 {
		time.Sleep(time.Millisecond)
	}
	if err := c.commit(context.Background(), spansN(5)); !errors.Is(err, errBusy) {
		t.Fatalf("over the queue bound: %v, want errBusy", err)
	}
	// A request that gives up does not block the writer.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.commit(ctx, spansN(1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled request: %v", err)
	}
	close(w.gate)
	for range 2 {
		if err := <-errs; err == nil || !errors.Is(err, w.fail) {
			t.Fatalf("a failed commit answered %v", err)
		}
	}
	c.close()
	if err := c.commit(context.Background(), spansN(1)); !errors.Is(err, errClosed) {
		t.Fatalf("after close: %v", err)
	}
	if c.depth() != 0 {
		t.Fatalf("close left %d spans queued", c.depth())
	}
}
