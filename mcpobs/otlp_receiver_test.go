package mcpobs

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// otlpReceiver stands in for an OTLP/HTTP receiver (the platform's
// /v1/traces and /v1/metrics, or an author's own collector): it decodes what
// it receives with the collector's pdata, as the platform does, and keeps the
// spans, the metrics and each request's headers and decompressed body.
type otlpReceiver struct {
	// basicID and basicSecret, when set, are the only credentials accepted
	// (HTTP Basic); others get 401.
	basicID, basicSecret string

	// mode: 0 answers, 1 answers 503, 2 hangs until release or the
	// request's end.
	mode atomic.Int32
	// discard makes it read each body and answer 200 without decoding or
	// keeping anything, counting requests only: for benchmarks, where the
	// platform's own work (in another process in production) must not be
	// counted as the SDK's.
	discard   atomic.Bool
	discarded atomic.Int64
	release   chan struct{}
	// rejectSpan, when set, says why the receiver rejects a span ("" keeps
	// it), as the platform rejects a span it cannot store: the answer is a
	// 200 whose partial_success counts the rejected spans and gives the
	// reason, and only the other spans are kept.
	rejectSpan atomic.Pointer[func(gotSpan) string]
	// rejectPoints, when not zero, makes every metrics answer a 200 whose
	// partial_success rejects that many data points.
	rejectPoints atomic.Int64

	mu       sync.Mutex
	spans    []gotSpan
	metrics  []pmetric.Metrics
	requests []gotRequest
	changed  chan struct{} // closed and replaced when something arrives
}

const (
	receiverAnswers = iota
	receiverDown
	receiverHangs
)

// gotRequest is one export request as received.
type gotRequest struct {
	path   string
	header http.Header
	body   []byte // decompressed
}

// gotSpan is one received span, flattened for assertions.
type gotSpan struct {
	Name                   string
	Kind                   ptrace.SpanKind
	TraceID, SpanID        string
	ParentID               string
	Attrs                  map[string]string
	Resource               map[string]string
	Status                 ptrace.StatusCode
	StatusMessage          string
	Start, End             time.Time
	InstrumentationScope   string
	InstrumentationVersion string
}

func newOTLPReceiver() *otlpReceiver {
	return &otlpReceiver{release: make(chan struct{}), changed: make(chan struct{})}
}

// register mounts /v1/traces and /v1/metrics on mux.
func (o *otlpReceiver) register(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/traces", o.serve)
	mux.HandleFunc("POST /v1/metrics", o.serve)
}

// start serves the receiver alone on loopback.
func (o *otlpReceiver) start(t testing.TB) *httptest.Server {
	mux := http.NewServeMux()
	o.register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(o.unblock)
	return srv
}

// unblock ends every hanging request and makes the receiver answer again.
func (o *otlpReceiver) unblock() {
	o.mode.Store(receiverAnswers)
	o.mu.Lock()
	defer o.mu.Unlock()
	select {
	case <-o.release:
	default:
		close(o.release)
	}
}

