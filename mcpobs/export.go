package mcpobs

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Export to the platform: the OTLP/HTTP endpoints below the platform's base
// URL, as the OTLP specification builds them from a base endpoint.
const (
	platformTracesPath  = "/v1/traces"
	platformMetricsPath = "/v1/metrics"
	// exportAttemptTimeout bounds one HTTP attempt of an export; the
	// exporter retries (429, 502, 503, 504, network errors) within
	// exportTimeout, which bounds the whole export.
	exportAttemptTimeout = 10 * time.Second
)

// exportRetry is how the platform's exporters retry: briefly, so that an
// export to a platform that is down gives up and frees the queue's goroutine
// well before exportTimeout.
var exportRetry = struct{ initial, max, elapsed time.Duration }{time.Second, 5 * time.Second, 10 * time.Second}

// newPlatformSpanExporter returns the exporter of the platform's copy of the
// spans: OTLP/HTTP, protobuf, gzip (by exportTransport), to
// {platformURL}/v1/traces, with the platform client's credentials.
//
// The OpenTelemetry exporter reads the OTEL_EXPORTER_OTLP_* variables first
// and lets explicit options override them. Every setting those variables can
// change (endpoint, path, scheme, headers, certificates, compression,
// protocol, timeout) is set here explicitly, so that the variables, which
// configure the author's own destination, never redirect the platform's copy
// nor add the author's headers to it.
//
// The spans the platform rejects one by one in an export it takes (OTLP
// partial_success) are counted in rejected, not reported by the exporter as
// a failure ([rejections]).
func newPlatformSpanExporter(platformURL string, p *platformClient, rejected *rejections) (sdktrace.SpanExporter, error) {
	exp, err := otlptracehttp.New(context.Background(),
		otlptracehttp.WithEndpointURL(platformURL+platformTracesPath),
		otlptracehttp.WithHTTPClient(p.exportClient(exportAttemptTimeout, rejected)),
		otlptracehttp.WithHeaders(map[string]string{}),
		otlptracehttp.WithTLSClientConfig((*tls.Config)(nil)),
		otlptracehttp.WithCompression(otlptracehttp.NoCompression), // exportTransport gzips
		otlptracehttp.WithEncoding(otlptracehttp.EncodingProtobuf),
		otlptracehttp.WithTimeout(exportAttemptTimeout),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{
			Enabled: true, InitialInterval: exportRetry.initial, MaxInterval: exportRetry.max, MaxElapsedTime: exportRetry.elapsed,
		}))
	if err != nil {
		return nil, fmt.Errorf("mcpobs: telemetry: the platform's trace exporter: %w", err)
	}
	return exp, nil
}

// newPlatformMetricExporter is newPlatformSpanExporter for metrics, to
// {platformURL}/v1/metrics, with delta temporality: each export carries what
// happened since the previous one, which the platform adds up, and nothing
// accumulates in the server while the platform is down. The data points the
// platform rejects one by one are counted in rejected.
func newPlatformMetricExporter(platformURL string, p *platformClient, rejected *rejections) (sdkmetric.Exporter, error) {
	exp, err := otlpmetrichttp.New(context.Background(),
		otlpmetrichttp.WithEndpointURL(platformURL+platformMetricsPath),
		otlpmetrichttp.WithHTTPClient(p.exportClient(exportAttemptTimeout, rejected)),
		otlpmetrichttp.WithHeaders(map[string]string{}),
		otlpmetrichttp.WithTLSClientConfig((*tls.Config)(nil)),
		otlpmetrichttp.WithCompression(otlpmetrichttp.NoCompression), // exportTransport gzips
		otlpmetrichttp.WithTimeout(exportAttemptTimeout),
		otlpmetrichttp.WithTemporalitySelector(func(sdkmetric.InstrumentKind) metricdata.Temporality { return metricdata.DeltaTemporality }),
		otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{
			Enabled: true, InitialInterval: exportRetry.initial, MaxInterval: exportRetry.max, MaxElapsedTime: exportRetry.elapsed,
		}))
	if err != nil {
		return nil, fmt.Errorf("mcpobs: telemetry: the platform's metric exporter: %w", err)
	}
	return exp, nil
}

// envDestination reports whether the OTEL_EXPORTER_OTLP_* variables name an
// endpoint for signal ("TRACES" or "METRICS") that mcp-obs can send to, and
// why not when they name one it cannot use.
func envDestination(signal string) (bool, error) {
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_"+signal+"_ENDPOINT") == "" {
		return false, nil
	}
	if strings.EqualFold(strings.TrimSpace(os.Getenv("OTEL_"+signal+"_EXPORTER")), "none") {
		return false, nil
	}
	protocol := os.Getenv("OTEL_EXPORTER_OTLP_" + signal + "_PROTOCOL")
	if protocol == "" {
		protocol = os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	switch protocol {
	case "", "http/protobuf":
	case "http/json":
		if signal == "METRICS" {
			return false, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL %q: mcp-obs sends metrics as http/protobuf only", protocol)
		}
	default:
		return false, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL %q: mcp-obs sends OTLP over HTTP only (http/protobuf, or http/json for traces)", protocol)
	}
	return true, nil
}

