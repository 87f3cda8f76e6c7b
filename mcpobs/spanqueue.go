package mcpobs

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Span queue bounds.
const (
	// spanQueueSize is how many ended spans wait for export per
	// destination; beyond it spans are dropped.
	spanQueueSize = 2048
	// spanBatchSize is the most spans one export carries.
	spanBatchSize = 512
	// spanBatchDelay is the longest a span waits for its batch to fill.
	spanBatchDelay = time.Second
	// exportTimeout bounds one export to a destination, retries included.
	exportTimeout = 15 * time.Second
	// dropLogInterval is the least time between two logs of dropped spans.
	dropLogInterval = time.Minute
)

// spanQueue is the span processor of one destination: a bounded queue that a
// background goroutine empties in batches into the destination's exporter.
//
// It stands in for the OpenTelemetry SDK's BatchSpanProcessor, which drops
// spans when its queue is full as this one does, but keeps the count in an
// unexported field: its only report of drops is an experimental metric
// (OTEL_GO_X_OBSERVABILITY) sent through the global MeterProvider. mcp-obs
// must count drops, log them at most once a minute, and test both, so it
// keeps its own queue.
//
// OnEnd never blocks: a request never waits for a slow or stopped
// destination. One export runs at a time, bounded by exportTimeout (the
// exporter's retries included), so a destination that is down costs one
// goroutine waiting, never a pile of exports; meanwhile spans beyond the queue
// are dropped and counted, and so are the spans of a batch whose export failed.
//
// A batch the destination took while rejecting some of its spans (an OTLP
// partial_success) is not a failed export: for the platform, the exporter's
// transport counts the rejected spans in rejected and the exporter reports
// success ([rejections]), so the spans the platform stored are not counted
// as dropped; the queue only gives rejected its chance to log, after each
// export and tick, as it does for drops.
type spanQueue struct {
	exporter sdktrace.SpanExporter
	dest     string // the destination, in logs
	logger   *slog.Logger
	rejected *rejections // the exporter's rejection count, or nil

	// pending holds the ended spans waiting for export, at most
	// spanQueueSize; batch is the export goroutine's, at most
	// spanBatchSize taken from pending at a time. Handing spans over in a
	// locked slice, not a channel, wakes the export goroutine once a batch
	// (or a tick), not once a span.
	mu      sync.Mutex
	pending []sdktrace.ReadOnlySpan
	batch   []sdktrace.ReadOnlySpan
	full    chan struct{} // signalled when pending reaches a batch
	flush   chan flushRequest
	// stop is closed by Shutdown, after it set stopCtx; done is closed when
	// the export goroutine has ended.
	stop    chan struct{}
	stopCtx context.Context
	done    chan struct{}
	// base is the context of every export; Shutdown cancels it so that an
	// export still running when its time is up ends.
	base       context.Context
	cancelBase context.CancelFunc

	stopped    atomic.Bool
	stopOnce   sync.Once
	queueFull  atomic.Uint64 // spans dropped because the queue was full
	failed     atomic.Uint64 // spans of batches whose export failed
	exportsRun atomic.Uint64 // exports attempted, for tests

	// batchDelay is settable before start (tests).
	batchDelay time.Duration
	// The drop log's clock and interval, which tests change at any time.
	clock    atomic.Pointer[func() time.Time]
	logEvery atomic.Int64 // time.Duration

	// Owned by the export goroutine.
	lastLog     time.Time
	loggedDrops uint64
	lastErr     error
}

// flushRequest asks the export goroutine to export what is queued now.
type flushRequest struct {
	ctx  context.Context
	done chan struct{}
}

// newSpanQueue returns a started queue exporting to exporter; dest names the
// destination in logs; rejected, if not nil, is where exporter counts the
// spans the destination rejected ([newPlatformSpanExporter]).
func newSpanQueue(exporter sdktrace.SpanExporter, dest string, logger *slog.Logger, rejected *rejections) *spanQueue {
	q := newStoppedSpanQueue(exporter, dest, logger, rejected)
	q.start()
	return q
}

// newStoppedSpanQueue returns a queue whose export goroutine is not running
// yet, for tests to tune it before start.
func newStoppedSpanQueue(exporter sdktrace.SpanExporter, dest string, logger *slog.Logger, rejected *rejections) *spanQueue {
	base, cancel := context.WithCancel(context.Background())
	q := &spanQueue{
		base:       base,
		cancelBase: cancel,
		exporter:   exporter,
		dest:       dest,
		logger:     logger,
		rejected:   rejected,
		pending:    make([]sdktrace.ReadOnlySpan, 0, spanQueueSize),
		batch:      make([]sdktrace.ReadOnlySpan, 0, spanBatchSize),
		full:       make(chan struct{}, 1),
		flush:      make(chan flushRequest),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
		batchDelay: spanBatchDelay,
	}
	q.setDropLogClock(time.Now, dropLogInterval)
	return q
}

