package telemetry

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// MetricPoint is one data point of an OpenTelemetry histogram metric (the
// MCP conventions' mcp.server.operation.duration and
// mcp.server.session.duration), as the receiver accepts them on
// /v1/metrics, or of a counter (a monotonic sum such as
// mcpobs.server.refusals): a point without buckets whose Sum is the
// counter's value (and Count too, for a whole number). Unlike spans, metrics are never sampled, so they count every
// call even when the server samples its spans.
type MetricPoint struct {
	ServerID string // tenant, from the credentials
	Name     string // metric name
	// Attributes are the point's attributes as compact JSON (e.g.
	// {"mcp.method.name":"tools/call","gen_ai.tool.name":"echo"}): together
	// with Name and Start they name one series.
	Attributes []byte
	Start      time.Time // the series' start time (cumulative temporality) or the interval's (delta)
	Time       time.Time // when the point was taken
	Delta      bool      // delta temporality; cumulative otherwise
	Count      uint64
	Sum        float64
	Bounds     []float64 // explicit bucket bounds
	Counts     []uint64  // len(Bounds)+1 bucket counts
}

// MaxMetricBuckets bounds the explicit buckets of one point.
const MaxMetricBuckets = 256

// Validate checks what the store relies on: a tenant, a name, a time (and
// a start, if any) within [MinTime, MaxTime),
// Counts one longer than Bounds (or both empty), at most MaxMetricBuckets
// buckets, and the same text limits as [Span.Validate].
func (p *MetricPoint) Validate() error {
	switch {
	case p.ServerID == "":
		return fmt.Errorf("%w: no server id", ErrInvalidMetric)
	case p.Name == "":
		return fmt.Errorf("%w: no name", ErrInvalidMetric)
	case !InRange(p.Time) || (!p.Start.IsZero() && !InRange(p.Start)):
		return fmt.Errorf("%w: time outside %d to %d", ErrInvalidMetric, MinTime.Year(), MaxTime.Year())
	case len(p.Bounds) > MaxMetricBuckets:
		return fmt.Errorf("%w: %d buckets, over %d", ErrInvalidMetric, len(p.Bounds), MaxMetricBuckets)
	case len(p.Counts) != 0 && len(p.Counts) != len(p.Bounds)+1:
		return fmt.Errorf("%w: %d bucket counts for %d bounds", ErrInvalidMetric, len(p.Counts), len(p.Bounds))
	case len(p.Attributes) > MaxAttributesLen:
		return fmt.Errorf("%w: attributes are %d bytes, over %d", ErrInvalidMetric, len(p.Attributes), MaxAttributesLen)
	case math.IsNaN(p.Sum) || math.IsInf(p.Sum, 0):
		return fmt.Errorf("%w: sum is not finite", ErrInvalidMetric)
	}
	for _, b := range p.Bounds {
		if math.IsNaN(b) || math.IsInf(b, 0) {
			return fmt.Errorf("%w: a bucket bound is not finite", ErrInvalidMetric)
		}
	}
	for _, f := range []string{p.ServerID, p.Name} {
		if err := checkField(f); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidMetric, err)
		}
	}
	return nil
}

// ErrInvalidMetric is wrapped by [MetricPoint.Validate]'s errors.
var ErrInvalidMetric = errors.New("invalid metric point")
