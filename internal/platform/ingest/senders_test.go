package ingest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"
)

// batchOf builds n spans of one trace, ids derived from seed.
func batchOf(seed, n int, start time.Time) ptrace.Traces {
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
	for i := range n {
		s := ss.AppendEmpty()
		s.SetTraceID(pcommon.TraceID{byte(seed >> 8), byte(seed), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14})
		s.SetSpanID(pcommon.SpanID{byte(seed >> 8), byte(seed), byte(i >> 8), byte(i), 1, 1, 1, 1})
		s.SetName("tools/call echo")
		s.SetKind(ptrace.SpanKindServer)
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Millisecond)))
		s.Attributes().PutStr("mcp.method.name", "tools/call")
		s.Attributes().PutStr("gen_ai.tool.name", "echo")
	}
	return td
}

func TestTraces_ConcurrentSendersShareCommitsAndResendsAreStoredOnce(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		const senders, batches, size = 2, 10, 20
		start := time.Now().UTC().Truncate(time.Minute)
		var g errgroup.Group
		barrier := make(chan struct{})
		for s := range senders {
			tn := e.a
			if s == 1 {
				tn = e.b
			}
			g.Go(func() error {
				<-barrier
				for b := range batches {
					body := protoBody(t, batchOf(s*100+b, size, start))
					for range 2 { // every batch is sent twice, as a retrying sender would
						r := e.post(t, "/v1/traces", body, "Authorization", tn.basic(), "Content-Type", "application/x-protobuf")
						if r.code != 200 {
							return fmt.Errorf("sender %d batch %d: %d %s", s, b, r.code, r.body)
						}
					}
				}
				return nil
			})
		}
		close(barrier)
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
		for _, tn := range []tenant{e.a, e.b} {
			sum, err := e.tel.Summary(context.Background(), tn.srv.ID, start, start.Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if sum.Calls != batches*size {
				t.Errorf("tenant %s: %d calls, want %d (each batch counted once)", tn.srv.Slug, sum.Calls, batches*size)
			}
		}
	})
}

func TestTraces_TheOpenTelemetrySDKExporterSendsWithAnIngestKey(t *testing.T) {
	e := newEnv(t, "sqlite")
	ctx := context.Background()
	_, key, err := e.keys.Create(ctx, "alpha", "sdk")
	if err != nil {
		t.Fatal(err)
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(e.url+"/v1/traces"),
		otlptracehttp.WithHeaders(map[string]string{"Authorization": "Bearer " + key}),
		otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))
	_, span := tp.Tracer("test").Start(ctx, "tools/call echo", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("mcp.method.name", "tools/call"), attribute.String("gen_ai.tool.name", "echo"),
			attribute.String("user.id", "ann"), attribute.String("oauth.client.id", "cursor")))
	span.End()
	if err := tp.Shutdown(ctx); err != nil { // flushes; an export error (a non-2xx) is returned here
		t.Fatal(err)
	}
	got := e.spansOf(t, e.a.srv.ID)
	if len(got) != 1 || got[0].Tool != "echo" || got[0].UserID != "ann" || got[0].ClientID != "cursor" || got[0].Kind != 2 {
		t.Fatalf("stored %+v", got)
	}
	if got[0].TraceID != [16]byte(span.SpanContext().TraceID()) {
		t.Fatal("trace id changed on the way")
	}
}

