package mcpobs

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// maxPartialSuccessBytes bounds the export response the SDK reads for a
// partial_success: the platform's is a count and a message of a few hundred
// bytes. A larger body is handed to the exporter as it came.
const maxPartialSuccessBytes = 64 << 10

// rejections counts and logs the items the platform's OTLP receiver refused
// one by one in exports it otherwise took: a 200 whose body is an OTLP
// partial_success (rejected_spans or rejected_data_points, and an
// error_message saying why), e.g. for a handler span dated before 1970.
//
// Such items reached the platform and were judged unstorable: sending them
// again would not help, the rest of their export was stored, and they say
// nothing about the platform being slow or unreachable. So they are not
// drops: they are counted apart (/health telemetry.rejected_spans) and
// logged with the platform's reason, at most once per dropLogInterval.
//
// The OpenTelemetry exporters turn a partial success into an error of an
// internal type, which the span queue could not tell from a failed export
// and would count as the whole batch dropped. So [exportTransport] takes the
// partial success out of the response ([rejections.take]): it counts it
// here and hands the exporter the plain success that the rest of the batch
// is.
type rejections struct {
	what   string // the rejected items, plural: "spans"
	one    string // one of them: "span"
	dest   string // the destination, in logs
	logger *slog.Logger
	// decode reads the rejected count and message of an export response.
	decode func([]byte) (int64, string, error)

	total atomic.Uint64 // items rejected since start

	mu       sync.Mutex
	now      func() time.Time
	every    time.Duration
	lastLog  time.Time
	logged   uint64 // total at the last log
	reason   string // the platform's last message not logged yet
	unlogged bool   // a partial success came since the last log
}

// newSpanRejections returns the rejection count of a trace exporter to dest.
func newSpanRejections(dest string, logger *slog.Logger) *rejections {
	return &rejections{what: "spans", one: "span", dest: dest, logger: logger, now: time.Now, every: dropLogInterval,
		decode: func(b []byte) (int64, string, error) {
			var resp coltracepb.ExportTraceServiceResponse
			if err := proto.Unmarshal(b, &resp); err != nil {
				return 0, "", err
			}
			return resp.GetPartialSuccess().GetRejectedSpans(), resp.GetPartialSuccess().GetErrorMessage(), nil
		}}
}

// newMetricRejections returns the rejection count of a metric exporter to
// dest.
func newMetricRejections(dest string, logger *slog.Logger) *rejections {
	return &rejections{what: "metric data points", one: "metric data point", dest: dest, logger: logger, now: time.Now, every: dropLogInterval,
		decode: func(b []byte) (int64, string, error) {
			var resp colmetricpb.ExportMetricsServiceResponse
			if err := proto.Unmarshal(b, &resp); err != nil {
				return 0, "", err
			}
			return resp.GetPartialSuccess().GetRejectedDataPoints(), resp.GetPartialSuccess().GetErrorMessage(), nil
		}}
}

// setClock sets the log's clock and interval (tests).
func (r *rejections) setClock(now func() time.Time, every time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.now, r.every = now, every
}

// count is how many items were rejected since start; 0 for a nil r.
func (r *rejections) count() uint64 {
	if r == nil {
		return 0
	}
	return r.total.Load()
}

// take reads resp, the answer to an export, and when it is a success
// carrying a partial_success, counts and logs what was rejected and empties
// the body, so that the exporter sees the plain success the rest of the
// export is. Any other answer (an error status, JSON, a body that does not
// decode, a partial_success that rejects nothing and says nothing) is left
// for the exporter to read as it came.
func (r *rejections) take(resp *http.Response) {
	if resp.StatusCode < 200 || resp.StatusCode > 299 || resp.Body == nil || resp.Body == http.NoBody {
		return
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "application/x-protobuf" {
		return // the exporters send protobuf, and the platform answers in kind
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPartialSuccessBytes+1))
	if err != nil || len(body) > maxPartialSuccessBytes {
		resp.Body = readCloser{io.MultiReader(bytes.NewReader(body), resp.Body), resp.Body}
		return
	}
	resp.Body.Close()
	n, msg, err := r.decode(body)
	if err != nil || (n <= 0 && msg == "") {
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return
	}
	r.add(max(n, 0), msg)
	resp.Body = http.NoBody
	resp.ContentLength = 0
	resp.Header.Del("Content-Length")
}

// readCloser reads from one reader and closes another.
type readCloser struct {
	io.Reader
	io.Closer
}

// add counts n rejected items, whose reason is msg, and logs them if the
// last log is old enough.
func (r *rejections) add(n int64, msg string) {
	r.total.Add(uint64(n))
	r.mu.Lock()
	if msg != "" {
		r.reason = msg
	}
	r.unlogged = true
	r.mu.Unlock()
	r.report()
}

// report logs the rejections since the last log, at most once per interval:
// an author whose handler makes a bad span on every call gets one line a
// minute. A nil r does nothing.
func (r *rejections) report() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.unlogged {
		return
	}
	now := r.now()
	if !r.lastLog.IsZero() && now.Sub(r.lastLog) < r.every {
		return
	}
	total := r.total.Load()
	reason := r.reason
	if reason == "" {
		reason = "no reason given"
	}
	if n := total - r.logged; n > 0 {
		items := r.what
		if n == 1 {
			items = r.one
		}
		r.logger.Warn(fmt.Sprintf("mcp-obs: telemetry %s rejected: %s rejected %d %s it cannot store and kept the rest; this is not a connection problem, and requests are not affected",
			r.what, r.dest, n, items),
			"rejected", n, "rejected_total", total, "reason", reason)
	} else { // a partial_success that rejects nothing is a warning
		r.logger.Warn(fmt.Sprintf("mcp-obs: telemetry %s accepted with a warning from %s", r.what, r.dest), "warning", reason)
	}
	r.lastLog, r.logged, r.reason, r.unlogged = now, total, "", false
}
