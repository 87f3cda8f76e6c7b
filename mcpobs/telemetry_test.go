package mcpobs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"
)

// telemetryTools adds the tools, prompt and resource the telemetry tests call.
func telemetryTools(srv *Server) {
	type echoIn struct {
		Message string `json:"message"`
	}
	AddTool(srv, &mcp.Tool{Name: "echo", Description: "Echo a message"},
		func(ctx context.Context, req *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "echo: " + in.Message}}}, nil, nil
		})
	AddTool(srv, &mcp.Tool{Name: "fail", Description: "Always fails"},
		func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
			return nil, nil, errors.New("the tool failed on purpose")
		})
	// traced starts a span of its own from the request's context, the way
	// a handler's work shows up in the request's trace.
	AddTool(srv, &mcp.Tool{Name: "traced", Description: "Makes a child span"},
		func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
			_, span := trace.SpanFromContext(ctx).TracerProvider().Tracer("handler").Start(ctx, "handler work")
			span.End()
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "ok"}}}, nil, nil
		})
	srv.MCP().AddPrompt(&mcp.Prompt{Name: "greet", Description: "A greeting"},
		func(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: "hello"}}}}, nil
		})
	srv.MCP().AddResource(&mcp.Resource{URI: "file:///notes.txt", Name: "notes", MIMEType: "text/plain"},
		func(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "notes"}}}, nil
		})
}