func TestMetrics_StoresHistogramsAndCountersAndRejectsOtherTypes(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		now := time.Now().UTC().Truncate(time.Millisecond)
		md := pmetric.NewMetrics()
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("mcp_obs.server", "beta")
		ms := rm.ScopeMetrics().AppendEmpty().Metrics()
		h := ms.AppendEmpty()
		h.SetName("mcp.server.operation.duration")
		hist := h.SetEmptyHistogram()
		hist.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		dp := hist.DataPoints().AppendEmpty()
		dp.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Minute)))
		dp.SetTimestamp(pcommon.NewTimestampFromTime(now))
		dp.SetCount(3)
		dp.SetSum(0.3)
		dp.ExplicitBounds().FromRaw([]float64{0.01, 0.1, 1})
		dp.BucketCounts().FromRaw([]uint64{0, 1, 2, 0})
		dp.Attributes().PutStr("mcp.method.name", "tools/call")
		g := ms.AppendEmpty()
		g.SetName("process.memory")
		g.SetEmptyGauge().DataPoints().AppendEmpty().SetIntValue(5)
		c := ms.AppendEmpty() // a counter, as the SDK's mcpobs.server.refusals
		c.SetName("mcpobs.server.refusals")
		counter := c.SetEmptySum()
		counter.SetIsMonotonic(true)
		counter.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
		cp := counter.DataPoints().AppendEmpty()
		cp.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Minute)))
		cp.SetTimestamp(pcommon.NewTimestampFromTime(now))
		cp.SetIntValue(7)
		cp.Attributes().PutStr("error.type", "invalid_token")
		u := ms.AppendEmpty() // an up-down counter: not stored
		u.SetName("sessions.live")
		u.SetEmptySum().DataPoints().AppendEmpty().SetIntValue(2)

		req := pmetricotlp.NewExportRequestFromMetrics(md)
		for _, enc := range []string{"application/x-protobuf", "application/json"} {
			var body []byte
			if enc == "application/json" {
				body, _ = req.MarshalJSON()
			} else {
				body, _ = req.MarshalProto()
			}
			r := e.post(t, "/v1/metrics", body, "Authorization", e.a.basic(), "Content-Type", enc)
			if r.code != 200 {
				t.Fatalf("%s: %d %s", enc, r.code, r.body)
			}
			resp := pmetricotlp.NewExportResponse()
			if enc == "application/json" {
				err := resp.UnmarshalJSON(r.body)
				if err != nil {
					t.Fatal(err)
				}
			} else if err := resp.UnmarshalProto(r.body); err != nil {
				t.Fatal(err)
			}
			if ps := resp.PartialSuccess(); ps.RejectedDataPoints() != 2 || !strings.Contains(ps.ErrorMessage(), "Gauge") ||
				!strings.Contains(ps.ErrorMessage(), "non-monotonic Sum") {
				t.Fatalf("%s: partial success %d %q, want the gauge and up-down sum points rejected", enc, ps.RejectedDataPoints(), ps.ErrorMessage())
			}
		}
		points, err := e.tel.MetricPoints(context.Background(), e.a.srv.ID, "mcp.server.operation.duration", now.Add(-time.Hour), now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(points) != 1 || points[0].Count != 3 || len(points[0].Counts) != 4 || !strings.Contains(string(points[0].Attributes), "tools/call") {
			t.Fatalf("stored points %+v (the same point sent twice is stored once)", points)
		}
		counts, err := e.tel.MetricPoints(context.Background(), e.a.srv.ID, "mcpobs.server.refusals", now.Add(-time.Hour), now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(counts) != 1 || counts[0].Count != 7 || counts[0].Sum != 7 || !counts[0].Delta || len(counts[0].Counts) != 0 ||
			!strings.Contains(string(counts[0].Attributes), "invalid_token") {
			t.Fatalf("stored counter points %+v, want one delta point of 7 without buckets", counts)
		}
		if other, _ := e.tel.MetricPoints(context.Background(), e.b.srv.ID, "mcp.server.operation.duration", now.Add(-time.Hour), now.Add(time.Hour)); len(other) != 0 {
			t.Fatal("a resource attribute put points under another tenant")
		}
	})
}

func TestPrometheusMetrics_CountRoutesAndIngest(t *testing.T) {
	e := newEnv(t, "sqlite")
	body := protoBody(t, batchOf(1, 5, time.Now()))
	if r := e.post(t, "/v1/traces", body, "Authorization", e.a.basic(), "Content-Type", "application/x-protobuf"); r.code != 200 {
		t.Fatal(r.code)
	}
	e.post(t, "/v1/traces", body, "Content-Type", "application/x-protobuf") // 401
	http.Get(e.url + "/no/such/path")
	resp, err := http.Get(e.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`mcpobs_http_requests_total{code="200",route="POST /v1/traces"} 1`,
		`mcpobs_http_requests_total{code="401",route="POST /v1/traces"} 1`,
		`mcpobs_http_requests_total{code="404",route="unmatched"} 1`,
		`mcpobs_http_request_duration_seconds_bucket{route="POST /v1/traces",le="+Inf"} 2`,
		`mcpobs_ingest_spans_accepted_total 5`,
		`mcpobs_ingest_spans_rejected_total 0`,
		`mcpobs_ingest_spans_dropped_total 0`,
		`mcpobs_ingest_queue_spans 0`,
		`mcpobs_ingest_commit_spans_count 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(text), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestPlatform_WithoutTelemetryHasNoReceiver: Config.Telemetry nil turns
// the receiver off (404) and keeps /metrics.
func TestPlatform_WithoutTelemetryHasNoReceiver(t *testing.T) {
	st, _ := openStores(t, "sqlite")
	e := newEnvNoTelemetry(t, st)
	if r := e.post(t, "/v1/traces", nil, "Content-Type", "application/x-protobuf"); r.code != http.StatusNotFound {
		t.Fatalf("/v1/traces without telemetry: %d", r.code)
	}
	resp, err := http.Get(e.url + "/metrics")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/metrics: %v %v", err, resp)
	}
	resp.Body.Close()
}
