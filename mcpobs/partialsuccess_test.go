package mcpobs

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"
)

// The log lines an author reads; the tests check they are told apart.
const (
	logRejected    = "telemetry spans rejected"
	logUnreachable = "is slow or unreachable"
)

// rejectBefore1970 rejects the span endBatch dates 1960, as the platform
// does (its store holds nothing before 1970). It goes by the name: the
// exporter sends a time before 1970 as an unsigned count of nanoseconds,
// which wraps.
func rejectBefore1970(s gotSpan) string {
	if s.Name == "from 1960" {
		return "start time before 1970"
	}
	return ""
}

// warnOnly answers every export with a partial_success that rejects nothing
// but carries a warning, which OTLP allows.
func warnOnly(w http.ResponseWriter, _ *http.Request) {
	resp := ptraceotlp.NewExportResponse()
	resp.PartialSuccess().SetErrorMessage("slow down a little")
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(marshalAnswer(resp.MarshalProto, resp.MarshalJSON, false))
}

// platformSpanQueue returns the platform's span queue exporting to
// platformURL as newTelemetry builds it, on a tracer provider of its own.
func platformSpanQueue(t *testing.T, platformURL string) (*spanQueue, *sdktrace.TracerProvider, *logBuffer) {
	t.Helper()
	logger, logs := newTestLogger()
	rejected := newSpanRejections("the mcp-obs platform", logger)
	exp, err := newPlatformSpanExporter(platformURL, newPlatformClient(nil, fakeClientID, fakeClientSecret), rejected)
	if err != nil {
		t.Fatal(err)
	}
	q := newSpanQueue(exp, "the mcp-obs platform", logger, rejected)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(q))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	return q, tp, logs
}

// endBatch ends five spans of today and one dated 1960.
func endBatch(tp *sdktrace.TracerProvider) {
	tr := tp.Tracer("test")
	for range 5 {
		_, s := tr.Start(context.Background(), "today")
		s.End()
	}
	_, s := tr.Start(context.Background(), "from 1960", trace.WithTimestamp(time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)))
	s.End(trace.WithTimestamp(time.Date(1960, 1, 1, 0, 0, 1, 0, time.UTC)))
}

