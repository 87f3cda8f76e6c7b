package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/telemetry"
)

// seriesID names a metric series within a tenant: the first 16 bytes of
// SHA-256 over the name and the attributes, so the key stays short however
// long the attributes are (PostgreSQL bounds index entries).
func seriesID(name string, attributes []byte) []byte {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write(attributes)
	return h.Sum(nil)[:16]
}

// WriteMetricPoints stores metric points in one transaction, skipping those
// already stored (same server, series, start and time).
func (t *TelemetryStore) WriteMetricPoints(ctx context.Context, points []telemetry.MetricPoint) (int, error) {
	const op = "write metric points"
	for i := range points {
		if err := points[i].Validate(); err != nil {
			return 0, t.fail(op, fmt.Errorf("point %d: %w", i, err))
		}
	}
	if len(points) == 0 {
		return 0, nil
	}
	var inserted int
	err := t.inTx(ctx, func(tx *sql.Tx) error {
		inserted = 0
		for i := range points {
			p := &points[i]
			bounds, err := json.Marshal(nonNil(p.Bounds))
			if err != nil {
				return err
			}
			counts, err := json.Marshal(nonNil(p.Counts))
			if err != nil {
				return err
			}
			attrs := p.Attributes
			if attrs == nil {
				attrs = []byte{}
			}
			var start int64 // a zero Start (no series start) is stored as 0, the epoch
			if !p.Start.IsZero() {
				start = p.Start.UnixNano()
			}
			res, err := tx.ExecContext(ctx, t.q.insertMetric, p.ServerID, seriesID(p.Name, attrs), start, p.Time.UnixNano(),
				p.Name, attrs, p.Delta, int64(p.Count), p.Sum, string(bounds), string(counts))
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			inserted += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, t.fail(op, err)
	}
	return inserted, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// MetricPoints returns the server's points of the named metric taken in [from, to), oldest first.
func (t *TelemetryStore) MetricPoints(ctx context.Context, serverID, name string, from, to time.Time) ([]telemetry.MetricPoint, error) {
	const op = "metric points"
	if err := checkRange(from, to); err != nil {
		return nil, t.fail(op, err)
	}
	rows, err := t.read.QueryContext(ctx, t.q.metricPoints, serverID, from.UnixNano(), to.UnixNano(), name)
	if err != nil {
		return nil, t.fail(op, err)
	}
	defer rows.Close()
	out := []telemetry.MetricPoint{}
	for rows.Next() {
		var (
			p              telemetry.MetricPoint
			start, at      int64
			count          int64
			bounds, counts string
		)
		if err := rows.Scan(&p.Name, &p.Attributes, &start, &at, &p.Delta, &count, &p.Sum, &bounds, &counts); err != nil {
			return nil, t.fail(op, err)
		}
		p.ServerID, p.Time, p.Count = serverID, time.Unix(0, at).UTC(), uint64(count)
		if len(p.Attributes) == 0 {
			p.Attributes = nil // as for spans: no attributes is nil
		}
		if start != 0 {
			p.Start = time.Unix(0, start).UTC()
		}
		if err := json.Unmarshal([]byte(bounds), &p.Bounds); err != nil {
			return nil, t.fail(op, fmt.Errorf("bounds: %w", err))
		}
		if err := json.Unmarshal([]byte(counts), &p.Counts); err != nil {
			return nil, t.fail(op, fmt.Errorf("counts: %w", err))
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, t.fail(op, err)
	}
	return out, nil
}
