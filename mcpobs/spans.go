package mcpobs

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"
)

// attrOAuthClientID is the span attribute naming the OAuth client a request's
// user signed in through. The OpenTelemetry semantic conventions have no
// attribute for it yet; the name is namespaced so that it cannot collide with
// one they add.
const attrOAuthClientID = attribute.Key("oauth.client.id")

// Values of error.type that are not JSON-RPC error codes.
const (
	errorTypeToolError = "tool_error" // a tools/call result with isError
)

// Attributes that are the same on every span.
var (
	attrNetworkHTTP = semconv.NetworkProtocolName("http")
	traceContext    = propagation.TraceContext{}
)

// TelemetryMiddleware returns the MCP receiving middleware that records one
// span per MCP request and the request metrics, as [Telemetry] describes.
// [NewServer] installs it. With [New], add it so that it is outermost and
// sees what the other middleware does and refuses: first in its call of
// AddReceivingMiddleware, and in the last call (each call wraps the
// middleware added before it):
//
//	server.AddReceivingMiddleware(obs.TelemetryMiddleware(), obs.ToolScopeMiddleware())
//
// It reads what [Integration.Middleware] learned about the HTTP request
// (arrival time, client address, the JSON-RPC id), so the MCP endpoint must
// be behind that middleware. With telemetry off, it passes requests through.
func (s *Integration) TelemetryMiddleware() mcp.Middleware {
	t := s.telemetry
	if t == nil {
		return func(next mcp.MethodHandler) mcp.MethodHandler { return next }
	}
	t.middlewareUsed.Store(true)
	return t.middleware
}

// targetKind says what an MCP request's target is.
type targetKind uint8

const (
	noTarget targetKind = iota
	toolTarget
	promptTarget
	resourceTarget
)

// mcpCall is what a span needs from the decoded request.
type mcpCall struct {
	kind   targetKind
	target string          // tool or prompt name, or resource URI (capped)
	meta   map[string]any  // params._meta
	args   json.RawMessage // tools/call arguments
}

// describeCall reads the target and _meta of req without decoding anything:
// the official SDK has decoded the parameters already.
func describeCall(req mcp.Request) mcpCall {
	switch r := req.(type) {
	case *mcp.CallToolRequest:
		if r.Params != nil {
			return mcpCall{kind: toolTarget, target: capString(r.Params.Name, maxClientStringBytes), meta: r.Params.Meta, args: r.Params.Arguments}
		}
		return mcpCall{}
	case *mcp.GetPromptRequest:
		if r.Params != nil {
			return mcpCall{kind: promptTarget, target: capString(r.Params.Name, maxClientStringBytes), meta: r.Params.Meta}
		}
		return mcpCall{}
	case *mcp.ReadResourceRequest:
		if r.Params != nil {
			return mcpCall{kind: resourceTarget, target: capString(r.Params.URI, maxResourceURIBytes), meta: r.Params.Meta}
		}
		return mcpCall{}
	}
	// Other methods have no target; their parameters may be a nil pointer,
	// whose GetMeta would panic.
	p := req.GetParams()
	if p == nil {
		return mcpCall{}
	}
	if v := reflect.ValueOf(p); v.Kind() == reflect.Pointer && v.IsNil() {
		return mcpCall{}
	}
	return mcpCall{meta: p.GetMeta()}
}

// spanName is "{method} {target}" for tools and prompts, else the method. A
// resource URI is not put in the name: it may hold ids, and span names are
// meant to be few.
func (c mcpCall) spanName(method string) string {
	if (c.kind == toolTarget || c.kind == promptTarget) && c.target != "" {
		return method + " " + c.target
	}
	return method
}

// metaCarrier reads W3C trace context from params._meta.
type metaCarrier map[string]any

