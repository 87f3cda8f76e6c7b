package mcpobs

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestTelemetry_SampleRatioDecidesByTraceIDNotByTheClientsFlag(t *testing.T) {
	p := startPlatformFake(t)
	rs := telemetryServer(t, p, func(o *Options) { o.Telemetry.SampleRatio = 0.5 })
	ctx := testContext(t)
	cs, _, err := connectAs(ctx, rs.base, "alice-token")
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	// TraceIDRatioBased keeps a trace when the low 8 bytes of its id, as a
	// number, are below ratio × 2^64: these two ids are kept at 0.5, those
	// two dropped, whatever the sampled flag says.
	calls := []struct {
		traceID, flags string
		kept           bool
	}{
		{"11111111111111110000000000000001", "00", true},
		{"22222222222222220000000000000002", "01", true},
		{"3333333333333333ffffffffffffff00", "01", false},
		{"4444444444444444fffffffffffffff0", "00", false},
	}
	for _, c := range calls {
		params := &mcp.CallToolParams{Name: "traced"}
		params.SetMeta(map[string]any{"traceparent": "00-" + c.traceID + "-00f067aa0ba902b7-" + c.flags})
		if _, err := cs.CallTool(ctx, params); err != nil {
			t.Fatal(err)
		}
	}
	const unsampledCalls = 20 // random trace ids
	for range unsampledCalls {
		if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": "m"}}); err != nil {
			t.Fatal(err)
		}
	}
	flushTelemetry(t, rs.srv.Integration())

	byTrace := map[string][]string{}
	for _, s := range p.otlp.allSpans() {
		byTrace[s.TraceID] = append(byTrace[s.TraceID], s.Name)
	}
	for _, c := range calls {
		got := byTrace[c.traceID]
		if c.kept && len(got) != 2 { // the MCP span and the handler's
			t.Errorf("trace %s (flags %s): spans %v, want the MCP span and its child", c.traceID, c.flags, got)
		}
		if !c.kept && len(got) != 0 {
			t.Errorf("trace %s (flags %s): spans %v exported, want none at ratio 0.5", c.traceID, c.flags, got)
		}
	}
	// Metrics count every request, sampled or not.
	if n := sumCounts(p.otlp.metricPoints("mcp.server.operation.duration"), map[string]string{"mcp.method.name": "tools/call"}); n != int64(len(calls)+unsampledCalls) {
		t.Errorf("mcp.server.operation.duration counts %d tools/call, want %d", n, len(calls)+unsampledCalls)
	}
}

func TestTelemetry_PayloadsAndEmailAreRecordedOnlyWhenOptedInAndPayloadsAreCapped(t *testing.T) {
	p := startPlatformFake(t)
	rs := telemetryServer(t, p, func(o *Options) {
		o.Telemetry.RecordPayloads = true
		o.Telemetry.RecordUserEmail = true
	})
	ctx := testContext(t)
	cs, _, err := connectAs(ctx, rs.base, "alice-token")
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": "small"}}); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("é", 6<<10) // 12 KiB of two-byte characters
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": big}}); err != nil {
		t.Fatal(err)
	}
	flushTelemetry(t, rs.srv.Integration())
	spans := p.otlp.waitSpans(t, 2, func(s gotSpan) bool { return s.Name == "tools/call echo" })
	var small, large gotSpan
	for _, s := range spans {
		if strings.Contains(s.Attrs["gen_ai.tool.call.arguments"], "small") {
			small = s
		} else {
			large = s
		}
	}
	if small.Attrs["gen_ai.tool.call.arguments"] != `{"message":"small"}` || !strings.Contains(small.Attrs["gen_ai.tool.call.result"], "echo: small") {
		t.Errorf("small call: arguments %q result %q", small.Attrs["gen_ai.tool.call.arguments"], small.Attrs["gen_ai.tool.call.result"])
	}
	if small.Attrs["user.email"] != "alice@example.com" {
		t.Errorf("user.email = %q with RecordUserEmail", small.Attrs["user.email"])
	}
	for _, k := range []string{"gen_ai.tool.call.arguments", "gen_ai.tool.call.result"} {
		v := large.Attrs[k]
		if !strings.HasSuffix(v, truncationMark) || len(v) > maxPayloadBytes+len(truncationMark) || len(v) < maxPayloadBytes-4 {
			t.Errorf("large call: %s is %d bytes (suffix %q), want at most %d plus the truncation mark", k, len(v), v[max(0, len(v)-20):], maxPayloadBytes)
		}
		if !strings.HasPrefix(strings.TrimSuffix(v, truncationMark), `{`) || strings.ContainsRune(strings.TrimSuffix(v, truncationMark), '\uFFFD') {
			t.Errorf("large call: %s was not cut at a character boundary", k)
		}
	}
}