func (o *otlpReceiver) serve(w http.ResponseWriter, r *http.Request) {
	switch o.mode.Load() {
	case receiverDown:
		w.Header().Set("Retry-After", "1")
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	case receiverHangs:
		// Read the body first: net/http notices a client that gave up (an
		// export attempt timing out) only once the body is consumed, and
		// a request its sender abandoned must not be recorded later as
		// delivered.
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(raw))
		o.mu.Lock()
		release := o.release
		o.mu.Unlock()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		if r.Context().Err() != nil {
			return
		}
	}
	if o.discard.Load() {
		io.Copy(io.Discard, r.Body)
		o.discarded.Add(1)
		w.WriteHeader(http.StatusOK)
		return
	}
	if o.basicID != "" {
		id, secret, ok := r.BasicAuth()
		if !ok || id != o.basicID || secret != o.basicSecret {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = gz
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	isJSON := strings.HasPrefix(r.Header.Get("Content-Type"), "application/json")
	var spans []gotSpan
	var md pmetric.Metrics
	var answer []byte // the export response, when not empty
	switch r.URL.Path {
	case "/v1/traces":
		req := ptraceotlp.NewExportRequest()
		if isJSON {
			err = req.UnmarshalJSON(raw)
		} else {
			err = req.UnmarshalProto(raw)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		spans = flattenSpans(req.Traces())
		if reject := o.rejectSpan.Load(); reject != nil {
			var kept []gotSpan
			var reason string
			rejected := 0
			for _, s := range spans {
				if why := (*reject)(s); why != "" {
					rejected, reason = rejected+1, why
					continue
				}
				kept = append(kept, s)
			}
			if rejected > 0 {
				resp := ptraceotlp.NewExportResponse()
				resp.PartialSuccess().SetRejectedSpans(int64(rejected))
				resp.PartialSuccess().SetErrorMessage(fmt.Sprintf("rejected %d of %d spans: %d %s", rejected, len(spans), rejected, reason))
				answer = marshalAnswer(resp.MarshalProto, resp.MarshalJSON, isJSON)
			}
			spans = kept
		}
	case "/v1/metrics":
		req := pmetricotlp.NewExportRequest()
		if err := req.UnmarshalProto(raw); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		md = req.Metrics()
		if n := o.rejectPoints.Load(); n > 0 {
			resp := pmetricotlp.NewExportResponse()
			resp.PartialSuccess().SetRejectedDataPoints(n)
			resp.PartialSuccess().SetErrorMessage(fmt.Sprintf("rejected %d of %d data points: %d Gauge (not stored)", n, md.DataPointCount(), n))
			answer = marshalAnswer(resp.MarshalProto, resp.MarshalJSON, false)
		}
	}
	o.mu.Lock()
	o.requests = append(o.requests, gotRequest{path: r.URL.Path, header: r.Header.Clone(), body: raw})
	o.spans = append(o.spans, spans...)
	if r.URL.Path == "/v1/metrics" {
		o.metrics = append(o.metrics, md)
	}
	close(o.changed)
	o.changed = make(chan struct{})
	o.mu.Unlock()
	if isJSON {
		w.Header().Set("Content-Type", "application/json")
	} else {
		w.Header().Set("Content-Type", "application/x-protobuf")
	}
	w.WriteHeader(http.StatusOK)
	w.Write(answer)
}

// marshalAnswer encodes an export response as the request was encoded.
func marshalAnswer(proto, json func() ([]byte, error), isJSON bool) []byte {
	marshal := proto
	if isJSON {
		marshal = json
	}
	b, err := marshal()
	if err != nil {
		panic(err) // a two-field message always marshals
	}
	return b
}

func flattenSpans(td ptrace.Traces) []gotSpan {
	var out []gotSpan
	for _, rs := range td.ResourceSpans().All() {
		res := attrMap(rs.Resource().Attributes())
		for _, ss := range rs.ScopeSpans().All() {
			for _, s := range ss.Spans().All() {
				g := gotSpan{
					Name: s.Name(), Kind: s.Kind(),
					TraceID: s.TraceID().String(), SpanID: s.SpanID().String(),
					Attrs: attrMap(s.Attributes()), Resource: res,
					Status: s.Status().Code(), StatusMessage: s.Status().Message(),
					Start: s.StartTimestamp().AsTime(), End: s.EndTimestamp().AsTime(),
					InstrumentationScope: ss.Scope().Name(), InstrumentationVersion: ss.Scope().Version(),
				}
				if !s.ParentSpanID().IsEmpty() {
					g.ParentID = s.ParentSpanID().String()
				}
				out = append(out, g)
			}
		}
	}
	return out
}

func attrMap(m pcommon.Map) map[string]string {
	out := make(map[string]string, m.Len())
	for k, v := range m.All() {
		out[k] = v.AsString()
	}
	return out
}

// allSpans returns the spans received so far.
func (o *otlpReceiver) allSpans() []gotSpan {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]gotSpan(nil), o.spans...)
}

