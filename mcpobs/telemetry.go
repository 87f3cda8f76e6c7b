package mcpobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/semconv/v1.41.0/mcpconv"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"
)

// Telemetry configures the per-call telemetry of a [Server] or an
// [Integration]. It is on by default: the zero value traces every MCP request
// and exports the spans and metrics to the platform, where the server's
// dashboard reads them.
//
// # What is recorded
//
// Every MCP request the server receives becomes one OpenTelemetry SERVER span,
// named "{method} {target}" (e.g. "tools/call echo"), following the
// OpenTelemetry semantic conventions for MCP: mcp.method.name,
// mcp.protocol.version, mcp.session.id, jsonrpc.request.id,
// gen_ai.operation.name ("execute_tool" for tools/call), gen_ai.tool.name,
// gen_ai.prompt.name, mcp.resource.uri, error.type (the JSON-RPC error code,
// or "tool_error" when a tool result has isError), rpc.response.status_code,
// network.transport, network.protocol.name, network.protocol.version and
// client.address (the peer's IP address, as the connection shows it). The
// caller is user.id (the verified subject) and oauth.client.id (the OAuth
// client the user signed in through; no semantic convention names it yet, so
// the name is namespaced). The span starts when the HTTP request arrives, so
// it includes the bearer check, and ends when the handler returns.
//
// Requests refused by the bearer check are recorded too, as spans with
// error.type "missing_token", "invalid_token" or "insufficient_scope" (and
// "too_many_unknown_tokens" or "platform_unavailable" for the 429 and 503
// answers), the HTTP status, the client address and, for a 403, the user. A
// client can send refused requests much faster than anyone needs to read
// them: at most 10 refusal spans a second are recorded (bursts of 50); every
// refusal is counted in the mcpobs.server.refusals metric all the same.
//
// Metrics: the mcp.server.operation.duration histogram (every request, traced
// or not) and mcp.server.session.duration (when a session ends), in seconds,
// with the buckets the conventions advise.
//
// # What is not recorded
//
// Tool arguments and results, unless RecordPayloads is set. The user's email,
// unless RecordUserEmail is set. Never: tokens, secrets, the Authorization
// header or any other header, request or response bodies.
//
// # Parents
//
// A span's parent is the W3C trace context the client sends in
// params._meta.traceparent (and tracestate), the MCP convention, else in the
// HTTP traceparent header. A handler's own spans are children of the request's
// span when they are started from the request's context with its provider:
//
//	ctx, span := trace.SpanFromContext(ctx).TracerProvider().Tracer("my-tool").Start(ctx, "query")
//
// # Where it goes
//
// To the platform's OTLP endpoints ({PlatformURL}/v1/traces and /v1/metrics:
// OTLP/HTTP, protobuf, gzip, in batches, authenticated with the server's
// resource-server credentials), and, when the standard OTEL_EXPORTER_OTLP_*
// environment variables name an endpoint (OTEL_EXPORTER_OTLP_ENDPOINT, or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT and OTEL_EXPORTER_OTLP_METRICS_ENDPOINT),
// also there, configured by those variables alone (their headers, protocol,
// certificates). The variables never change where or how the platform's copy
// goes, and the platform's credentials never go to the second destination.
//
// Export never slows a request: spans wait in a bounded queue (2048 per
// destination) and are sent in batches of up to 512 by a background
// goroutine. When a destination is slow or down, spans beyond the queue are
// dropped, counted (/health shows the count as telemetry.dropped_spans), and
// logged at most once a minute; export resumes when the destination answers
// again. The platform may also take a batch but reject some of its spans one
// by one (an OTLP partial_success, e.g. for a handler span dated before
// 1970): it stores the rest, and those spans are not dropped but rejected,
// counted apart (telemetry.rejected_spans) and logged, with the platform's
// reason, at most once a minute. Metrics are sent every 60 seconds
// (OTEL_METRIC_EXPORT_INTERVAL changes it), to the platform as deltas; data
// points the platform rejects are logged the same way. [Server.Run] and
// [Integration.Close] send what is queued before returning, for at most 5
// seconds.
type Telemetry struct {
	// Disabled turns telemetry off: no spans, no metrics, nothing exported,
	// and no cost on the request path.
	Disabled bool
	// SampleRatio is the share of MCP requests traced, from 0 to 1. Zero
	// means 1: every request. The decision is made from the trace id, so a
	// trace is kept or dropped whole, and the client's sampled flag does not
	// decide: a client can neither hide its calls nor force them to be
	// recorded. Metrics count every request whatever the ratio. It applies to
	// mcp-obs's own tracer provider; with TracerProvider set, your sampler
	// decides.
	SampleRatio float64
	// RecordPayloads records tool call arguments and results as the span
	// attributes gen_ai.tool.call.arguments and gen_ai.tool.call.result,
	// each cut at 4 KiB (a cut value ends with "…[truncated]"). Off by
	// default: arguments and results often carry your users' data.
	RecordPayloads bool
	// RecordUserEmail adds the verified user's email as user.email. Off by
	// default: user.id identifies the user without personal data.
	RecordUserEmail bool
	// TracerProvider, if set, is used instead of mcp-obs's own, for an
	// author who already runs one: the MCP spans are made with it (its
	// resource, its sampler, its exporters), and mcp-obs registers one more
	// span processor on it that sends the platform its copy. That processor
	// sees every span the provider ends, so the platform also receives your
	// other spans; it is unregistered (and your provider left running) by
	// [Integration.Close]. The OTEL_EXPORTER_OTLP_* variables then add no
	// trace destination: your provider's exporters are yours to configure.
	TracerProvider *sdktrace.TracerProvider
	// MeterProvider, if set, also receives the metrics: mcp-obs records each
	// measurement into it as well as into its own provider, which exports to
	// the platform. The OTEL_EXPORTER_OTLP_* variables then add no metric
	// destination.
	MeterProvider metric.MeterProvider
}

