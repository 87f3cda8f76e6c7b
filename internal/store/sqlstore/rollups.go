package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/telemetry"
)

// The rollup tiers, by the width of their buckets. A range is answered from
// whole hours in the middle and whole minutes at the edges, so a 24-hour
// summary reads at most 24 + 2×59 buckets per key, and every figure,
// distinct users included, is exact for any range of whole minutes.
// Distinct users have a third tier, of 5 minutes (rollup_active_users), for
// time series whose steps are multiples of 5 minutes but not of an hour.
const (
	minuteNs     = int64(time.Minute)
	fiveMinuteNs = 5 * minuteNs
	hourNs       = int64(time.Hour)
)

// tierWidths are the tiers, finest first.
var tierWidths = [...]int64{minuteNs, hourNs}

// floorTo rounds x down to a multiple of w (also for negative x).
func floorTo(x, w int64) int64 {
	m := x % w
	if m < 0 {
		m += w
	}
	return x - m
}

// ceilTo rounds x up to a multiple of w.
func ceilTo(x, w int64) int64 {
	f := floorTo(x, w)
	if f == x {
		return x
	}
	return f + w
}

// rollupKey names one rollup row: the tenant, the tier and bucket, and up
// to three key columns (method, tool, outcome; or user; or client).
type rollupKey struct {
	server        string
	width, bucket int64
	k1, k2, k3    string
}

// bucket is the tenant, tier and bucket of the key, without the key columns.
func (k rollupKey) bucketOnly() rollupKey {
	return rollupKey{server: k.server, width: k.width, bucket: k.bucket}
}

// rollupRow is the figures of one rollup row: first what one transaction
// adds, then (after mergeStored) the row's new figures.
type rollupRow struct {
	calls, errors, durationNs, users int64
	hist                             telemetry.Histogram
	stored                           bool // the row was in the database before this transaction
}

// merge adds the figures of the stored row c to r.
func (r *rollupRow) merge(c *rollupRow) {
	r.calls += c.calls
	r.errors += c.errors
	r.durationNs += c.durationNs
	r.users += c.users
	r.hist.Merge(&c.hist)
	r.stored = true
}

func (r *rollupRow) add(d time.Duration, failed bool) {
	r.calls++
	if failed {
		r.errors++
	}
	r.durationNs += int64(d)
	r.hist.Record(d)
}

// rollupDeltas are one transaction's rollup rows, per table.
type rollupDeltas [numRollupTables]map[rollupKey]*rollupRow

// collectDeltas sums the calls among spans[ins] into rollup rows: every
// call in totals and ops, and in users and clients when it has a user or a
// client, at both tiers. Calls are summed per minute first; an hour's row
// is then the merge of its minutes' (so the work per call is one map
// lookup per table, not two).
func collectDeltas(spans []telemetry.Span, ins []int) *rollupDeltas {
	var d rollupDeltas
	for i := range d {
		d[i] = map[rollupKey]*rollupRow{}
	}
	for _, i := range ins {
		s := &spans[i]
		if !s.IsCall() {
			continue
		}
		outcome := s.Outcome()
		failed := outcome == telemetry.OutcomeError
		k := rollupKey{server: s.ServerID, width: minuteNs, bucket: floorTo(s.Start.UnixNano(), minuteNs)}
		deltaRow(d[tableTotals], k).add(s.Duration, failed)
		op := k
		op.k1, op.k2, op.k3 = s.Method, s.Tool, outcome
		deltaRow(d[tableOps], op).add(s.Duration, failed)
		if s.UserID != "" {
			u := k
			u.k1 = s.UserID
			deltaRow(d[tableUsers], u).add(s.Duration, failed)
		}
		if s.ClientID != "" {
			c := k
			c.k1 = s.ClientID
			deltaRow(d[tableClients], c).add(s.Duration, failed)
		}
	}
	for ti := range d {
		minutes := make([]rollupKey, 0, len(d[ti]))
		for k := range d[ti] {
			minutes = append(minutes, k)
		}
		for _, k := range minutes {
			m := d[ti][k]
			h := k
			h.width, h.bucket = hourNs, floorTo(k.bucket, hourNs)
			r := deltaRow(d[ti], h)
			r.calls += m.calls
			r.errors += m.errors
			r.durationNs += m.durationNs
			r.hist.Merge(&m.hist)
		}
	}
	return &d
}