// telemetryServer starts a Server with the telemetry tools for platform p,
// with its user "alice" (token "alice-token") signed in through
// mcp_test_client, and waits until it serves.
func telemetryServer(t *testing.T, p *platformFake, change func(*Options)) *runningServer {
	t.Helper()
	p.issue(accessToken("alice-token"), "user-alice", "alice@example.com", "read", "write")
	rs := startServer(t, p, change, telemetryTools)
	waitHealthy(t, rs.base)
	return rs
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestTelemetry_ToolCallSpanHasTheConventionsNameKindAttributesUserAndClient(t *testing.T) {
	p := startPlatformFake(t)
	rs := telemetryServer(t, p, nil)
	ctx := testContext(t)
	cs, _, err := connectAs(ctx, rs.base, "alice-token")
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": "hi"}}); err != nil {
		t.Fatal(err)
	}
	flushTelemetry(t, rs.srv.Integration())

	span := p.otlp.waitSpan(t, "tools/call echo")
	if span.Kind != ptrace.SpanKindServer {
		t.Errorf("kind = %v, want SERVER", span.Kind)
	}
	want := map[string]string{
		"mcp.method.name":          "tools/call",
		"gen_ai.tool.name":         "echo",
		"gen_ai.operation.name":    "execute_tool",
		"mcp.session.id":           cs.ID(),
		"network.transport":        "tcp",
		"network.protocol.name":    "http",
		"network.protocol.version": "1.1",
		"client.address":           "127.0.0.1",
		"user.id":                  "user-alice",
		"oauth.client.id":          "mcp_test_client",
	}
	for k, v := range want {
		if got := span.Attrs[k]; got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	for _, k := range []string{"mcp.protocol.version", "jsonrpc.request.id"} {
		if span.Attrs[k] == "" {
			t.Errorf("%s is missing; attributes: %v", k, span.Attrs)
		}
	}
	for _, k := range []string{"error.type", "rpc.response.status_code", "user.email", "gen_ai.tool.call.arguments", "gen_ai.tool.call.result"} {
		if v, ok := span.Attrs[k]; ok {
			t.Errorf("%s = %q, want it absent", k, v)
		}
	}
	if span.Status == ptrace.StatusCodeError {
		t.Errorf("status = error (%s), want unset", span.StatusMessage)
	}
	if span.Resource["service.name"] != "Demo Server with OAuth" || span.Resource["service.version"] != "1.0.0" {
		t.Errorf("resource = %v, want the server's name and version", span.Resource)
	}
	if !span.End.After(span.Start) {
		t.Errorf("the span ends (%v) before it starts (%v)", span.End, span.Start)
	}

	// The ids the SDK's client sent: initialize is 1, tools/call a later one;
	// they differ, and the span of initialize carries its own.
	init := p.otlp.waitSpan(t, "initialize")
	if init.Attrs["jsonrpc.request.id"] == "" || init.Attrs["jsonrpc.request.id"] == span.Attrs["jsonrpc.request.id"] {
		t.Errorf("initialize id %q, tools/call id %q: want two different ids", init.Attrs["jsonrpc.request.id"], span.Attrs["jsonrpc.request.id"])
	}
}

func TestTelemetry_FailingAndUnknownToolsAreRecordedAsErrors(t *testing.T) {
	p := startPlatformFake(t)
	rs := telemetryServer(t, p, nil)
	ctx := testContext(t)
	cs, _, err := connectAs(ctx, rs.base, "alice-token")
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "fail"})
	if err != nil || !res.IsError {
		t.Fatalf("fail: %v %+v, want an isError result", err, res)
	}
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "no_such_tool"}); err == nil {
		t.Fatal("an unknown tool was called without error")
	}
	flushTelemetry(t, rs.srv.Integration())

	for _, tc := range []struct {
		span, errorType, statusCode string
	}{
		{"tools/call fail", "tool_error", ""},
		{"tools/call no_such_tool", "-32602", "-32602"},
	} {
		span := p.otlp.waitSpan(t, tc.span)
		if span.Attrs["error.type"] != tc.errorType || span.Attrs["rpc.response.status_code"] != tc.statusCode {
			t.Errorf("%s: error.type %q, rpc.response.status_code %q; want %q, %q",
				tc.span, span.Attrs["error.type"], span.Attrs["rpc.response.status_code"], tc.errorType, tc.statusCode)
		}
		if span.Status != ptrace.StatusCodeError {
			t.Errorf("%s: status %v, want error", tc.span, span.Status)
		}
		if span.Attrs["gen_ai.tool.name"] != strings.TrimPrefix(tc.span, "tools/call ") {
			t.Errorf("%s: gen_ai.tool.name %q", tc.span, span.Attrs["gen_ai.tool.name"])
		}
	}
	// The result of the failed tool is not recorded: it is a tool result.
	if strings.Contains(p.otlp.waitSpan(t, "tools/call fail").StatusMessage, "on purpose") || p.otlp.containsAnywhere("on purpose") {
		t.Error("the failed tool's result text was exported without RecordPayloads")
	}
}

func TestTelemetry_EveryMethodGetsItsSpan(t *testing.T) {
	p := startPlatformFake(t)
	rs := telemetryServer(t, p, nil)
	ctx := testContext(t)
	cs, _, err := connectAs(ctx, rs.base, "alice-token")
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if _, err := cs.ListTools(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "greet"}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "file:///notes.txt"}); err != nil {
		t.Fatal(err)
	}
	flushTelemetry(t, rs.srv.Integration())

	for _, tc := range []struct {
		name  string
		attrs map[string]string
	}{
		{"initialize", map[string]string{"mcp.method.name": "initialize"}},
		{"tools/list", map[string]string{"mcp.method.name": "tools/list"}},
		{"prompts/get greet", map[string]string{"mcp.method.name": "prompts/get", "gen_ai.prompt.name": "greet"}},
		{"resources/read", map[string]string{"mcp.method.name": "resources/read", "mcp.resource.uri": "file:///notes.txt"}},
	} {
		span := p.otlp.waitSpan(t, tc.name)
		for k, v := range tc.attrs {
			if span.Attrs[k] != v {
				t.Errorf("%s: %s = %q, want %q", tc.name, k, span.Attrs[k], v)
			}
		}
		if span.Attrs["user.id"] != "user-alice" || span.Attrs["mcp.protocol.version"] == "" {
			t.Errorf("%s: attributes %v lack the user or the protocol version", tc.name, span.Attrs)
		}
		if _, ok := span.Attrs["gen_ai.operation.name"]; ok {
			t.Errorf("%s: gen_ai.operation.name is for tools/call only", tc.name)
		}
	}
}

