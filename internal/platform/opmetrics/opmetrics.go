// Package opmetrics is the platform's own operational metrics, served at
// /metrics in the Prometheus text format: request rates and latency by
// route (introspection and the token endpoint among them), and the OTLP
// receiver's queue depth, accepted, rejected and dropped spans and commit
// sizes. Every [Metrics] and [Ingest] has a private registry, so two
// platforms in one process (tests, the demo) never share counters. The
// receiver's metrics are an [Ingest] of their own, since the receiver may
// run in another process (package ingestproc); [Metrics.Include] adds them
// to /metrics.
package opmetrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/mcp-obs/mcp-obs/internal/platform/ingest"
)

// Metrics holds the platform's metrics.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	inflight prometheus.Gauge
	more     prometheus.Gatherers // the receiver's, from Include
}

// New returns metrics in a registry of their own, with the Go runtime's
// and the process's collectors.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mcpobs_http_requests_total",
		Help: "HTTP requests answered, by route (the ServeMux pattern that served them, \"unmatched\" for none) and status code.",
	}, []string{"route", "code"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "mcpobs_http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by route. Introspection is route=\"POST /t/{slug}/oauth/introspect\", the token endpoint route=\"POST /t/{slug}/oauth/token\".",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"route"})
	m.inflight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "mcpobs_http_requests_in_flight", Help: "HTTP requests being answered now.",
	})
	m.reg.MustRegister(m.requests, m.latency, m.inflight,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Include adds g's metrics to those m serves. Call it before serving.
func (m *Metrics) Include(g prometheus.Gatherer) { m.more = append(m.more, g) }

// Handler serves the metrics in the Prometheus text format. Metrics that
// cannot be gathered (an ingest process restarting) are left out, and
// the rest served.
func (m *Metrics) Handler() http.Handler {
	all := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		return append(prometheus.Gatherers{m.reg}, m.more...).Gather()
	})
	return promhttp.HandlerFor(all, promhttp.HandlerOpts{Registry: m.reg, ErrorHandling: promhttp.ContinueOnError})
}

// Ingest holds the OTLP receiver's metrics: its commits, counters and
// queue depth.
type Ingest struct {
	reg           *prometheus.Registry
	commitSpans   prometheus.Histogram
	commitSeconds prometheus.Histogram
	commitErrors  prometheus.Counter
}

// NewIngest returns the receiver's metrics in a registry of their own.
func NewIngest() *Ingest {
	m := &Ingest{reg: prometheus.NewRegistry()}
	m.commitSpans = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "mcpobs_ingest_commit_spans",
		Help:    "Spans per group commit of the OTLP receiver (several requests share one commit).",
		Buckets: prometheus.ExponentialBuckets(1, 4, 9),
	})
	m.commitSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "mcpobs_ingest_commit_duration_seconds",
		Help:    "Time of one group commit of the OTLP receiver.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	})
	m.commitErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "mcpobs_ingest_commit_errors_total", Help: "Group commits the telemetry store failed (their requests got 503).",
	})
	m.reg.MustRegister(m.commitSpans, m.commitSeconds, m.commitErrors)
	return m
}

// Gatherer returns the registry, for [Metrics.Include].
func (m *Ingest) Gatherer() prometheus.Gatherer { return m.reg }

// Handler serves the receiver's metrics alone in the Prometheus text
// format (the ingest process serves them to the platform this way).
func (m *Ingest) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveCommit records one group commit (ingest.Options.OnCommit).
func (m *Ingest) ObserveCommit(spans int, d time.Duration, err error) {
	if err != nil {
		m.commitErrors.Inc()
		return
	}
	m.commitSpans.Observe(float64(spans))
	m.commitSeconds.Observe(d.Seconds())
}

// WatchReceiver exports the receiver's counters and queue depth.
func (m *Ingest) WatchReceiver(rc *ingest.Receiver) {
	counter := func(name, help string, get func(ingest.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(get(rc.Stats())) })
	}
	m.reg.MustRegister(
		counter("mcpobs_ingest_spans_accepted_total", "Spans committed by the OTLP receiver (re-sent duplicates included).",
			func(s ingest.Stats) uint64 { return s.SpansAccepted }),
		counter("mcpobs_ingest_spans_rejected_total", "Spans refused one by one (zero ids, times out of range, bad text), reported in partial_success.",
			func(s ingest.Stats) uint64 { return s.SpansRejected }),
		counter("mcpobs_ingest_spans_dropped_total", "Spans of requests refused whole with 503 (queue full, store failure, shutdown); senders retry them.",
			func(s ingest.Stats) uint64 { return s.SpansDropped }),
		counter("mcpobs_ingest_points_accepted_total", "Metric data points committed by the OTLP receiver.",
			func(s ingest.Stats) uint64 { return s.PointsAccepted }),
		counter("mcpobs_ingest_points_rejected_total", "Metric data points refused (types other than histograms, bad times).",
			func(s ingest.Stats) uint64 { return s.PointsRejected }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mcpobs_ingest_queue_spans", Help: "Spans waiting for a group commit."},
			func() float64 { return float64(rc.Stats().QueuedSpans) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mcpobs_ingest_deferred_seconds_total",
			Help: "Time the receiver's decoding and commits paused to let foreground requests (sign-in, tokens, introspection) run."},
			func() float64 { return rc.Stats().Deferred.Seconds() }),
	)
}

// Middleware counts and times every request by the pattern the ServeMux
// routed it to (read after routing, from r.Pattern), so route labels are
// bounded by the platform's routes whatever paths clients send.
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		m.inflight.Inc()
		rec := &recorder{ResponseWriter: w}
		defer func() {
			m.inflight.Dec()
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			code := rec.code
			if code == 0 {
				code = http.StatusOK
			}
			m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
			m.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
		}()
		next.ServeHTTP(rec, r)
	})
}

// recorder notes the status code a handler writes.
type recorder struct {
	http.ResponseWriter
	code int
}

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 && code >= 200 { // 1xx answers are interim (100 Continue)
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Flush keeps streaming working for handlers that assert http.Flusher.
func (r *recorder) Flush() { http.NewResponseController(r.ResponseWriter).Flush() }

// Unwrap lets http.ResponseController reach the server's writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