func (m metaCarrier) Get(key string) string {
	s, _ := m[key].(string)
	return s
}
func (m metaCarrier) Set(key, value string) { m[key] = value }
func (m metaCarrier) Keys() []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// parentContext returns ctx with the remote parent the client sent:
// params._meta.traceparent (the MCP convention), else the HTTP traceparent
// header.
func parentContext(ctx context.Context, meta map[string]any, req mcp.Request) context.Context {
	if tp, _ := meta["traceparent"].(string); tp != "" {
		return traceContext.Extract(ctx, metaCarrier(meta))
	}
	if extra := req.GetExtra(); extra != nil && extra.Header != nil {
		if len(extra.Header["Traceparent"]) > 0 {
			return traceContext.Extract(ctx, propagation.HeaderCarrier(extra.Header))
		}
	}
	return ctx
}

// outcome is how an MCP request ended.
type outcome struct {
	errorType  string // "" when it succeeded
	statusCode string // the JSON-RPC error code, if the answer was an error
	message    string // the JSON-RPC error message (capped)
}

// outcomeOf reads the outcome from the handler's answer. A JSON-RPC error's
// code is what the client receives: the wire error's code, or 0 for a plain
// Go error, which the SDK sends with code 0.
func outcomeOf(res mcp.Result, err error) outcome {
	if err != nil {
		var code int64
		if we, ok := errors.AsType[*jsonrpc.Error](err); ok {
			code = we.Code
		}
		c := jsonrpcCode(code)
		return outcome{errorType: c, statusCode: c, message: capString(err.Error(), maxClientStringBytes)}
	}
	if r, ok := res.(*mcp.CallToolResult); ok && r != nil && r.IsError {
		return outcome{errorType: errorTypeToolError}
	}
	return outcome{}
}

// jsonrpcCode formats a JSON-RPC error code, without allocating for the
// standard ones.
func jsonrpcCode(code int64) string {
	switch code {
	case jsonrpc.CodeInvalidParams:
		return "-32602"
	case jsonrpc.CodeMethodNotFound:
		return "-32601"
	case jsonrpc.CodeInternalError:
		return "-32603"
	case jsonrpc.CodeInvalidRequest:
		return "-32600"
	case 0:
		return "0"
	}
	return strconv.FormatInt(code, 10)
}

// protocolVersion is the MCP protocol version of req: the negotiated one for
// initialize, else the Mcp-Protocol-Version header the client sends with
// every later request, else the version its initialize asked for.
func protocolVersion(req mcp.Request, res mcp.Result) string {
	if r, ok := res.(*mcp.InitializeResult); ok && r != nil {
		return r.ProtocolVersion
	}
	if extra := req.GetExtra(); extra != nil {
		if v := extra.Header["Mcp-Protocol-Version"]; len(v) > 0 {
			return capString(v[0], 32)
		}
	}
	if ss, ok := req.GetSession().(*mcp.ServerSession); ok && ss != nil {
		if p := ss.InitializeParams(); p != nil {
			return capString(p.ProtocolVersion, 32)
		}
	}
	return ""
}

// attrPool recycles the attribute slices of spans: SetAttributes copies them.
var attrPool = sync.Pool{New: func() any { s := make([]attribute.KeyValue, 0, 24); return &s }}

// middleware records the span and metrics of each MCP request.
func (t *telemetry) middleware(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		facts := requestFactsOf(req)
		var start time.Time
		if facts != nil {
			start = facts.arrived
		} else {
			start = time.Now()
		}
		call := describeCall(req)
		spanCtx, span := t.tracer.Start(parentContext(ctx, call.meta, req), call.spanName(method),
			trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(start))

		res, err := next(spanCtx, method, req)

		end := time.Now()
		out := outcomeOf(res, err)
		version := protocolVersion(req, res)
		if span.IsRecording() {
			t.annotate(span, method, call, req, facts, res, out, version)
		}
		span.End()
		t.recordOperation(ctx, method, call, out, version, facts, end.Sub(start))
		if method == "initialize" && err == nil {
			if ss, ok := req.GetSession().(*mcp.ServerSession); ok && ss != nil {
				t.watchSession(ss, start, version, facts)
			}
		}
		return res, err
	}
}

