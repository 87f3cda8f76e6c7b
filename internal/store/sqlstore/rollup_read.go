package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/telemetry"
)

// bucketRange is a range [lo, hi) of bucket starts (unix ns) of one tier.
type bucketRange struct {
	width, lo, hi int64
}

// minuteRange widens [from, to) to whole minutes, in unix ns: from down and
// to up to the minute. A range that ends before it starts, or lies outside
// the times the store holds, is an error.
func minuteRange(from, to time.Time) (lo, hi int64, err error) {
	if err := checkRange(from, to); err != nil {
		return 0, 0, err
	}
	return floorTo(from.UnixNano(), minuteNs), ceilTo(to.UnixNano(), minuteNs), nil
}

// checkRange refuses a range that ends before it starts or reaches outside
// [telemetry.MinTime, telemetry.MaxTime].
func checkRange(from, to time.Time) error {
	if to.Before(from) {
		return fmt.Errorf("%w: the range ends (%s) before it starts (%s)", telemetry.ErrInvalidQuery,
			to.UTC().Format(time.RFC3339Nano), from.UTC().Format(time.RFC3339Nano))
	}
	if from.Before(telemetry.MinTime) || to.After(telemetry.MaxTime) {
		return fmt.Errorf("%w: the range reaches outside %d to %d", telemetry.ErrInvalidQuery,
			telemetry.MinTime.Year(), telemetry.MaxTime.Year())
	}
	return nil
}

// splitRange covers the whole minutes [lo, hi) with whole hours in the
// middle and minutes at the edges; empty parts are left out.
func splitRange(lo, hi int64) []bucketRange {
	hlo, hhi := ceilTo(lo, hourNs), floorTo(hi, hourNs)
	if hlo >= hhi {
		if lo >= hi {
			return nil
		}
		return []bucketRange{{minuteNs, lo, hi}}
	}
	parts := []bucketRange{{hourNs, hlo, hhi}}
	if lo < hlo {
		parts = append(parts, bucketRange{minuteNs, lo, hlo})
	}
	if hhi < hi {
		parts = append(parts, bucketRange{minuteNs, hhi, hi})
	}
	return parts
}

// figures accumulates rollup rows into a summary.
type figures struct {
	calls, errors int64
	hist          telemetry.Histogram
}

func (f *figures) add(calls, errors int64, hist []byte) error {
	if err := f.hist.MergeBinary(hist); err != nil {
		return err
	}
	f.calls += calls
	f.errors += errors
	return nil
}

func (f *figures) summary(users int64) telemetry.Summary {
	s := telemetry.Summary{Calls: f.calls, Errors: f.errors, ActiveUsers: users}
	if f.calls > 0 {
		s.ErrorRate = float64(f.errors) / float64(f.calls)
		s.P50, s.P95, s.P99 = f.hist.Quantile(0.5), f.hist.Quantile(0.95), f.hist.Quantile(0.99)
	}
	return s
}

// rollupRow is one row a range read returns.
type rangeRow struct {
	bucket        int64
	k1, k2, k3    string
	calls, errors int64
	users         int64
	hist          sql.RawBytes // valid only during the callback
}

// eachRow calls fn for every row of table ti of the server in the bucket
// ranges.
func (t *TelemetryStore) eachRow(ctx context.Context, ti int, serverID string, parts []bucketRange, fn func(r *rangeRow) error) error {
	table := &rollupTables[ti]
	var r rangeRow
	dest := []any{&r.bucket}
	for _, p := range []*string{&r.k1, &r.k2, &r.k3}[:len(table.keys)] {
		dest = append(dest, p)
	}
	dest = append(dest, &r.calls, &r.errors)
	if table.users {
		dest = append(dest, &r.users)
	}
	dest = append(dest, &r.hist)
	for _, p := range parts {
		if err := t.eachRowOf(ctx, t.q.rangeRows[ti], []any{serverID, p.width, p.lo, p.hi}, dest, func() error { return fn(&r) }); err != nil {
			return fmt.Errorf("%s: %w", table.name, err)
		}
	}
	return nil
}