// deltaRow returns m's row for k, adding an empty one if there is none.
func deltaRow(m map[rollupKey]*rollupRow, k rollupKey) *rollupRow {
	r := m[k]
	if r == nil {
		r = &rollupRow{}
		m[k] = r
	}
	return r
}

// addToRollups adds the calls among spans[ins] to every rollup table and
// returns the rows it wrote, with their new figures.
func (t *TelemetryStore) addToRollups(ctx context.Context, tx *sql.Tx, spans []telemetry.Span, ins []int) (*rollupDeltas, error) {
	d := collectDeltas(spans, ins)
	if len(d[tableTotals]) == 0 {
		return d, nil
	}
	if t.q.lockTenant != "" {
		var servers []string
		for k := range d[tableTotals] {
			servers = append(servers, k.server)
		}
		slices.Sort(servers)
		for _, s := range slices.Compact(servers) {
			if _, err := tx.ExecContext(ctx, t.q.lockTenant, s); err != nil {
				return nil, fmt.Errorf("lock rollups of server %q: %w", s, err)
			}
		}
	}
	for ti := range d {
		if err := t.mergeStored(ctx, tx, ti, d); err != nil {
			return nil, fmt.Errorf("%s: %w", rollupTables[ti].name, err)
		}
		if err := t.upsertRollups(ctx, tx, ti, d[ti]); err != nil {
			return nil, fmt.Errorf("%s: %w", rollupTables[ti].name, err)
		}
	}
	if err := t.addActiveUsers(ctx, tx, d[tableUsers]); err != nil {
		return nil, fmt.Errorf("rollup_active_users: %w", err)
	}
	return d, nil
}

// addActiveUsers adds to rollup_active_users the 5-minute rows of the users
// whose minute rows in users (merged with what was stored) are new. A user
// whose minute row was stored already has the row of its 5 minutes, written
// with that minute row (or by the migration that made the table), so in
// the steady state a user costs one row here per minute, not per batch.
func (t *TelemetryStore) addActiveUsers(ctx context.Context, tx *sql.Tx, users map[rollupKey]*rollupRow) error {
	type active struct {
		server string
		bucket int64
		user   string
	}
	seen := map[active]bool{}
	var rows []active
	for k, r := range users {
		if k.width != minuteNs || r.stored {
			continue
		}
		a := active{k.server, floorTo(k.bucket, fiveMinuteNs), k.k1}
		if !seen[a] {
			seen[a] = true
			rows = append(rows, a)
		}
	}
	args := make([]any, 0, 3*min(len(rows), sizeClasses[0]))
	return t.chunks(len(rows), func(off, size, class int) error {
		args = args[:0]
		for _, a := range rows[off : off+size] {
			args = append(args, a.server, a.bucket, a.user)
		}
		if _, err := txStmt(ctx, tx, &t.q.insertActiveUsers[class]).ExecContext(ctx, t.rowArgs(args, activeUserColumnTypes)...); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		return nil
	})
}

