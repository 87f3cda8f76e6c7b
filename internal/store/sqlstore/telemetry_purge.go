package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// PurgeTelemetry deletes what is older than before: spans that started and
// metric points taken before it, and rollup buckets that ended by it (a
// bucket that straddles before is kept whole until it is entirely older).
// It works server by server (each table's servers found by index seeks, not
// a scan) and deletes at most purgeChunk rows per transaction, so ingest
// waits at most one short chunk behind it. Rollup chunks take the tenant's
// rollup lock where the dialect has one, like the writer.
func (t *TelemetryStore) PurgeTelemetry(ctx context.Context, before time.Time) (int, error) {
	const op = "purge telemetry"
	cut := before.UnixNano()
	total := 0
	purge := func(table, query string, lock bool, args func(server string) []any) error {
		return t.eachServer(ctx, table, func(server string) error {
			for {
				var n int64
				if lock && t.cache != nil {
					// The chunk may delete rows the writer's cache holds: it
					// starts over, and writers wait for one chunk at most.
					t.cache.mu.Lock()
				}
				err := t.inTx(ctx, func(tx *sql.Tx) error {
					if lock && t.q.lockTenant != "" {
						if _, err := tx.ExecContext(ctx, t.q.lockTenant, server); err != nil {
							return err
						}
					}
					res, err := tx.ExecContext(ctx, query, append(args(server), t.purgeChunk)...)
					if err != nil {
						return err
					}
					n, err = res.RowsAffected()
					return err
				})
				if lock && t.cache != nil {
					t.cache.reset()
					t.cache.mu.Unlock()
				}
				if err != nil {
					return fmt.Errorf("%s of server %q: %w", table, server, err)
				}
				total += int(n)
				if n < int64(t.purgeChunk) {
					return nil
				}
			}
		})
	}
	if err := purge("spans", t.q.purgeSpans, false, func(s string) []any { return []any{s, cut} }); err != nil {
		return total, t.fail(op, err)
	}
	if err := purge("metric_points", t.q.purgeMetrics, false, func(s string) []any { return []any{s, cut} }); err != nil {
		return total, t.fail(op, err)
	}
	for ti := range rollupTables {
		for _, w := range tierWidths {
			// Buckets [b, b+w) with b+w <= cut, that is b <= cut-w.
			last := cut - w + 1
			if err := purge(rollupTables[ti].name, t.q.purgeRollups[ti], true, func(s string) []any { return []any{s, w, last} }); err != nil {
				return total, t.fail(op, err)
			}
		}
	}
	// After the minute rows of rollup_users, whose rows the writer relies
	// on finding here: the 5 minutes that ended by the cutoff go whole; in
	// the 5 minutes that straddle it, the users left without a minute row,
	// so that a time series counts in them only users of the calls it
	// still counts.
	last := cut - fiveMinuteNs + 1
	if err := purge("rollup_active_users", t.q.purgeActive, true, func(s string) []any { return []any{s, last} }); err != nil {
		return total, t.fail(op, err)
	}
	if b := floorTo(cut, fiveMinuteNs); b != cut {
		if err := purge("rollup_active_users", t.q.purgeActiveStraddling, true, func(s string) []any {
			return []any{s, b, s, minuteNs, b, b + fiveMinuteNs}
		}); err != nil {
			return total, t.fail(op, err)
		}
	}
	return total, nil
}

// eachServer calls fn for each server holding rows in table, in order,
// finding each by one seek of an index that starts with server_id.
func (t *TelemetryStore) eachServer(ctx context.Context, table string, fn func(server string) error) error {
	after := ""
	for {
		var server string
		err := t.read.QueryRowContext(ctx, t.q.nextServer[table], after).Scan(&server)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: next server: %w", table, err)
		}
		if err := fn(server); err != nil {
			return err
		}
		after = server
	}
}