func TestPartialSuccess_RejectedSpansAreCountedApartAndTheRestIsNotDropped(t *testing.T) {
	tests := []struct {
		name string
		// platform starts the destination and returns its URL, and the
		// receiver when it keeps what it gets.
		platform               func(t *testing.T) (string, *otlpReceiver)
		wantStored             int
		wantDropped            uint64
		wantRejected           uint64
		wantLog, wantNoLog     []string
		wantDropLog, wantQuiet bool
	}{
		{
			name: "one span of six rejected: five stored, one rejected, none dropped",
			platform: func(t *testing.T) (string, *otlpReceiver) {
				o := newOTLPReceiver()
				o.basicID, o.basicSecret = fakeClientID, fakeClientSecret
				reject := rejectBefore1970
				o.rejectSpan.Store(&reject)
				return o.start(t).URL, o
			},
			wantStored: 5, wantRejected: 1,
			wantLog: []string{
				"mcp-obs: telemetry spans rejected: the mcp-obs platform rejected 1 span it cannot store and kept the rest",
				"this is not a connection problem",
				"rejected=1", "rejected_total=1",
				`reason="rejected 1 of 6 spans: 1 start time before 1970"`,
			},
			wantNoLog: []string{logUnreachable, "telemetry spans dropped"},
		},
		{
			name: "every span accepted: nothing counted, nothing logged",
			platform: func(t *testing.T) (string, *otlpReceiver) {
				o := newOTLPReceiver()
				o.basicID, o.basicSecret = fakeClientID, fakeClientSecret
				return o.start(t).URL, o
			},
			wantStored: 6, wantQuiet: true,
		},
		{
			name: "a partial success that rejects nothing is a warning, logged as such",
			platform: func(t *testing.T) (string, *otlpReceiver) {
				srv := httptest.NewServer(http.HandlerFunc(warnOnly))
				t.Cleanup(srv.Close)
				return srv.URL, nil
			},
			wantLog:   []string{"telemetry spans accepted with a warning from the mcp-obs platform", `warning="slow down a little"`},
			wantNoLog: []string{logRejected, logUnreachable},
		},
		{
			name: "a platform that is down: the batch is dropped as before",
			platform: func(t *testing.T) (string, *otlpReceiver) {
				srv := httptest.NewServer(http.NotFoundHandler())
				srv.Close() // nothing listens: connection refused, not retried
				return srv.URL, nil
			},
			wantDropped: 6, wantDropLog: true,
			wantLog:   []string{"telemetry spans dropped: the mcp-obs platform is slow or unreachable", "export_failed_total=6"},
			wantNoLog: []string{logRejected},
		},
		{
			name: "a 200 whose body is not OTLP is left to the exporter, which fails the batch",
			platform: func(t *testing.T) (string, *otlpReceiver) {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/x-protobuf")
					w.Write([]byte{0xff, 0xff, 0xff})
				}))
				t.Cleanup(srv.Close)
				return srv.URL, nil
			},
			wantDropped: 6, wantDropLog: true,
			wantLog:   []string{"telemetry spans dropped"},
			wantNoLog: []string{logRejected},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, receiver := tt.platform(t)
			q, tp, logs := platformSpanQueue(t, url)
			endBatch(tp)
			if err := tp.ForceFlush(testContext(t)); err != nil {
				t.Fatal(err)
			}
			if tt.wantDropLog {
				waitFor(t, 30*time.Second, "the drop log", func() bool { return strings.Contains(logs.String(), "telemetry spans dropped") })
			}
			if got := q.droppedSpans(); got != tt.wantDropped {
				t.Errorf("dropped spans = %d, want %d", got, tt.wantDropped)
			}
			if got := q.rejectedSpans(); got != tt.wantRejected {
				t.Errorf("rejected spans = %d, want %d", got, tt.wantRejected)
			}
			if receiver != nil {
				if got := len(receiver.allSpans()); got != tt.wantStored {
					t.Errorf("the platform stored %d spans, want %d", got, tt.wantStored)
				}
			}
			out := logs.String()
			for _, s := range tt.wantLog {
				if !strings.Contains(out, s) {
					t.Errorf("the log lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tt.wantNoLog {
				if strings.Contains(out, s) {
					t.Errorf("the log has %q:\n%s", s, out)
				}
			}
			if tt.wantQuiet && out != "" {
				t.Errorf("logged with nothing lost:\n%s", out)
			}
		})
	}
}

