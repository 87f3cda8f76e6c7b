package mcpobs

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"golang.org/x/sync/errgroup"
)

// gatedExporter blocks every export until its gate is opened, then counts
// the spans; or fails them while failing is set.
type gatedExporter struct {
	gate     chan struct{}
	failing  atomic.Bool
	exported atomic.Int64
	started  chan struct{} // receives once per export that started
}

func newGatedExporter() *gatedExporter {
	return &gatedExporter{gate: make(chan struct{}), started: make(chan struct{}, 1024)}
}

func (e *gatedExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.started <- struct{}{}
	select {
	case <-e.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	if e.failing.Load() {
		return errors.New("the destination refused the batch")
	}
	e.exported.Add(int64(len(spans)))
	return nil
}

func (e *gatedExporter) Shutdown(context.Context) error { return nil }

// endSpans ends n sampled spans on a provider whose only processor is q.
func endSpans(tp *sdktrace.TracerProvider, n int) {
	tr := tp.Tracer("test")
	for range n {
		_, s := tr.Start(context.Background(), "s")
		s.End()
	}
}

// countLines counts the lines of logs that hold s.
func countLines(logs, s string) int { return strings.Count(logs, s) }

func TestSpanQueue_ManyDropsAreCountedAndLoggedOnceAMinute(t *testing.T) {
	logger, logs := newTestLogger()
	exp := newGatedExporter()
	q := newStoppedSpanQueue(exp, "the test destination", logger, nil)
	q.batchDelay = time.Millisecond
	var nowMu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	q.setDropLogClock(func() time.Time { nowMu.Lock(); defer nowMu.Unlock(); return now }, time.Minute)
	q.start()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(q))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })

	// The first export hangs; the queue fills; everything else is dropped.
	endSpans(tp, 1)
	<-exp.started
	const flood = 10_000
	endSpans(tp, flood)
	if got := q.droppedSpans(); got != flood-spanQueueSize {
		t.Fatalf("dropped %d spans, want %d: a full queue drops, it does not grow", got, flood-spanQueueSize)
	}
	if n := q.queued(); n != spanQueueSize {
		t.Fatalf("queue holds %d spans, want its bound %d", n, spanQueueSize)
	}

	// The destination comes back: the queue is exported, the drops logged
	// once however many ticks and exports follow.
	close(exp.gate)
	waitFor(t, 30*time.Second, "the queue to be exported", func() bool { return exp.exported.Load() == 1+spanQueueSize })
	waitFor(t, 30*time.Second, "the drop log", func() bool { return countLines(logs.String(), "telemetry spans dropped") == 1 })
	if !strings.Contains(logs.String(), "dropped_total=7952") {
		t.Errorf("the log does not give the count:\n%s", logs.String())
	}

	// More drops within the minute: counted, not logged.
	exp.failing.Store(true)
	endSpans(tp, 100)
	waitFor(t, 30*time.Second, "the failed exports to be counted", func() bool { return q.droppedSpans() == flood-spanQueueSize+100 })
	time.Sleep(20 * time.Millisecond) // ticks pass; nothing may be logged
	if n := countLines(logs.String(), "telemetry spans dropped"); n != 1 {
		t.Fatalf("%d drop logs within a minute, want 1:\n%s", n, logs.String())
	}

	// A minute later, the next report.
	nowMu.Lock()
	now = now.Add(time.Minute)
	nowMu.Unlock()
	waitFor(t, 30*time.Second, "the second drop log", func() bool { return countLines(logs.String(), "telemetry spans dropped") == 2 })
	if !strings.Contains(logs.String(), "export_failed_total=100") || !strings.Contains(logs.String(), "the destination refused the batch") {
		t.Errorf("the second log does not tell the failed exports and why:\n%s", logs.String())
	}
}

func TestSpanQueue_ShutdownIsBoundedWhenTheDestinationHangs(t *testing.T) {
	exp := newGatedExporter() // never opened
	q := newSpanQueue(exp, "the test destination", discardLogger(), nil)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(q))
	endSpans(tp, 10)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	go func() {
		tp.Shutdown(ctx)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Shutdown did not return once its context ended")
	}
	select {
	case <-q.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the export goroutine outlived Shutdown")
	}
	endSpans(tp, 1) // after Shutdown: ignored, no panic
}

