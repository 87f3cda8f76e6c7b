package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/mcp-obs/mcp-obs/internal/priority"
	"github.com/mcp-obs/mcp-obs/internal/telemetry"
)

// spanKey is what makes a span unique (spans_key): deduplication is per
// tenant, and the start is part of the key (see store.Telemetry).
type spanKey struct {
	server string
	start  int64
	trace  [16]byte
	span   [8]byte
}

func keyOf(s *telemetry.Span) spanKey {
	return spanKey{s.ServerID, s.Start.UnixNano(), s.TraceID, s.SpanID}
}

// WriteSpans stores spans in one transaction and adds the calls among
// those it actually inserted to the rollups, in the same transaction: a
// span already stored (a re-sent batch) is skipped by the insert and so
// never counted twice, and a failure anywhere leaves nothing behind.
//
// The rollups are updated by merging in Go: each table's deltas for the
// batch are summed per key first (one row per tenant × bucket × key, however
// many spans fall in it), the rows they touch are read, merged and written
// back with multi-row upserts. Where writers run concurrently
// ([Dialect.LockTenant]) each tenant's rollups are locked first, in order.
func (t *TelemetryStore) WriteSpans(ctx context.Context, spans []telemetry.Span) (int, error) {
	const op = "write spans"
	if len(spans) == 0 {
		return 0, nil
	}
	for i := range spans {
		if err := spans[i].Validate(); err != nil {
			return 0, t.fail(op, fmt.Errorf("span %d: %w", i, err))
		}
	}
	order := uniqueSpans(spans)
	if t.d.LockTenant != "" {
		// Concurrent writers meet the rows they insert in one order, so two
		// batches holding the same spans queue rather than deadlock.
		slices.SortFunc(order, func(a, b int) int { return compareSpanKeys(&spans[a], &spans[b]) })
	}
	if t.cache != nil {
		t.cache.mu.Lock()
		defer t.cache.mu.Unlock()
	}
	var (
		inserted int
		written  *rollupDeltas
	)
	err := t.inTx(ctx, func(tx *sql.Tx) error {
		if t.cache != nil {
			if err := t.cache.check(ctx, tx, t.d.DataVersion); err != nil {
				return err
			}
		}
		ins, err := t.insertSpans(ctx, tx, spans, order)
		if err != nil {
			return err
		}
		inserted = len(ins)
		written, err = t.addToRollups(ctx, tx, spans, ins)
		// The commit writes the transaction's pages out: a checkpoint.
		priority.Yield(ctx)
		return err
	})
	if err != nil {
		if t.cache != nil {
			t.cache.reset()
		}
		return 0, t.fail(op, err)
	}
	if t.cache != nil {
		t.cache.keep(written)
	}
	return inserted, nil
}

// uniqueSpans returns the indexes of spans, in order, leaving out every
// span whose key an earlier one has.
func uniqueSpans(spans []telemetry.Span) []int {
	order := make([]int, 0, len(spans))
	seen := make(map[spanKey]struct{}, len(spans))
	for i := range spans {
		k := keyOf(&spans[i])
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = struct{}{}
		order = append(order, i)
	}
	return order
}

func compareSpanKeys(a, b *telemetry.Span) int {
	if c := strings.Compare(a.ServerID, b.ServerID); c != 0 {
		return c
	}
	if c := a.Start.Compare(b.Start); c != 0 {
		return c
	}
	if c := bytes.Compare(a.TraceID[:], b.TraceID[:]); c != 0 {
		return c
	}
	return bytes.Compare(a.SpanID[:], b.SpanID[:])
}