func TestPartialSuccess_RejectionsAreLoggedOnceAMinuteWithTheCountSinceTheLastLog(t *testing.T) {
	o := newOTLPReceiver()
	o.basicID, o.basicSecret = fakeClientID, fakeClientSecret
	reject := rejectBefore1970
	o.rejectSpan.Store(&reject)
	q, tp, logs := platformSpanQueue(t, o.start(t).URL)
	var nowMu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	q.rejected.setClock(func() time.Time { nowMu.Lock(); defer nowMu.Unlock(); return now }, time.Minute)
	ctx := testContext(t)

	for range 3 {
		endBatch(tp)
		if err := tp.ForceFlush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := q.rejectedSpans(); got != 3 {
		t.Fatalf("rejected spans = %d after 3 batches with one bad span each, want 3", got)
	}
	if n := countLines(logs.String(), logRejected); n != 1 {
		t.Fatalf("%d rejection logs within a minute, want 1:\n%s", n, logs.String())
	}

	// A minute later, the queue's next tick logs the two since, with no new
	// export needed.
	nowMu.Lock()
	now = now.Add(time.Minute)
	nowMu.Unlock()
	waitFor(t, 30*time.Second, "the second rejection log", func() bool { return countLines(logs.String(), logRejected) == 2 })
	if out := logs.String(); !strings.Contains(out, "rejected 2 spans") || !strings.Contains(out, "rejected=2 rejected_total=3") {
		t.Errorf("the second log does not count the rejections since the first:\n%s", out)
	}
	if got, want := len(o.allSpans()), 15; got != want || q.droppedSpans() != 0 {
		t.Errorf("stored %d spans and dropped %d, want %d and 0", got, q.droppedSpans(), want)
	}
}

// TestPartialSuccess_HealthCountsRejectedSpansOfConcurrentCallsNotDropped
// is the SDK's side of the e2e test: each call of "traced" makes a handler
// span the platform rejects, in batches it otherwise stores.
func TestPartialSuccess_HealthCountsRejectedSpansOfConcurrentCallsNotDropped(t *testing.T) {
	p := startPlatformFake(t)
	reject := func(s gotSpan) string {
		if s.Name == "handler work" {
			return "start time before 1970"
		}
		return ""
	}
	p.otlp.rejectSpan.Store(&reject)
	rs := telemetryServer(t, p, nil)
	ctx := testContext(t)

	const sessions, callsEach = 4, 5
	var g errgroup.Group
	for range sessions {
		g.Go(func() error {
			cs, _, err := connectAs(ctx, rs.base, "alice-token")
			if err != nil {
				return err
			}
			defer cs.Close()
			for range callsEach {
				if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "traced"}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	flushTelemetry(t, rs.srv.Integration())

	if got := len(p.otlp.spansNamed("tools/call traced")); got != sessions*callsEach {
		t.Errorf("the platform stored %d call spans, want %d: a rejected span must not take its batch with it", got, sessions*callsEach)
	}
	rep, err := fetchHealth(rs.base)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Telemetry.DroppedSpans != 0 || rep.Telemetry.RejectedSpans != sessions*callsEach {
		t.Errorf("/health telemetry = %+v, want 0 dropped and %d rejected", rep.Telemetry, sessions*callsEach)
	}
	out := rs.logs.String()
	if countLines(out, logRejected) != 1 || strings.Contains(out, logUnreachable) {
		t.Errorf("want one rejection log and no unreachable log:\n%s", out)
	}
}

func TestPartialSuccess_RejectedMetricPointsAreLoggedWithTheReasonNotAsUnreachable(t *testing.T) {
	p := startPlatformFake(t)
	p.otlp.rejectPoints.Store(1)
	rs := telemetryServer(t, p, nil)
	ctx := testContext(t)
	cs, _, err := connectAs(ctx, rs.base, "alice-token")
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": "m"}}); err != nil {
		t.Fatal(err)
	}
	for range 2 { // two exports within a minute: one log
		flushTelemetry(t, rs.srv.Integration())
	}
	out := rs.logs.String()
	for _, want := range []string{
		"mcp-obs: telemetry metric data points rejected: the mcp-obs platform rejected 1 metric data point it cannot store",
		"rejected=1 rejected_total=1",
		"Gauge (not stored)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}
	if n := countLines(out, "metric data points rejected"); n != 1 {
		t.Errorf("%d rejection logs for 2 exports within a minute, want 1:\n%s", n, out)
	}
	if strings.Contains(out, "metrics not exported") || strings.Contains(out, logUnreachable) {
		t.Errorf("a partial success is logged as an unreachable platform:\n%s", out)
	}
	if rep, err := fetchHealth(rs.base); err != nil || rep.Telemetry.DroppedSpans != 0 {
		t.Errorf("/health telemetry = %+v (%v), want nothing dropped", rep.Telemetry, err)
	}
}

// Exports at once (a metric reader's ForceFlush beside its periodic export)
// share one count: each partial success is counted once, and logged once a
// minute.
func TestPartialSuccess_ConcurrentExportsAreEachCountedOnce(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, secret, ok := r.BasicAuth(); !ok || id != fakeClientID || secret != fakeClientSecret {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		resp := ptraceotlp.NewExportResponse()
		resp.PartialSuccess().SetRejectedSpans(2)
		resp.PartialSuccess().SetErrorMessage("rejected 2 of 3 spans: 2 start time before 1970")
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(marshalAnswer(resp.MarshalProto, resp.MarshalJSON, false))
	}))
	t.Cleanup(srv.Close)
	logger, logs := newTestLogger()
	rejected := newSpanRejections("the mcp-obs platform", logger)
	hc := newPlatformClient(nil, fakeClientID, fakeClientSecret).exportClient(exportAttemptTimeout, rejected)

	const exports = 16
	var g errgroup.Group
	for range exports {
		g.Go(func() error {
			resp, err := hc.Post(srv.URL+platformTracesPath, "application/x-protobuf", strings.NewReader("spans"))
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.ContentLength > 0 {
				t.Errorf("the exporter gets %s with %d bytes, want a plain 200", resp.Status, resp.ContentLength)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := rejected.count(); got != 2*exports {
		t.Errorf("rejected = %d, want %d", got, 2*exports)
	}
	if n := countLines(logs.String(), logRejected); n != 1 {
		t.Errorf("%d rejection logs within a minute, want 1:\n%s", n, logs.String())
	}
}