func TestTelemetry_EnvEndpointAddsASecondDestinationThatNeverGetsThePlatformsCredentials(t *testing.T) {
	second := newOTLPReceiver()
	srv2 := second.start(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv2.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-author-key=author-backend-key")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json")
	t.Setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "none")
	t.Setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "20000")

	p := startPlatformFake(t)
	rs := telemetryServer(t, p, nil)
	ctx := testContext(t)
	cs := callEchoAsAlice(t, ctx, rs.base)
	cs.Close()
	flushTelemetry(t, rs.srv.Integration())

	mine := p.otlp.waitSpan(t, "tools/call echo")
	theirs := second.waitSpan(t, "tools/call echo")
	if mine.SpanID != theirs.SpanID {
		t.Errorf("the destinations got different spans: %s and %s", mine.SpanID, theirs.SpanID)
	}
	basic := base64.StdEncoding.EncodeToString([]byte(fakeClientID + ":" + fakeClientSecret))
	for _, r := range p.otlp.allRequests() {
		if r.header.Get("Authorization") != "Basic "+basic {
			t.Errorf("platform %s: Authorization %q, want the resource-server credentials", r.path, r.header.Get("Authorization"))
		}
		if r.header.Get("Content-Encoding") != "gzip" || r.header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("platform %s: %s, %s: the variables changed how the platform's copy is sent", r.path, r.header.Get("Content-Encoding"), r.header.Get("Content-Type"))
		}
		if r.header.Get("X-Author-Key") != "" {
			t.Errorf("platform %s: got the author's header meant for their backend", r.path)
		}
	}
	reqs := second.allRequests()
	var sawMetrics bool
	for _, r := range reqs {
		sawMetrics = sawMetrics || r.path == "/v1/metrics"
		if r.header.Get("X-Author-Key") != "author-backend-key" {
			t.Errorf("second destination %s: X-Author-Key %q, want the variables' header", r.path, r.header.Get("X-Author-Key"))
		}
		if r.path == "/v1/traces" && !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Errorf("second destination: Content-Type %q, want the variables' http/json", r.header.Get("Content-Type"))
		}
	}
	if !sawMetrics {
		t.Error("the second destination got no metrics")
	}
	for _, s := range []string{fakeClientSecret, basic, "Basic "} {
		if second.containsAnywhere(s) {
			t.Errorf("the second destination received %q", s)
		}
	}
}