// mergeStored adds to d's rows of table ti the figures already stored: from
// the cache where it holds the row, else read, one query per bucket. A
// users row that was not stored is a user new to its bucket: it adds one to
// the bucket's distinct-user count in d's totals.
func (t *TelemetryStore) mergeStored(ctx context.Context, tx *sql.Tx, ti int, d *rollupDeltas) error {
	table := &rollupTables[ti]
	m := d[ti]
	groups := map[rollupKey][]string{} // bucket → the values of its narrowing key column
	for k, r := range m {
		if t.cache != nil {
			if c := t.cache.stored(ti, k); c != nil {
				r.merge(c)
				continue
			}
		}
		b := k.bucketOnly()
		groups[b] = append(groups[b], narrowValue(ti, k))
	}
	stmt := txStmt(ctx, tx, &t.q.rollups[ti].existing)
	for b, values := range groups {
		args := []any{b.server, b.width, b.bucket}
		if table.narrow != "" {
			slices.Sort(values)
			list, err := json.Marshal(slices.Compact(values))
			if err != nil {
				return err
			}
			args = append(args, string(list))
		}
		if err := t.mergeBucket(ctx, stmt, args, ti, b, m); err != nil {
			return err
		}
	}
	if ti == tableUsers {
		for k, r := range m {
			if !r.stored {
				d[tableTotals][k.bucketOnly()].users++
			}
		}
	}
	return nil
}

// narrowValue is the value of table ti's narrowing key column in k.
func narrowValue(ti int, k rollupKey) string {
	if ti == tableOps {
		return k.k2 // tool
	}
	return k.k1
}

// mergeBucket runs the read of one bucket's stored rows and merges them into m.
func (t *TelemetryStore) mergeBucket(ctx context.Context, stmt execer, args []any, ti int, b rollupKey, m map[rollupKey]*rollupRow) error {
	table := &rollupTables[ti]
	rows, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		return fmt.Errorf("read stored rows: %w", err)
	}
	defer rows.Close()
	var (
		k                       = b
		calls, errs, dur, users int64
		hist                    sql.RawBytes
		dest                    = make([]any, 0, 8)
	)
	keyDest := []*string{&k.k1, &k.k2, &k.k3}[:len(table.keys)]
	for _, p := range keyDest {
		dest = append(dest, p)
	}
	dest = append(dest, &calls, &errs, &dur)
	if table.users {
		dest = append(dest, &users)
	}
	dest = append(dest, &hist)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("read stored rows: %w", err)
		}
		r := m[k]
		if r == nil || r.stored { // rollup_ops reads every row of the batch's tools; the cache had this one
			continue
		}
		if err := r.hist.MergeBinary(hist); err != nil {
			return fmt.Errorf("stored row %+v: %w", k, err)
		}
		r.calls += calls
		r.errors += errs
		r.durationNs += dur
		r.users += users
		r.stored = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read stored rows: %w", err)
	}
	return nil
}

// upsertRollups writes m's rows to table ti with multi-row upserts.
func (t *TelemetryStore) upsertRollups(ctx context.Context, tx *sql.Tx, ti int, m map[rollupKey]*rollupRow) error {
	table := &rollupTables[ti]
	keys := make([]rollupKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	ncols := len(table.columns())
	args := make([]any, 0, len(keys)*ncols)
	var hists []byte // the chunk's encoded histograms, one after another
	return t.chunks(len(keys), func(off, size, class int) error {
		args, hists = args[:0], hists[:0]
		for _, k := range keys[off : off+size] {
			r := m[k]
			args = append(args, k.server, k.width, k.bucket)
			switch len(table.keys) {
			case 1:
				args = append(args, k.k1)
			case 3:
				args = append(args, k.k1, k.k2, k.k3)
			}
			args = append(args, r.calls, r.errors, r.durationNs)
			if table.users {
				args = append(args, r.users)
			}
			// A new backing array when hists grows leaves the earlier
			// slices on the old one, whose bytes stay as they were.
			start := len(hists)
			var err error
			if hists, err = r.hist.AppendBinary(hists); err != nil {
				return err
			}
			args = append(args, hists[start:len(hists):len(hists)])
		}
		if _, err := txStmt(ctx, tx, &t.q.rollups[ti].upsert[class]).ExecContext(ctx, t.rowArgs(args, table.columnTypes())...); err != nil {
			return fmt.Errorf("upsert: %w", err)
		}
		return nil
	})
}