// Telemetry bounds and defaults.
const (
	// defaultSampleRatio is used when Telemetry.SampleRatio is zero.
	defaultSampleRatio = 1.0
	// maxPayloadBytes caps a recorded tool argument or result.
	maxPayloadBytes = 4 << 10
	// maxClientStringBytes caps the client-chosen strings recorded on every
	// span (tool and prompt names, resource URIs, request ids, error
	// messages), so that a client cannot make spans large.
	maxClientStringBytes = 256
	// maxResourceURIBytes caps mcp.resource.uri, longer than names.
	maxResourceURIBytes = 1 << 10
	// maxSpanAttributeBytes is the span limit on any attribute value of
	// mcp-obs's own provider (handler spans included) unless
	// OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT sets one.
	maxSpanAttributeBytes = 8 << 10
	// refusalSpansPerSecond and refusalSpanBurst bound the refusal spans
	// of one server.
	refusalSpansPerSecond = 10
	refusalSpanBurst      = 50
	// telemetryShutdownTimeout bounds the final flush of Close.
	telemetryShutdownTimeout = 5 * time.Second
	// instrumentationName names mcp-obs's tracer and meter.
	instrumentationName = "github.com/mcp-obs/mcp-obs/mcpobs"
)

// durationBuckets are the bucket boundaries, in seconds, the OpenTelemetry
// semantic conventions for MCP advise for mcp.server.operation.duration and
// mcp.server.session.duration.
var durationBuckets = []float64{0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300}

// validate reports a Telemetry setting that cannot work.
func (t Telemetry) validate(fields fieldNamer) error {
	if math.IsNaN(t.SampleRatio) || t.SampleRatio < 0 || t.SampleRatio > 1 {
		return fmt.Errorf("mcpobs: %s %v is not a ratio: use a number from 0 to 1 (0 means 1: trace every request)", fields.of("Telemetry.SampleRatio"), t.SampleRatio)
	}
	return nil
}