func TestTelemetry_AnAuthorsProvidersReceiveTheSpansAndMetricsAndSoDoesThePlatform(t *testing.T) {
	mem := tracetest.NewInMemoryExporter()
	authorTP := sdktrace.NewTracerProvider(sdktrace.WithSyncer(mem))
	t.Cleanup(func() { authorTP.Shutdown(context.Background()) })
	reader := sdkmetric.NewManualReader()
	authorMP := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))

	p := startPlatformFake(t)
	rs := telemetryServer(t, p, func(o *Options) {
		o.Telemetry.TracerProvider = authorTP
		o.Telemetry.MeterProvider = authorMP
	})
	ctx := testContext(t)
	cs, _, err := connectAs(ctx, rs.base, "alice-token")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "traced"}); err != nil {
		t.Fatal(err)
	}
	cs.Close()
	flushTelemetry(t, rs.srv.Integration())

	mcpSpan := p.otlp.waitSpan(t, "tools/call traced")
	p.otlp.waitSpan(t, "handler work")
	var authorGot []string
	for _, s := range mem.GetSpans() {
		authorGot = append(authorGot, s.Name)
		if s.Name == "tools/call traced" && s.SpanContext.SpanID().String() != mcpSpan.SpanID {
			t.Errorf("the author's provider and the platform got different spans")
		}
	}
	if !strings.Contains(strings.Join(authorGot, ","), "tools/call traced") || !strings.Contains(strings.Join(authorGot, ","), "handler work") {
		t.Errorf("the author's provider got %v, want the MCP span and the handler's", authorGot)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	var authorCount uint64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if h, ok := m.Data.(metricdata.Histogram[float64]); ok && m.Name == "mcp.server.operation.duration" {
				for _, dp := range h.DataPoints {
					if v, _ := dp.Attributes.Value(attribute.Key("gen_ai.tool.name")); v.AsString() == "traced" {
						authorCount += dp.Count
					}
				}
			}
		}
	}
	if authorCount != 1 {
		t.Errorf("the author's MeterProvider counts %d tools/call traced, want 1", authorCount)
	}
	if n := sumCounts(p.otlp.metricPoints("mcp.server.operation.duration"), map[string]string{"gen_ai.tool.name": "traced"}); n != 1 {
		t.Errorf("the platform counts %d tools/call traced, want 1", n)
	}

	// Close leaves the author's provider running, without mcp-obs's processor.
	if err := rs.stop(); err != nil {
		t.Fatal(err)
	}
	_, span := authorTP.Tracer("after").Start(ctx, "after close")
	span.End()
	if got := mem.GetSpans(); got[len(got)-1].Name != "after close" {
		t.Errorf("the author's provider stopped working after Close")
	}
	if q := rs.srv.Integration().telemetry.platformSpans; q.queued() != 0 || len(p.otlp.spansNamed("after close")) != 0 {
		t.Error("the platform still receives the author's spans after Close")
	}
}

func TestTelemetry_ManualIntegrationRecordsWithTheMiddlewareAndWarnsOnceWithout(t *testing.T) {
	for _, withMiddleware := range []bool{true, false} {
		t.Run(map[bool]string{true: "with", false: "without"}[withMiddleware], func(t *testing.T) {
			p := startPlatformFake(t)
			p.issue(accessToken("alice-token"), "user-alice", "alice@example.com", "read", "write")
			server := mcp.NewServer(&mcp.Implementation{Name: "manual"}, nil)
			mcp.AddTool(server, &mcp.Tool{Name: "echo"}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
				return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "ok"}}}, nil, nil
			})
			var obs *Integration
			ps := startProtected(t, p, mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil), nil)
			obs = ps.obs
			if withMiddleware {
				server.AddReceivingMiddleware(obs.TelemetryMiddleware(), obs.ToolScopeMiddleware())
			}
			ctx := testContext(t)
			cs, _, err := connectAs(ctx, ps.srv.URL, "alice-token")
			if err != nil {
				t.Fatal(err)
			}
			defer cs.Close()
			for range 2 {
				if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo"}); err != nil {
					t.Fatal(err)
				}
			}
			flushTelemetry(t, obs)
			warnings := strings.Count(ps.logs.String(), "no telemetry middleware")
			if withMiddleware {
				if got := p.otlp.waitSpans(t, 2, func(s gotSpan) bool { return s.Name == "tools/call echo" }); got[0].Attrs["user.id"] != "user-alice" {
					t.Errorf("span attributes %v", got[0].Attrs)
				}
				if warnings != 0 {
					t.Errorf("warned about a missing middleware that is there")
				}
				return
			}
			if n := len(p.otlp.spansNamed("tools/call echo")); n != 0 {
				t.Errorf("%d spans without the middleware", n)
			}
			if warnings != 1 {
				t.Errorf("the missing middleware was warned about %d times, want once:\n%s", warnings, ps.logs.String())
			}
		})
	}
}

func TestTelemetry_SampleRatioOutOfRangeIsAConfigErrorNamingTheField(t *testing.T) {
	for _, ratio := range []float64{-0.1, 1.5} {
		_, err := New(Config{ServerSlug: "test", PlatformURL: "http://localhost:3000", ServerURL: "http://localhost:3005/mcp",
			ClientID: "id", ClientSecret: "secret", Telemetry: Telemetry{SampleRatio: ratio}})
		if err == nil || !strings.Contains(err.Error(), "Config.Telemetry.SampleRatio") {
			t.Errorf("ratio %v: error %v, want one naming Config.Telemetry.SampleRatio", ratio, err)
		}
	}
}