// allRequests returns the export requests received so far.
func (o *otlpReceiver) allRequests() []gotRequest {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]gotRequest(nil), o.requests...)
}

// spansNamed returns the received spans called name.
func (o *otlpReceiver) spansNamed(name string) []gotSpan {
	var out []gotSpan
	for _, s := range o.allSpans() {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// waitSpans waits until match holds for at least n received spans and
// returns them; it fails the test after a generous deadline. Nothing is
// asserted about how long it took.
func (o *otlpReceiver) waitSpans(t testing.TB, n int, match func(gotSpan) bool) []gotSpan {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		o.mu.Lock()
		var got []gotSpan
		for _, s := range o.spans {
			if match(s) {
				got = append(got, s)
			}
		}
		changed := o.changed
		o.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-changed:
		case <-deadline:
			names := spanNames(o.allSpans())
			t.Fatalf("received %d matching spans, want %d; %d spans in all, the last: %v", len(got), n, len(names), names[max(0, len(names)-20):])
		}
	}
}

// waitSpan waits for one span called name and returns it.
func (o *otlpReceiver) waitSpan(t testing.TB, name string) gotSpan {
	t.Helper()
	return o.waitSpans(t, 1, func(s gotSpan) bool { return s.Name == name })[0]
}

func spanNames(spans []gotSpan) []string {
	names := make([]string, len(spans))
	for i, s := range spans {
		names[i] = s.Name
	}
	return names
}

// metricPoints returns the data points received for the metric called name,
// as their attributes and, for histograms, counts, or for sums, values.
func (o *otlpReceiver) metricPoints(name string) (points []metricPoint) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, md := range o.metrics {
		for _, rm := range md.ResourceMetrics().All() {
			for _, sm := range rm.ScopeMetrics().All() {
				for _, m := range sm.Metrics().All() {
					if m.Name() != name {
						continue
					}
					switch m.Type() {
					case pmetric.MetricTypeHistogram:
						for _, dp := range m.Histogram().DataPoints().All() {
							points = append(points, metricPoint{attrs: attrMap(dp.Attributes()), count: int64(dp.Count()),
								unit: m.Unit(), bounds: dp.ExplicitBounds().AsRaw(), temporality: m.Histogram().AggregationTemporality()})
						}
					case pmetric.MetricTypeSum:
						for _, dp := range m.Sum().DataPoints().All() {
							points = append(points, metricPoint{attrs: attrMap(dp.Attributes()), count: dp.IntValue(),
								unit: m.Unit(), temporality: m.Sum().AggregationTemporality()})
						}
					}
				}
			}
		}
	}
	return points
}

// metricPoint is one received data point.
type metricPoint struct {
	attrs       map[string]string
	count       int64 // histogram count, or sum value
	unit        string
	bounds      []float64
	temporality pmetric.AggregationTemporality
}

// sumCounts adds up the counts of the points whose attributes include want.
func sumCounts(points []metricPoint, want map[string]string) int64 {
	var n int64
	for _, p := range points {
		ok := true
		for k, v := range want {
			if p.attrs[k] != v {
				ok = false
				break
			}
		}
		if ok {
			n += p.count
		}
	}
	return n
}

// containsAnywhere reports whether any received body or header holds s.
func (o *otlpReceiver) containsAnywhere(s string) bool {
	for _, r := range o.allRequests() {
		if bytes.Contains(r.body, []byte(s)) {
			return true
		}
		for _, vs := range r.header {
			for _, v := range vs {
				if strings.Contains(v, s) {
					return true
				}
			}
		}
	}
	return false
}

// flushTelemetry exports everything the integration has queued, so that a
// test need not wait for a batch to fill or its delay to pass.
func flushTelemetry(t testing.TB, obs *Integration) {
	t.Helper()
	if obs.telemetry == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := obs.telemetry.flush(ctx); err != nil {
		t.Fatalf("flushing telemetry: %v", err)
	}
}
