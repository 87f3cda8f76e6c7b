package ingest

import (
	"fmt"
	"math"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/mcp-obs/mcp-obs/internal/telemetry"
)

// mapPoints turns decoded OTLP metrics into the histogram points the
// platform stores (the MCP conventions' mcp.server.operation.duration and
// mcp.server.session.duration are histograms), for the tenant serverID.
// Points of other metric types, and points that cannot be stored as sent,
// are rejected and counted with their reason.
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
				if m.Type() != pmetric.MetricTypeHistogram {
					n := dataPoints(m)
					for range n {
						rej.add(fmt.Sprintf("of type %s (only explicit-bucket histograms are stored)", m.Type()))
					}
					continue
				}
				h := m.Histogram()
				dps := h.DataPoints()
				for d := 0; d < dps.Len(); d++ {
					p, reason := mapPoint(serverID, m.Name(), h.AggregationTemporality(), dps.At(d), &aw)
					if reason != "" {
						rej.add(reason)
						continue
					}
					points = append(points, p)
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

func mapPoint(serverID, name string, temporality pmetric.AggregationTemporality, dp pmetric.HistogramDataPoint, aw *attrWriter) (telemetry.MetricPoint, string) {
	ts, st := dp.Timestamp(), dp.StartTimestamp()
	if ts == 0 || uint64(ts) > math.MaxInt64 || uint64(st) > math.MaxInt64 {
		return telemetry.MetricPoint{}, "with a time outside the stored range"
	}
	aw.reset()
	dp.Attributes().Range(func(k string, v pcommon.Value) bool {
		aw.add(k, v)
		return true
	})
	p := telemetry.MetricPoint{
		ServerID: serverID,
		Name:     name,
		Time:     time.Unix(0, int64(ts)).UTC(),
		Delta:    temporality == pmetric.AggregationTemporalityDelta,
		Count:    dp.Count(),
		Sum:      dp.Sum(),
		Bounds:   dp.ExplicitBounds().AsRaw(),
		Counts:   dp.BucketCounts().AsRaw(),
	}
	if st != 0 {
		p.Start = time.Unix(0, int64(st)).UTC()
	}
	if b := aw.bytes(); b != nil {
		p.Attributes = append([]byte(nil), b...)
	}
	if len(p.Bounds) == 0 && len(p.Counts) == 1 { // one bucket, no bounds: just the count
		p.Counts = nil
	}
	if err := p.Validate(); err != nil {
		return telemetry.MetricPoint{}, "with " + err.Error()
	}
	return p, ""
}