func TestTelemetry_AHangingPlatformNeverHoldsUpToolCallsAndExportResumes(t *testing.T) {
	p := startPlatformFake(t)
	rs := telemetryServer(t, p, nil)
	tel := rs.srv.Integration().telemetry
	frozen := time.Now()
	tel.platformSpans.setDropLogClock(func() time.Time { return frozen }, time.Minute)
	p.otlp.mode.Store(receiverHangs)

	ctx := testContext(t)
	const sessions, callsEach = 4, 750 // 3000 calls: more spans than the queue and a batch hold
	var completed atomic.Int64
	var g errgroup.Group
	for range sessions {
		g.Go(func() error {
			cs, _, err := connectAs(ctx, rs.base, "alice-token")
			if err != nil {
				return err
			}
			defer cs.Close()
			for range callsEach {
				if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": "m"}}); err != nil {
					return err
				}
				completed.Add(1)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("a tool call failed while the platform hung: %v", err)
	}
	if got := completed.Load(); got != sessions*callsEach {
		t.Fatalf("%d tool calls completed, want %d", got, sessions*callsEach)
	}
	if queued := tel.platformSpans.queued(); queued > spanQueueSize {
		t.Fatalf("%d spans queued, over the bound %d", queued, spanQueueSize)
	}
	dropped := tel.platformSpans.droppedSpans()
	if dropped < sessions*callsEach-spanQueueSize-spanBatchSize {
		t.Errorf("dropped %d spans of %d calls with the platform hanging, want at least %d", dropped, sessions*callsEach, sessions*callsEach-spanQueueSize-spanBatchSize)
	}
	if rep, err := fetchHealth(rs.base); err != nil || !rep.Telemetry.Enabled || rep.Telemetry.DroppedSpans < dropped {
		t.Errorf("/health telemetry = %+v (%v), want enabled with at least %d dropped spans", rep.Telemetry, err, dropped)
	}

	// The platform answers again: the queue is sent, and export goes on.
	p.otlp.unblock()
	flushTelemetry(t, rs.srv.Integration())
	ctx2, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs, _, err := connectAs(ctx2, rs.base, "alice-token")
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if _, err := cs.CallTool(ctx2, &mcp.CallToolParams{Name: "traced"}); err != nil {
		t.Fatal(err)
	}
	flushTelemetry(t, rs.srv.Integration())
	p.otlp.waitSpan(t, "tools/call traced")
	if got := len(p.otlp.spansNamed("tools/call echo")); got > spanQueueSize+spanBatchSize {
		t.Errorf("%d spans of the hanging period reached the platform, more than the queue and one batch hold", got)
	}
	waitFor(t, 60*time.Second, "the drop log", func() bool { return countLines(rs.logs.String(), "telemetry spans dropped") >= 1 })
	if n := countLines(rs.logs.String(), "telemetry spans dropped"); n != 1 {
		t.Errorf("%d drop logs for %d drops within a minute, want 1", n, dropped)
	}
}

// failingMetricExporter fails every export.
type failingMetricExporter struct{ sdkmetric.Exporter }

func (failingMetricExporter) Export(context.Context, *metricdata.ResourceMetrics) error {
	return errors.New("503 from the destination")
}

func TestQuietMetricExporter_FailuresAreLoggedOnceAMinuteNotHandedToTheGlobalHandler(t *testing.T) {
	logger, logs := newTestLogger()
	q := newQuietMetricExporter(failingMetricExporter{}, "the test destination", logger, nil)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	q.now = func() time.Time { return now }
	for range 5 {
		if err := q.Export(context.Background(), &metricdata.ResourceMetrics{}); err != nil {
			t.Fatalf("Export returned %v: the periodic reader would hand it to the global error handler", err)
		}
	}
	if n := countLines(logs.String(), "metrics not exported"); n != 1 {
		t.Fatalf("%d logs for 5 failures within a minute, want 1", n)
	}
	now = now.Add(time.Minute)
	q.Export(context.Background(), &metricdata.ResourceMetrics{})
	if n := countLines(logs.String(), "metrics not exported"); n != 2 || !strings.Contains(logs.String(), "failed_exports=5") {
		t.Fatalf("after a minute: %d logs, want 2 counting the 5 failures since the first:\n%s", n, logs.String())
	}
}