// annotate sets the attributes and status of a recorded span, all at once.
func (t *telemetry) annotate(span trace.Span, method string, call mcpCall, req mcp.Request, facts *requestFacts, res mcp.Result, out outcome, version string) {
	p := attrPool.Get().(*[]attribute.KeyValue)
	attrs := append((*p)[:0], semconv.McpMethodNameKey.String(method))
	switch call.kind {
	case toolTarget:
		attrs = append(attrs, semconv.GenAIToolName(call.target), semconv.GenAIOperationNameExecuteTool)
	case promptTarget:
		attrs = append(attrs, semconv.GenAIPromptName(call.target))
	case resourceTarget:
		attrs = append(attrs, semconv.McpResourceURI(call.target))
	}
	if version != "" {
		attrs = append(attrs, semconv.McpProtocolVersion(version))
	}
	if ss, ok := req.GetSession().(*mcp.ServerSession); ok && ss != nil {
		if id := ss.ID(); id != "" {
			attrs = append(attrs, semconv.McpSessionID(id))
		}
	}
	if id, ok := facts.requestID(); ok {
		attrs = append(attrs, semconv.JSONRPCRequestID(id))
	}
	attrs = append(attrs, semconv.NetworkTransportTCP, attrNetworkHTTP)
	if facts != nil {
		if facts.httpVersion != "" {
			attrs = append(attrs, semconv.NetworkProtocolVersion(facts.httpVersion))
		}
		attrs = append(attrs, semconv.ClientAddress(facts.clientAddress))
	}
	attrs = t.appendUser(attrs, UserFromRequest(req))
	if out.errorType != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(out.errorType))
	}
	if out.statusCode != "" {
		attrs = append(attrs, semconv.RPCResponseStatusCode(out.statusCode))
	}
	if t.cfg.RecordPayloads && call.kind == toolTarget {
		if len(call.args) > 0 {
			attrs = append(attrs, semconv.GenAIToolCallArgumentsKey.String(capBytes(call.args, maxPayloadBytes)))
		}
		if r, ok := res.(*mcp.CallToolResult); ok && r != nil {
			if b, err := json.Marshal(r); err == nil {
				attrs = append(attrs, semconv.GenAIToolCallResultKey.String(capBytes(b, maxPayloadBytes)))
			}
		}
	}
	span.SetAttributes(attrs...)
	clear(attrs)
	*p = attrs[:0]
	attrPool.Put(p)
	if out.errorType != "" {
		span.SetStatus(codes.Error, out.message)
	}
}

// appendUser adds the verified caller: user.id, oauth.client.id, and
// user.email if the author opted in.
func (t *telemetry) appendUser(attrs []attribute.KeyValue, u *User) []attribute.KeyValue {
	if u == nil {
		return attrs
	}
	attrs = append(attrs, semconv.UserID(u.Subject))
	if u.ClientID != "" {
		attrs = append(attrs, attrOAuthClientID.String(u.ClientID))
	}
	if t.cfg.RecordUserEmail && u.Email != "" {
		attrs = append(attrs, semconv.UserEmail(u.Email))
	}
	return attrs
}

// opKey identifies the attribute set of one mcp.server.operation.duration
// series.
type opKey struct {
	method, target, errorType, statusCode, version, httpVersion string
	kind                                                        targetKind
}

// attrSetCache keeps the attribute sets of the operation metric, so that a
// request does not sort and allocate its set. It is bounded: past
// maxCachedAttrSets series, sets are built per request.
type attrSetCache struct {
	sets sync.Map // opKey -> attribute.Set
	n    atomic.Int64
}

const maxCachedAttrSets = 1024