// eachRowOf runs query on the reader and calls fn after scanning each row into dest.
func (t *TelemetryStore) eachRowOf(ctx context.Context, query string, args, dest []any, fn func() error) error {
	rows, err := t.read.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if err := fn(); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Summary adds up the server's calls over the whole minutes of [from, to):
// totals from rollup_totals, distinct users as the union of rollup_users'
// rows over the same buckets.
func (t *TelemetryStore) Summary(ctx context.Context, serverID string, from, to time.Time) (telemetry.Summary, error) {
	const op = "telemetry summary"
	lo, hi, err := minuteRange(from, to)
	if err != nil {
		return telemetry.Summary{}, t.fail(op, err)
	}
	parts := splitRange(lo, hi)
	var f figures
	if err := t.eachRow(ctx, tableTotals, serverID, parts, func(r *rangeRow) error {
		return f.add(r.calls, r.errors, r.hist)
	}); err != nil {
		return telemetry.Summary{}, t.fail(op, err)
	}
	var users int64
	if f.calls > 0 {
		if users, err = t.distinctUsers(ctx, serverID, parts); err != nil {
			return telemetry.Summary{}, t.fail(op, err)
		}
	}
	return f.summary(users), nil
}

// distinctUsers counts the distinct user ids over the bucket ranges.
func (t *TelemetryStore) distinctUsers(ctx context.Context, serverID string, parts []bucketRange) (int64, error) {
	if len(parts) == 0 {
		return 0, nil
	}
	args := make([]any, 0, 4*len(parts))
	for _, p := range parts {
		args = append(args, serverID, p.width, p.lo, p.hi)
	}
	var n int64
	if err := t.read.QueryRowContext(ctx, t.q.distinctUsers[len(parts)], args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("distinct users: %w", err)
	}
	return n, nil
}

// Timeseries returns the server's figures per step. A step that is a
// whole number of hours reads the hourly rollups, any other the minutes'.
// When a step is exactly one bucket, its distinct users are the bucket's
// count kept in rollup_totals; else they are counted, each (step, user)
// pair once, from the user rows of the hours, of the 5 minutes
// (rollup_active_users) when the step is a multiple of 5 minutes, or of
// the minutes: a day at 5 or 15 minutes then reads a fifth of the rows the
// minutes would need.
func (t *TelemetryStore) Timeseries(ctx context.Context, serverID string, from, to time.Time, step time.Duration) ([]telemetry.TimeseriesPoint, error) {
	const op = "telemetry timeseries"
	if step <= 0 || step%time.Minute != 0 {
		return nil, t.fail(op, fmt.Errorf("%w: step %v is not a whole number of minutes", telemetry.ErrInvalidQuery, step))
	}
	if err := checkRange(from, to); err != nil {
		return nil, t.fail(op, err)
	}
	w := int64(step)
	lo, hi := floorTo(from.UnixNano(), w), ceilTo(to.UnixNano(), w)
	n := (hi - lo) / w
	if n > store.MaxTimeseriesPoints {
		return nil, t.fail(op, fmt.Errorf("%w: %d points of %v, over %d", telemetry.ErrInvalidQuery, n, step, store.MaxTimeseriesPoints))
	}
	tier := minuteNs
	if w%hourNs == 0 {
		tier = hourNs
	}
	acc := make([]figures, n)
	users := make([]int64, n)
	parts := []bucketRange{{tier, lo, hi}}
	if err := t.eachRow(ctx, tableTotals, serverID, parts, func(r *rangeRow) error {
		i := (r.bucket - lo) / w
		if w == tier {
			users[i] = r.users
		}
		return acc[i].add(r.calls, r.errors, r.hist)
	}); err != nil {
		return nil, t.fail(op, err)
	}
	if w != tier {
		query, args := t.q.usersPerStep, []any{lo, w, serverID, tier, lo, hi}
		switch {
		case w == fiveMinuteNs:
			query, args = t.q.activeUsersPerBucket, []any{lo, w, serverID, lo, hi}
		case tier == minuteNs && w%fiveMinuteNs == 0:
			query, args = t.q.activeUsersPerStep, []any{lo, w, serverID, lo, hi}
		}
		var i, count int64
		if err := t.eachRowOf(ctx, query, args, []any{&i, &count}, func() error {
			if i >= 0 && i < n && acc[i].calls > 0 {
				users[i] = count
			}
			return nil
		}); err != nil {
			return nil, t.fail(op, fmt.Errorf("distinct users per step: %w", err))
		}
	}
	points := make([]telemetry.TimeseriesPoint, n)
	for i := range points {
		points[i] = telemetry.TimeseriesPoint{Start: time.Unix(0, lo+int64(i)*w).UTC(), Summary: acc[i].summary(users[i])}
	}
	return points, nil
}

// TopTools lists the tools with the most calls; see [store.Telemetry.TopTools].
func (t *TelemetryStore) TopTools(ctx context.Context, serverID string, from, to time.Time, limit int) ([]telemetry.TopRow, error) {
	return t.top(ctx, "top tools", tableOps, serverID, from, to, limit)
}

// TopUsers lists the users with the most calls.
func (t *TelemetryStore) TopUsers(ctx context.Context, serverID string, from, to time.Time, limit int) ([]telemetry.TopRow, error) {
	return t.top(ctx, "top users", tableUsers, serverID, from, to, limit)
}

// TopClients lists the OAuth clients with the most calls.
func (t *TelemetryStore) TopClients(ctx context.Context, serverID string, from, to time.Time, limit int) ([]telemetry.TopRow, error) {
	return t.top(ctx, "top clients", tableClients, serverID, from, to, limit)
}

// top lists the keys of table ti (the tool of rollup_ops, leaving out
// calls without a tool; the one key column of the others) with the most
// calls over the range, in two steps: the database sums calls and errors
// per key over the range's buckets and returns the top keys, then only
// those keys' histograms are read and merged. (Reading every key's rows
// into Go, for 200 users over a day, took most of the time.)
func (t *TelemetryStore) top(ctx context.Context, op string, ti int, serverID string, from, to time.Time, limit int) ([]telemetry.TopRow, error) {
	lo, hi, err := minuteRange(from, to)
	if err != nil {
		return nil, t.fail(op, err)
	}
	parts := splitRange(lo, hi)
	out := []telemetry.TopRow{}
	if len(parts) == 0 {
		return out, nil
	}
	args := make([]any, 0, 4*len(parts)+1)
	for _, p := range parts {
		args = append(args, serverID, p.width, p.lo, p.hi)
	}
	query := t.q.topKeys[ti][len(parts)]
	if limit > 0 {
		query = t.q.topKeysLimit[ti][len(parts)]
		args = append(args, limit)
	}
	var row telemetry.TopRow
	if err := t.eachRowOf(ctx, query, args, []any{&row.Key, &row.Calls, &row.Errors}, func() error {
		out = append(out, row)
		return nil
	}); err != nil {
		return nil, t.fail(op, fmt.Errorf("%s: %w", rollupTables[ti].name, err))
	}
	if len(out) == 0 {
		return out, nil
	}
	keys := make([]string, len(out))
	hists := make(map[string]*telemetry.Histogram, len(out))
	for i, r := range out {
		keys[i] = r.Key
		hists[r.Key] = &telemetry.Histogram{}
	}
	list, err := json.Marshal(keys)
	if err != nil {
		return nil, t.fail(op, err)
	}
	var (
		key  string
		hist sql.RawBytes
	)
	for _, p := range parts {
		if err := t.eachRowOf(ctx, t.q.keyHists[ti], []any{serverID, p.width, p.lo, p.hi, string(list)}, []any{&key, &hist}, func() error {
			if h := hists[key]; h != nil {
				return h.MergeBinary(hist)
			}
			return nil
		}); err != nil {
			return nil, t.fail(op, fmt.Errorf("%s histograms: %w", rollupTables[ti].name, err))
		}
	}
	for i := range out {
		h := hists[out[i].Key]
		out[i].P50, out[i].P95 = h.Quantile(0.5), h.Quantile(0.95)
	}
	return out, nil
}