// insertSpans inserts the spans at order, skipping those already stored,
// and returns the indexes of those it inserted. With [Dialect.SerialWrites]
// the multi-row INSERTs only count what they insert, and when some spans
// were skipped the keys of the rows above the highest id before the first
// insert are those inserted; otherwise each INSERT RETURNs the keys of the
// rows it inserted (ON CONFLICT DO NOTHING skips the others).
func (t *TelemetryStore) insertSpans(ctx context.Context, tx *sql.Tx, spans []telemetry.Span, order []int) ([]int, error) {
	var maxID int64
	if t.d.SerialWrites {
		rows, err := txStmt(ctx, tx, &t.q.maxSpanID).QueryContext(ctx)
		if err != nil {
			return nil, fmt.Errorf("highest span id: %w", err)
		}
		if err := scanOne(rows, &maxID); err != nil {
			return nil, fmt.Errorf("highest span id: %w", err)
		}
	}
	args := make([]any, 0, len(order)*numSpanColumns)
	inserted := make([]int, 0, len(order))
	var back map[spanKey]struct{} // the keys RETURNed, when not all were inserted
	var count int64
	err := t.chunks(len(order), func(off, size, class int) error {
		priority.Yield(ctx) // a writer of background work gives way between chunks
		args = args[:0]
		chunk := order[off : off+size]
		for _, i := range chunk {
			args = appendSpanArgs(args, &spans[i])
		}
		stmt := txStmt(ctx, tx, &t.q.insertSpans[class])
		params := t.rowArgs(args, spanColumnTypes)
		if t.d.SerialWrites {
			res, err := stmt.ExecContext(ctx, params...)
			if err != nil {
				return fmt.Errorf("insert spans: %w", err)
			}
			n, err := res.RowsAffected()
			count += n
			return err
		}
		rows, err := stmt.QueryContext(ctx, params...)
		if err != nil {
			return fmt.Errorf("insert spans: %w", err)
		}
		keys, err := scanSpanKeys(rows)
		if err != nil {
			return fmt.Errorf("insert spans: %w", err)
		}
		if len(keys) == size {
			inserted = append(inserted, chunk...)
			return nil
		}
		if back == nil {
			back = map[spanKey]struct{}{}
		}
		for _, k := range keys {
			back[k] = struct{}{}
		}
		for _, i := range chunk {
			if _, ok := back[keyOf(&spans[i])]; ok {
				inserted = append(inserted, i)
			}
		}
		return nil
	})
	if err != nil || !t.d.SerialWrites {
		return inserted, err
	}
	if count == int64(len(order)) {
		return order, nil
	}
	rows, err := txStmt(ctx, tx, &t.q.spansAbove).QueryContext(ctx, maxID)
	if err != nil {
		return nil, fmt.Errorf("inserted spans: %w", err)
	}
	keys, err := scanSpanKeys(rows)
	if err != nil {
		return nil, fmt.Errorf("inserted spans: %w", err)
	}
	back = make(map[spanKey]struct{}, len(keys))
	for _, k := range keys {
		back[k] = struct{}{}
	}
	for _, i := range order {
		if _, ok := back[keyOf(&spans[i])]; ok {
			inserted = append(inserted, i)
		}
	}
	return inserted, nil
}

// appendSpanArgs appends the spanColumns of s.
func appendSpanArgs(args []any, s *telemetry.Span) []any {
	var parent any
	if s.ParentSpanID != [8]byte{} {
		parent = s.ParentSpanID[:]
	}
	var attrs any
	if len(s.Attributes) > 0 {
		attrs = s.Attributes
	}
	// int64, not int: database/sql passes driver.Value types through and
	// converts anything else by reflection, per argument.
	return append(args, s.ServerID, s.TraceID[:], s.SpanID[:], parent, s.Name, int64(s.Kind),
		s.Start.UnixNano(), int64(s.Duration), int64(s.Status), s.Outcome() == telemetry.OutcomeError,
		s.Method, s.Tool, s.UserID, s.ClientID, s.SessionID, s.ErrorType, attrs)
}

// scanSpanKeys reads rows of spanKeyColumns and closes them.
func scanSpanKeys(rows *sql.Rows) ([]spanKey, error) {
	defer rows.Close()
	var (
		out         []spanKey
		k           spanKey
		trace, span []byte
	)
	for rows.Next() {
		if err := rows.Scan(&k.server, &k.start, &trace, &span); err != nil {
			return nil, err
		}
		if len(trace) != len(k.trace) || len(span) != len(k.span) {
			return nil, fmt.Errorf("stored ids of %d and %d bytes", len(trace), len(span))
		}
		copy(k.trace[:], trace)
		copy(k.span[:], span)
		out = append(out, k)
	}
	return out, rows.Err()
}

// scanOne reads the one row of a one-column query into dest and closes rows.
func scanOne(rows *sql.Rows, dest any) error {
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := rows.Scan(dest); err != nil {
		return err
	}
	return rows.Close()
}
