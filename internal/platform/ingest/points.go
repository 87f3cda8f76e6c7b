package ingest

import (
	"fmt"
	"math"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/mcp-obs/mcp-obs/internal/telemetry"
)

// mapPoints turns decoded OTLP metrics into the points the platform
// stores, for the tenant serverID: explicit-bucket histograms (the MCP
// conventions' mcp.server.operation.duration and
// mcp.server.session.duration) and monotonic sums, the counters (the SDK's
// mcpobs.server.refusals), stored as points without buckets whose Sum is the
// counter's value. Points of other metric types (gauges, up-down sums,
// exponential histograms, summaries), and points that cannot be stored as
// sent, are rejected and counted with their reason.
func mapPoints(serverID string, md pmetric.Metrics) (points []telemetry.MetricPoint, total int, rej rejections) {
	total = md.DataPointCount()
	var aw attrWriter
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				switch {
				case m.Type() == pmetric.MetricTypeHistogram:
					h := m.Histogram()
					dps := h.DataPoints()
					for d := 0; d < dps.Len(); d++ {
						p, reason := mapHistogramPoint(serverID, m.Name(), h.AggregationTemporality(), dps.At(d), &aw)
						if reason != "" {
							rej.add(reason)
							continue
						}
						points = append(points, p)
					}
				case m.Type() == pmetric.MetricTypeSum && m.Sum().IsMonotonic():
					sum := m.Sum()
					dps := sum.DataPoints()
					for d := 0; d < dps.Len(); d++ {
						p, reason := mapCounterPoint(serverID, m.Name(), sum.AggregationTemporality(), dps.At(d), &aw)
						if reason != "" {
							rej.add(reason)
							continue
						}
						points = append(points, p)
					}
				default:
					for range dataPoints(m) {
						rej.add(fmt.Sprintf("of type %s (explicit-bucket histograms and monotonic sums are stored)", typeName(m)))
					}
				}
			}
		}
	}
	return points, total, rej
}

// dataPoints counts a metric's points, whatever its type.
func dataPoints(m pmetric.Metric) int {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		return m.Gauge().DataPoints().Len()
	case pmetric.MetricTypeSum:
		return m.Sum().DataPoints().Len()
	case pmetric.MetricTypeHistogram:
		return m.Histogram().DataPoints().Len()
	case pmetric.MetricTypeExponentialHistogram:
		return m.ExponentialHistogram().DataPoints().Len()
	case pmetric.MetricTypeSummary:
		return m.Summary().DataPoints().Len()
	}
	return 0
}

// typeName names a metric's type as the OTLP data model does, telling the
// up-down sums apart from the counters.
func typeName(m pmetric.Metric) string {
	if m.Type() == pmetric.MetricTypeSum && !m.Sum().IsMonotonic() {
		return "non-monotonic Sum"
	}
	return m.Type().String()
}

func mapHistogramPoint(serverID, name string, temporality pmetric.AggregationTemporality, dp pmetric.HistogramDataPoint, aw *attrWriter) (telemetry.MetricPoint, string) {
	p, reason := pointHeader(serverID, name, temporality, dp.Timestamp(), dp.StartTimestamp(), dp.Attributes(), aw)
	if reason != "" {
		return p, reason
	}
	p.Count, p.Sum = dp.Count(), dp.Sum()
	p.Bounds, p.Counts = dp.ExplicitBounds().AsRaw(), dp.BucketCounts().AsRaw()
	if len(p.Bounds) == 0 && len(p.Counts) == 1 { // one bucket, no bounds: just the count
		p.Counts = nil
	}
	return validPoint(p)
}

// mapCounterPoint maps a point of a monotonic sum: its value is the Sum of
// a point without buckets (and, when it is a whole number, its Count too).
func mapCounterPoint(serverID, name string, temporality pmetric.AggregationTemporality, dp pmetric.NumberDataPoint, aw *attrWriter) (telemetry.MetricPoint, string) {
	p, reason := pointHeader(serverID, name, temporality, dp.Timestamp(), dp.StartTimestamp(), dp.Attributes(), aw)
	if reason != "" {
		return p, reason
	}
	switch dp.ValueType() {
	case pmetric.NumberDataPointValueTypeInt:
		v := dp.IntValue()
		if v < 0 {
			return telemetry.MetricPoint{}, "with a negative counter value"
		}
		p.Count, p.Sum = uint64(v), float64(v)
	case pmetric.NumberDataPointValueTypeDouble:
		p.Sum = dp.DoubleValue()
		if p.Sum < 0 {
			return telemetry.MetricPoint{}, "with a negative counter value"
		}
	default:
		return telemetry.MetricPoint{}, "without a value"
	}
	return validPoint(p)
}

// pointHeader fills what every stored point has: tenant, name, times,
// temporality and attributes.
func pointHeader(serverID, name string, temporality pmetric.AggregationTemporality, ts, st pcommon.Timestamp, attrs pcommon.Map, aw *attrWriter) (telemetry.MetricPoint, string) {
	if ts == 0 || uint64(ts) > math.MaxInt64 || uint64(st) > math.MaxInt64 {
		return telemetry.MetricPoint{}, "with a time outside the stored range"
	}
	aw.reset()
	attrs.Range(func(k string, v pcommon.Value) bool {
		aw.add(k, v)
		return true
	})
	p := telemetry.MetricPoint{
		ServerID: serverID,
		Name:     name,
		Time:     time.Unix(0, int64(ts)).UTC(),
		Delta:    temporality == pmetric.AggregationTemporalityDelta,
	}
	if st != 0 {
		p.Start = time.Unix(0, int64(st)).UTC()
	}
	if b := aw.bytes(); b != nil {
		p.Attributes = append([]byte(nil), b...)
	}
	return p, ""
}

func validPoint(p telemetry.MetricPoint) (telemetry.MetricPoint, string) {
	if err := p.Validate(); err != nil {
		return telemetry.MetricPoint{}, "with " + err.Error()
	}
	return p, ""
}