// telemetry is the running telemetry of one Integration: the tracer and
// instruments the middlewares record with, and the exporters to shut down.
type telemetry struct {
	cfg    Telemetry
	logger *slog.Logger
	tracer trace.Tracer

	// ownTP is mcp-obs's own tracer provider (nil when the author's is
	// used); authorTP is the author's, with platformSpans registered on it.
	ownTP         *sdktrace.TracerProvider
	authorTP      *sdktrace.TracerProvider
	platformSpans *spanQueue // the platform's copy
	envSpans      *spanQueue // the OTEL_EXPORTER_OTLP_* destination, or nil
	ownMP         *sdkmetric.MeterProvider

	// Instruments, one per meter provider (mcp-obs's, and the author's).
	opDuration      []mcpconv.ServerOperationDuration
	sessionDuration []mcpconv.ServerSessionDuration
	refusals        []metric.Int64Counter

	opAttrs      attrSetCache
	refusalAttrs map[string]attribute.Set // by error.type
	refusalSpans *rate.Limiter
	clock        atomic.Pointer[func() time.Time] // of the refusal budget; tests set it

	sessionsMu sync.Mutex
	sessions   map[any]struct{} // sessions whose end is awaited

	// middlewareUsed is set once TelemetryMiddleware has been asked for;
	// warnedNoMiddleware makes the warning about its absence once only.
	middlewareUsed     atomic.Bool
	warnedNoMiddleware atomic.Bool

	shutdownOnce sync.Once
	shutdownErr  error
}

// newTelemetry starts the telemetry of an Integration configured by cfg,
// exporting to the platform through platform. It returns nil when telemetry
// is disabled.
func newTelemetry(cfg Config, platform *platformClient) (*telemetry, error) {
	tc := cfg.Telemetry
	if tc.Disabled {
		return nil, nil
	}
	if tc.SampleRatio == 0 {
		tc.SampleRatio = defaultSampleRatio
	}
	t := &telemetry{
		cfg:          tc,
		logger:       cfg.Logger,
		refusalSpans: rate.NewLimiter(refusalSpansPerSecond, refusalSpanBurst),
		sessions:     map[any]struct{}{},
		refusalAttrs: refusalMetricAttrs(),
	}
	now := time.Now
	t.clock.Store(&now)
	res, err := telemetryResource(cfg)
	if err != nil {
		return nil, err
	}

	spansRejected := newSpanRejections("the mcp-obs platform", cfg.Logger)
	exp, err := newPlatformSpanExporter(cfg.PlatformURL, platform, spansRejected)
	if err != nil {
		return nil, err
	}
	t.platformSpans = newSpanQueue(exp, "the mcp-obs platform", cfg.Logger, spansRejected)
	if tc.TracerProvider != nil {
		t.authorTP = tc.TracerProvider
		t.authorTP.RegisterSpanProcessor(t.platformSpans)
		t.tracer = t.authorTP.Tracer(instrumentationName)
	} else {
		limits := sdktrace.NewSpanLimits()
		if limits.AttributeValueLengthLimit < 0 {
			limits.AttributeValueLengthLimit = maxSpanAttributeBytes
		}
		sampler := sdktrace.TraceIDRatioBased(tc.SampleRatio)
		opts := []sdktrace.TracerProviderOption{
			sdktrace.WithResource(res),
			sdktrace.WithRawSpanLimits(limits),
			// The MCP span's own decision comes from its trace id whatever
			// the remote parent says; the handler's spans follow it.
			sdktrace.WithSampler(sdktrace.ParentBased(sampler,
				sdktrace.WithRemoteParentSampled(sampler),
				sdktrace.WithRemoteParentNotSampled(sampler))),
			sdktrace.WithSpanProcessor(t.platformSpans),
		}
		if envExp, ok, err := newEnvSpanExporter(); err != nil {
			cfg.Logger.Warn("mcp-obs: the OTEL_EXPORTER_OTLP_* trace destination is not used", "error", err)
		} else if ok {
			t.envSpans = newSpanQueue(envExp, "the OTEL_EXPORTER_OTLP_* trace endpoint", cfg.Logger, nil)
			opts = append(opts, sdktrace.WithSpanProcessor(t.envSpans))
		}
		t.ownTP = sdktrace.NewTracerProvider(opts...)
		t.tracer = t.ownTP.Tracer(instrumentationName)
	}

	mopts := []sdkmetric.Option{sdkmetric.WithResource(res)}
	pointsRejected := newMetricRejections("the mcp-obs platform", cfg.Logger)
	mexp, err := newPlatformMetricExporter(cfg.PlatformURL, platform, pointsRejected)
	if err != nil {
		t.shutdown(context.Background())
		return nil, err
	}
	mopts = append(mopts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(
		newQuietMetricExporter(mexp, "the mcp-obs platform", cfg.Logger, pointsRejected), sdkmetric.WithTimeout(exportTimeout))))
	if envExp, ok, err := newEnvMetricExporter(); err != nil {
		cfg.Logger.Warn("mcp-obs: the OTEL_EXPORTER_OTLP_* metric destination is not used", "error", err)
	} else if ok && tc.MeterProvider == nil {
		mopts = append(mopts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(
			newQuietMetricExporter(envExp, "the OTEL_EXPORTER_OTLP_* metric endpoint", cfg.Logger, nil), sdkmetric.WithTimeout(exportTimeout))))
	}
	t.ownMP = sdkmetric.NewMeterProvider(mopts...)
	meters := []metric.MeterProvider{t.ownMP}
	if tc.MeterProvider != nil {
		meters = append(meters, tc.MeterProvider)
	}
	if err := t.instruments(meters); err != nil {
		t.shutdown(context.Background())
		return nil, err
	}
	return t, nil
}