func TestTelemetry_ConcurrentUsersEachGetTheirOwnSpans(t *testing.T) {
	p := startPlatformFake(t)
	p.issue(accessToken("bob-token"), "user-bob", "bob@example.com", "read", "write")
	rs := telemetryServer(t, p, nil)
	ctx := testContext(t)
	const callsEach = 20
	start := make(chan struct{})
	var g errgroup.Group
	for _, user := range []string{"alice", "bob"} {
		g.Go(func() error {
			cs, _, err := connectAs(ctx, rs.base, user+"-token")
			if err != nil {
				return err
			}
			defer cs.Close()
			<-start
			for i := range callsEach {
				if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": fmt.Sprint(user, i)}}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	close(start)
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	flushTelemetry(t, rs.srv.Integration())
	spans := p.otlp.waitSpans(t, 2*callsEach, func(s gotSpan) bool { return s.Name == "tools/call echo" })
	bySession := map[string]string{}
	perUser := map[string]int{}
	for _, s := range spans {
		perUser[s.Attrs["user.id"]]++
		if prev, ok := bySession[s.Attrs["mcp.session.id"]]; ok && prev != s.Attrs["user.id"] {
			t.Errorf("session %s has spans of %s and %s", s.Attrs["mcp.session.id"], prev, s.Attrs["user.id"])
		}
		bySession[s.Attrs["mcp.session.id"]] = s.Attrs["user.id"]
	}
	if perUser["user-alice"] != callsEach || perUser["user-bob"] != callsEach {
		t.Errorf("spans per user = %v, want %d each", perUser, callsEach)
	}
}

// traceparentTransport sends a W3C traceparent header with every request.
type traceparentTransport struct {
	next        http.RoundTripper
	traceparent string
}

func (t traceparentTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Traceparent", t.traceparent)
	return t.next.RoundTrip(r)
}

func TestTelemetry_ParentComesFromMetaTraceparentElseTheHTTPHeader(t *testing.T) {
	p := startPlatformFake(t)
	rs := telemetryServer(t, p, nil)
	ctx := testContext(t)
	const (
		headerTrace = "0af7651916cd43dd8448eb211c80319c"
		headerSpan  = "b7ad6b7169203331"
		metaTrace   = "4bf92f3577b34da6a3ce929d0e0e4736"
		metaSpan    = "00f067aa0ba902b7"
	)
	bt := &bearerTransport{token: accessToken("alice-token")}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "1"}, nil).Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint: rs.base + "/mcp", DisableStandaloneSSE: true, MaxRetries: -1,
		HTTPClient: &http.Client{Transport: traceparentTransport{next: bt, traceparent: "00-" + headerTrace + "-" + headerSpan + "-01"}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	// _meta wins over the header.
	params := &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": "m"}}
	params.SetMeta(map[string]any{"traceparent": "00-" + metaTrace + "-" + metaSpan + "-01"})
	if _, err := cs.CallTool(ctx, params); err != nil {
		t.Fatal(err)
	}
	// Without _meta, the header. The handler's own span is a child.
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "traced"}); err != nil {
		t.Fatal(err)
	}
	flushTelemetry(t, rs.srv.Integration())

	echo := p.otlp.waitSpan(t, "tools/call echo")
	if echo.TraceID != metaTrace || echo.ParentID != metaSpan {
		t.Errorf("with _meta.traceparent: trace %s parent %s, want %s %s", echo.TraceID, echo.ParentID, metaTrace, metaSpan)
	}
	traced := p.otlp.waitSpan(t, "tools/call traced")
	if traced.TraceID != headerTrace || traced.ParentID != headerSpan {
		t.Errorf("with the header only: trace %s parent %s, want %s %s", traced.TraceID, traced.ParentID, headerTrace, headerSpan)
	}
	child := p.otlp.waitSpan(t, "handler work")
	if child.TraceID != traced.TraceID || child.ParentID != traced.SpanID {
		t.Errorf("the handler's span: trace %s parent %s, want the MCP span %s %s", child.TraceID, child.ParentID, traced.TraceID, traced.SpanID)
	}
	if child.Start.Before(traced.Start) || child.End.After(traced.End) {
		t.Errorf("the MCP span [%v, %v] does not cover the handler's span [%v, %v]", traced.Start, traced.End, child.Start, child.End)
	}
}

func TestTelemetry_SessionDurationIsRecordedWhenTheSessionEnds(t *testing.T) {
	p := startPlatformFake(t)
	rs := telemetryServer(t, p, nil)
	ctx := testContext(t)
	cs := callEchoAsAlice(t, ctx, rs.base)
	cs.Close() // DELETE: the server ends the session
	deadline := time.Now().Add(30 * time.Second)
	for {
		flushTelemetry(t, rs.srv.Integration())
		if n := sumCounts(p.otlp.metricPoints("mcp.server.session.duration"), nil); n == 1 {
			break
		} else if n > 1 || time.Now().After(deadline) {
			t.Fatalf("mcp.server.session.duration counts %d sessions, want 1", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	points := p.otlp.metricPoints("mcp.server.operation.duration")
	if n := sumCounts(points, map[string]string{"mcp.method.name": "tools/call", "gen_ai.tool.name": "echo"}); n != 1 {
		t.Errorf("mcp.server.operation.duration counts %d tools/call echo, want 1", n)
	}
	for _, pt := range points {
		if pt.unit != "s" || len(pt.bounds) != len(durationBuckets) || pt.bounds[0] != 0.01 || pt.bounds[len(pt.bounds)-1] != 300 {
			t.Errorf("operation duration point unit %q bounds %v, want seconds and the conventions' buckets", pt.unit, pt.bounds)
			break
		}
	}
}

func TestTelemetry_DisabledRecordsAndExportsNothing(t *testing.T) {
	p := startPlatformFake(t)
	rs := telemetryServer(t, p, func(o *Options) { o.Telemetry.Disabled = true })
	ctx := testContext(t)
	cs := callEchoAsAlice(t, ctx, rs.base)
	cs.Close()
	// A refusal too.
	resp, err := http.Post(rs.base+"/mcp", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := rs.stop(); err != nil { // Run's exit would flush anything queued
		t.Fatal(err)
	}
	if rs.srv.Integration().telemetry != nil {
		t.Error("telemetry was started although Disabled")
	}
	if got := p.otlp.allRequests(); len(got) != 0 {
		t.Errorf("the platform received %d export requests, want none", len(got))
	}
}

func TestTelemetry_RunFlushesQueuedSpansOnExit(t *testing.T) {
	p := startPlatformFake(t)
	rs := telemetryServer(t, p, nil)
	ctx := testContext(t)
	cs := callEchoAsAlice(t, ctx, rs.base)
	cs.Close()
	if err := rs.stop(); err != nil {
		t.Fatal(err)
	}
	// No flush: Run's exit exported the spans still queued (the batch delay
	// had not passed), and the metrics.
	if n := len(p.otlp.spansNamed("tools/call echo")); n != 1 {
		t.Errorf("after Run returned, the platform has %d tools/call spans, want 1", n)
	}
	if n := sumCounts(p.otlp.metricPoints("mcp.server.operation.duration"), map[string]string{"gen_ai.tool.name": "echo"}); n != 1 {
		t.Errorf("after Run returned, the platform counts %d tools/call in the duration metric, want 1", n)
	}
}
