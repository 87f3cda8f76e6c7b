package mcpobs

import (
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"
)

// Why the bearer check refused a request: the error.type of its span and of
// the mcpobs.server.refusals metric.
const (
	refusedMissingToken      = "missing_token"           // 401, no bearer token
	refusedInvalidToken      = "invalid_token"           // 401
	refusedInsufficientScope = "insufficient_scope"      // 403
	refusedTooManyUnknown    = "too_many_unknown_tokens" // 429
	refusedPlatformDown      = "platform_unavailable"    // 503
)

// refusalStatus is the HTTP status each refusal is answered with.
var refusalStatus = map[string]int{
	refusedMissingToken:      http.StatusUnauthorized,
	refusedInvalidToken:      http.StatusUnauthorized,
	refusedInsufficientScope: http.StatusForbidden,
	refusedTooManyUnknown:    http.StatusTooManyRequests,
	refusedPlatformDown:      http.StatusServiceUnavailable,
}

// refusalMetricAttrs are the attribute sets of the refusal counter, one per
// reason, built once: a flood of refusals costs a counter increment each.
func refusalMetricAttrs() map[string]attribute.Set {
	sets := make(map[string]attribute.Set, len(refusalStatus))
	for reason, status := range refusalStatus {
		sets[reason] = attribute.NewSet(semconv.ErrorTypeKey.String(reason), semconv.HTTPResponseStatusCode(status))
	}
	return sets
}

// refusal is one request the bearer check refused.
type refusal struct {
	r       *http.Request
	arrived time.Time
	reason  string
	route   string // the MCP endpoint's path
	user    *User  // the verified user of a 403, else nil
	// body is the request body when the check read it (for tool scopes),
	// to name the tool a 403 was about.
	body []byte
}

// refused records a refusal: always in the refusal counter, and as a span
// within the server's budget of refusal spans (refusalSpansPerSecond, bursts
// of refusalSpanBurst). Refusing a made-up token is cheap, and a client can
// send them as fast as the network allows; without the budget every one
// would become a span to export. No token, header or body is recorded.
func (t *telemetry) refused(f refusal) {
	if t == nil {
		return
	}
	ctx := f.r.Context()
	set := t.refusalAttrs[f.reason]
	for _, c := range t.refusals {
		c.Add(ctx, 1, metric.WithAttributeSet(set))
	}
	if !t.refusalSpans.AllowN((*t.clock.Load())(), 1) {
		return
	}
	var tool string
	if f.body != nil {
		if tools, err := calledTools(f.body); err == nil && len(tools) > 0 {
			tool = capString(tools[0], maxClientStringBytes)
		}
	}
	name := f.r.Method + " " + f.route
	if tool != "" {
		name = "tools/call " + tool
	}
	parent := ctx
	if len(f.r.Header["Traceparent"]) > 0 {
		parent = traceContext.Extract(ctx, propagation.HeaderCarrier(f.r.Header))
	}
	_, span := t.tracer.Start(parent, name, trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(f.arrived))
	if span.IsRecording() {
		attrs := []attribute.KeyValue{
			semconv.ErrorTypeKey.String(f.reason),
			semconv.HTTPRequestMethodKey.String(f.r.Method),
			semconv.HTTPRoute(f.route),
			semconv.HTTPResponseStatusCode(refusalStatus[f.reason]),
			semconv.NetworkTransportTCP, attrNetworkHTTP,
			semconv.ClientAddress(clientAddress(f.r.RemoteAddr)),
		}
		if v := httpVersion(f.r); v != "" {
			attrs = append(attrs, semconv.NetworkProtocolVersion(v))
		}
		if tool != "" {
			attrs = append(attrs, semconv.McpMethodNameKey.String("tools/call"), semconv.GenAIToolName(tool), semconv.GenAIOperationNameExecuteTool)
		}
		attrs = t.appendUser(attrs, f.user)
		span.SetAttributes(attrs...)
		span.SetStatus(codes.Error, f.reason)
	}
	span.End()
}