// newEnvSpanExporter returns the exporter of the author's own destination,
// configured by the OTEL_EXPORTER_OTLP_* variables alone, or false when they
// name none.
func newEnvSpanExporter() (sdktrace.SpanExporter, bool, error) {
	ok, err := envDestination("TRACES")
	if !ok || err != nil {
		return nil, false, err
	}
	exp, err := otlptracehttp.New(context.Background())
	if err != nil {
		return nil, false, err
	}
	return exp, true, nil
}

// newEnvMetricExporter is newEnvSpanExporter for metrics.
func newEnvMetricExporter() (sdkmetric.Exporter, bool, error) {
	ok, err := envDestination("METRICS")
	if !ok || err != nil {
		return nil, false, err
	}
	exp, err := otlpmetrichttp.New(context.Background())
	if err != nil {
		return nil, false, err
	}
	return exp, true, nil
}

// exportClient returns the HTTP client of telemetry export to the platform:
// the platform client's transport, each attempt bounded by timeout, with the
// resource-server credentials on every request ([platformClient.authorize]),
// in place of any Authorization header the exporter was given, the body
// gzipped, and the platform's partial successes counted in rejected
// ([exportTransport]).
func (c *platformClient) exportClient(timeout time.Duration, rejected *rejections) *http.Client {
	base := c.calls.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	return &http.Client{Transport: &exportTransport{base: base, platform: c, rejected: rejected}, Timeout: timeout}
}

// exportTransport sends an export request to the platform: authorized, and
// gzipped with a compressor it keeps. It reads the platform's answer for a
// partial success, which it counts in rejected and takes out of the answer
// ([rejections.take]): the exporter then reports the export as the success it
// is for the items the platform kept, instead of an error that would count
// the whole batch as dropped.
//
// The OpenTelemetry exporters can gzip, but take their compressor from a
// sync.Pool, which every garbage collection empties: the next export then
// builds a new one, close to a megabyte of deflate state, allocated and
// cleared. On a busy server a collection comes between most exports, so the
// platform's exporters are configured without compression and this transport
// compresses instead, at BestSpeed (the spans of one batch repeat their keys
// and compress well anyway), with one compressor per exporter for the life
// of the process.
type exportTransport struct {
	base     http.RoundTripper
	platform *platformClient
	rejected *rejections // nil: answers are not read

	mu sync.Mutex
	gz *gzip.Writer // nil until the first request
}

func (t *exportTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context()) // a RoundTripper must not change the caller's request
	t.platform.authorize(r)
	if r.Body != nil && r.Body != http.NoBody && r.Header.Get("Content-Encoding") == "" {
		body, err := t.compress(r.Body)
		if err != nil {
			return nil, fmt.Errorf("mcpobs: compressing telemetry: %w", err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		r.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := t.base.RoundTrip(r)
	if err == nil && t.rejected != nil {
		t.rejected.take(resp)
	}
	return resp, err
}

// compress returns body gzipped, and closes it.
func (t *exportTransport) compress(body io.ReadCloser) ([]byte, error) {
	defer body.Close()
	var buf bytes.Buffer
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.gz == nil {
		gz, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		if err != nil {
			return nil, err
		}
		t.gz = gz
	} else {
		t.gz.Reset(&buf)
	}
	if _, err := io.Copy(t.gz, body); err != nil {
		return nil, err
	}
	if err := t.gz.Close(); err != nil {
		return nil, err
	}
	t.gz.Reset(io.Discard) // drop the reference to buf
	return buf.Bytes(), nil
}

// quietMetricExporter reports failed metric exports to the SDK's logger, at
// most once per dropLogInterval, instead of returning them: the periodic
// reader hands errors to OpenTelemetry's global error handler, which writes
// to stderr beside the author's logs, once a minute for as long as the
// destination is down. The metrics of a failed export are lost (they are
// deltas for the platform, and nothing piles up).
//
// Data points the platform rejected in an export it took are not a failure:
// they are counted and logged by rejected ([rejections]), which this exporter
// gives a chance to log after every export.
type quietMetricExporter struct {
	sdkmetric.Exporter
	dest     string
	logger   *slog.Logger
	now      func() time.Time
	rejected *rejections // nil for a destination other than the platform

	mu      sync.Mutex
	lastLog time.Time
	failed  int // exports failed since the last log
}

func newQuietMetricExporter(e sdkmetric.Exporter, dest string, logger *slog.Logger, rejected *rejections) *quietMetricExporter {
	return &quietMetricExporter{Exporter: e, dest: dest, logger: logger, now: time.Now, rejected: rejected}
}

func (q *quietMetricExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	err := q.Exporter.Export(ctx, rm)
	q.rejected.report()
	if err == nil {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.failed++
	if now := q.now(); q.lastLog.IsZero() || now.Sub(q.lastLog) >= dropLogInterval {
		q.logger.Warn("mcp-obs: telemetry metrics not exported: "+q.dest+" is slow or unreachable; requests are not affected",
			"failed_exports", q.failed, "last_error", err.Error())
		q.lastLog, q.failed = now, 0
	}
	return nil
}