// telemetryResource describes the server in every span and metric:
// service.name (the Name, else the slug) and service.version, which
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES may override.
func telemetryResource(cfg Config) (*resource.Resource, error) {
	name := cfg.Name
	if name == "" {
		name = cfg.ServerSlug
	}
	res, err := resource.New(context.Background(),
		resource.WithTelemetrySDK(),
		resource.WithAttributes(semconv.ServiceName(name), semconv.ServiceVersion(cfg.Version)),
		resource.WithFromEnv())
	if err != nil && res == nil {
		return nil, fmt.Errorf("mcpobs: telemetry resource: %w", err)
	}
	return res, nil // a partial resource (a bad OTEL_RESOURCE_ATTRIBUTES entry) is still usable
}

// instruments creates the metric instruments on every meter provider.
func (t *telemetry) instruments(providers []metric.MeterProvider) error {
	for _, mp := range providers {
		m := mp.Meter(instrumentationName)
		op, err := mcpconv.NewServerOperationDuration(m, metric.WithExplicitBucketBoundaries(durationBuckets...))
		if err != nil {
			return fmt.Errorf("mcpobs: telemetry: %w", err)
		}
		sess, err := mcpconv.NewServerSessionDuration(m, metric.WithExplicitBucketBoundaries(durationBuckets...))
		if err != nil {
			return fmt.Errorf("mcpobs: telemetry: %w", err)
		}
		ref, err := m.Int64Counter("mcpobs.server.refusals", metric.WithUnit("{request}"),
			metric.WithDescription("MCP requests refused by the bearer check, by error.type; recorded as spans only within the refusal span budget."))
		if err != nil {
			return fmt.Errorf("mcpobs: telemetry: %w", err)
		}
		t.opDuration = append(t.opDuration, op)
		t.sessionDuration = append(t.sessionDuration, sess)
		t.refusals = append(t.refusals, ref)
	}
	return nil
}

// dropped returns how many spans the destinations have dropped so far.
func (t *telemetry) dropped() uint64 {
	n := t.platformSpans.droppedSpans()
	if t.envSpans != nil {
		n += t.envSpans.droppedSpans()
	}
	return n
}

// rejected returns how many spans the platform rejected so far in exports
// it took (partial_success).
func (t *telemetry) rejected() uint64 { return t.platformSpans.rejectedSpans() }

// flush exports everything queued, within ctx.
func (t *telemetry) flush(ctx context.Context) error {
	var errs []error
	if t.ownTP != nil {
		errs = append(errs, t.ownTP.ForceFlush(ctx))
	} else {
		errs = append(errs, t.platformSpans.ForceFlush(ctx))
	}
	errs = append(errs, t.ownMP.ForceFlush(ctx))
	return errors.Join(errs...)
}

// shutdown exports what is queued and stops the exporters, within ctx. The
// author's providers are left running: only mcp-obs's processor leaves theirs.
func (t *telemetry) shutdown(ctx context.Context) error {
	t.shutdownOnce.Do(func() {
		var errs []error
		if t.ownTP != nil {
			errs = append(errs, t.ownTP.Shutdown(ctx))
		}
		if t.authorTP != nil {
			// Shut down here, within ctx: Unregister would shut the
			// queue down again (a no-op then) without a deadline.
			errs = append(errs, t.platformSpans.Shutdown(ctx))
			t.authorTP.UnregisterSpanProcessor(t.platformSpans)
		}
		if t.ownMP != nil {
			errs = append(errs, t.ownMP.Shutdown(ctx))
		}
		t.shutdownErr = errors.Join(errs...)
	})
	return t.shutdownErr
}