func (c *attrSetCache) get(k opKey) attribute.Set {
	if v, ok := c.sets.Load(k); ok {
		return v.(attribute.Set)
	}
	set := k.attributes()
	if c.n.Load() < maxCachedAttrSets {
		if _, loaded := c.sets.LoadOrStore(k, set); !loaded {
			c.n.Add(1)
		}
	}
	return set
}

// attributes builds the metric attributes of k.
func (k opKey) attributes() attribute.Set {
	attrs := []attribute.KeyValue{semconv.McpMethodNameKey.String(k.method), semconv.NetworkTransportTCP, attrNetworkHTTP}
	switch k.kind {
	case toolTarget:
		attrs = append(attrs, semconv.GenAIToolName(k.target), semconv.GenAIOperationNameExecuteTool)
	case promptTarget:
		attrs = append(attrs, semconv.GenAIPromptName(k.target))
	}
	if k.errorType != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(k.errorType))
	}
	if k.statusCode != "" {
		attrs = append(attrs, semconv.RPCResponseStatusCode(k.statusCode))
	}
	if k.version != "" {
		attrs = append(attrs, semconv.McpProtocolVersion(k.version))
	}
	if k.httpVersion != "" {
		attrs = append(attrs, semconv.NetworkProtocolVersion(k.httpVersion))
	}
	return attribute.NewSet(attrs...)
}

// recordOperation records the request's duration in
// mcp.server.operation.duration. A request that failed with a JSON-RPC error
// is recorded without its tool or prompt name ("_OTHER"): the name may be
// anything a client made up (an unknown tool), and each would be one more
// series. Its span keeps the name.
func (t *telemetry) recordOperation(ctx context.Context, method string, call mcpCall, out outcome, version string, facts *requestFacts, d time.Duration) {
	k := opKey{method: method, kind: call.kind, errorType: out.errorType, statusCode: out.statusCode, version: version}
	if call.kind == toolTarget || call.kind == promptTarget {
		k.target = call.target
		if out.statusCode != "" {
			k.target = "_OTHER"
		}
	} else {
		k.kind = noTarget // resource URIs are not metric attributes
	}
	if facts != nil {
		k.httpVersion = facts.httpVersion
	}
	set := t.opAttrs.get(k)
	for _, h := range t.opDuration {
		h.RecordSet(ctx, d.Seconds(), set)
	}
}

// watchSession records mcp.server.session.duration when ss ends. A session
// is watched once, however many initialize requests it gets.
func (t *telemetry) watchSession(ss *mcp.ServerSession, start time.Time, version string, facts *requestFacts) {
	t.sessionsMu.Lock()
	if _, ok := t.sessions[ss]; ok {
		t.sessionsMu.Unlock()
		return
	}
	t.sessions[ss] = struct{}{}
	t.sessionsMu.Unlock()
	attrs := []attribute.KeyValue{semconv.NetworkTransportTCP, attrNetworkHTTP}
	if version != "" {
		attrs = append(attrs, semconv.McpProtocolVersion(version))
	}
	if facts != nil && facts.httpVersion != "" {
		attrs = append(attrs, semconv.NetworkProtocolVersion(facts.httpVersion))
	}
	set := attribute.NewSet(attrs...)
	go func() {
		_ = ss.Wait() // returns once the session has ended, however it ended
		d := time.Since(start).Seconds()
		for _, h := range t.sessionDuration {
			h.RecordSet(context.Background(), d, set)
		}
		t.sessionsMu.Lock()
		delete(t.sessions, ss)
		t.sessionsMu.Unlock()
	}()
}

// truncationMark ends a value that was cut.
const truncationMark = "…[truncated]"

// capString returns s, or its first max bytes (cut at a character boundary)
// followed by truncationMark.
func capString(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + truncationMark
}

// capBytes is capString for bytes.
func capBytes(b []byte, max int) string {
	if len(b) <= max {
		return string(b)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(b[cut]) {
		cut--
	}
	return string(b[:cut]) + truncationMark
}