// setDropLogClock sets the clock and interval of the drop log (tests).
func (q *spanQueue) setDropLogClock(now func() time.Time, every time.Duration) {
	q.clock.Store(&now)
	q.logEvery.Store(int64(every))
}

func (q *spanQueue) start() { go q.run() }

// OnStart does nothing: spans are queued when they end.
func (*spanQueue) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd queues a sampled span for export, or drops it (counted) when the
// queue is full.
func (q *spanQueue) OnEnd(s sdktrace.ReadOnlySpan) {
	if q.stopped.Load() || !s.SpanContext().IsSampled() {
		return
	}
	q.mu.Lock()
	if len(q.pending) == spanQueueSize {
		q.mu.Unlock()
		q.queueFull.Add(1)
		return
	}
	q.pending = append(q.pending, s)
	n := len(q.pending)
	q.mu.Unlock()
	if n == spanBatchSize {
		select {
		case q.full <- struct{}{}:
		default:
		}
	}
}

// queued is how many spans wait for export.
func (q *spanQueue) queued() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending)
}

// droppedSpans is how many spans were lost so far: dropped from a full queue
// or in a failed export.
func (q *spanQueue) droppedSpans() uint64 { return q.queueFull.Load() + q.failed.Load() }

// rejectedSpans is how many spans the destination rejected so far in
// exports it took.
func (q *spanQueue) rejectedSpans() uint64 { return q.rejected.count() }

// ForceFlush exports the spans queued when it is called, within ctx.
func (q *spanQueue) ForceFlush(ctx context.Context) error {
	if q.stopped.Load() {
		return nil
	}
	req := flushRequest{ctx: ctx, done: make(chan struct{})}
	select {
	case q.flush <- req:
	case <-q.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-req.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Shutdown exports what is queued, within ctx and at most exportTimeout, and
// shuts the exporter down. Spans ending afterwards are ignored.
func (q *spanQueue) Shutdown(ctx context.Context) error {
	q.stopOnce.Do(func() {
		q.stopped.Store(true)
		ctx, cancel := context.WithTimeout(ctx, exportTimeout)
		defer cancel()
		q.stopCtx = ctx
		close(q.stop)
		select {
		case <-q.done:
		case <-ctx.Done():
		}
		q.cancelBase()
	})
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return q.exporter.Shutdown(ctx)
}

// run is the export goroutine.
func (q *spanQueue) run() {
	defer close(q.done)
	timer := time.NewTimer(q.batchDelay)
	defer timer.Stop()
	for {
		select {
		case <-q.full:
			q.exportPending(q.base)
		case <-timer.C:
			q.exportPending(q.base)
			timer.Reset(q.batchDelay)
		case req := <-q.flush:
			q.exportPending(req.ctx)
			close(req.done)
		case <-q.stop:
			q.exportPending(q.stopCtx)
			q.reportDrops()
			q.rejected.report()
			return
		}
		q.reportDrops()
		q.rejected.report()
	}
}

// exportPending exports the spans waiting, a batch of at most spanBatchSize
// at a time, within ctx.
func (q *spanQueue) exportPending(ctx context.Context) {
	for {
		q.mu.Lock()
		n := copy(q.batch[:min(len(q.pending), spanBatchSize)], q.pending)
		q.batch = q.batch[:n]
		rest := copy(q.pending, q.pending[n:])
		clear(q.pending[rest:]) // the spans can be collected once exported
		q.pending = q.pending[:rest]
		q.mu.Unlock()
		if n == 0 {
			return
		}
		q.export(ctx, q.batch)
		clear(q.batch)
		if n < spanBatchSize {
			return
		}
	}
}

// export sends batch within ctx and exportTimeout, counting its spans as
// lost if it fails.
func (q *spanQueue) export(ctx context.Context, batch []sdktrace.ReadOnlySpan) {
	q.exportsRun.Add(1)
	ctx, cancel := context.WithTimeout(ctx, exportTimeout)
	err := q.exporter.ExportSpans(ctx, batch)
	cancel()
	if err != nil {
		q.failed.Add(uint64(len(batch)))
		q.lastErr = err
	}
}

// reportDrops logs the spans lost since the last report, at most once per
// dropLogInterval: a destination that stays down makes one line a minute,
// not one per batch.
func (q *spanQueue) reportDrops() {
	total := q.droppedSpans()
	if total == q.loggedDrops {
		return
	}
	now := (*q.clock.Load())()
	if !q.lastLog.IsZero() && now.Sub(q.lastLog) < time.Duration(q.logEvery.Load()) {
		return
	}
	args := []any{"dropped", total - q.loggedDrops, "dropped_total", total,
		"queue_full_total", q.queueFull.Load(), "export_failed_total", q.failed.Load()}
	if q.lastErr != nil {
		args = append(args, "last_error", q.lastErr.Error())
	}
	q.logger.Warn("mcp-obs: telemetry spans dropped: "+q.dest+" is slow or unreachable; requests are not affected", args...)
	q.lastLog, q.loggedDrops, q.lastErr = now, total, nil
}
