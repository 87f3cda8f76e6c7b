package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/mcp-obs/mcp-obs/internal/telemetry"
)

// spanKey is what makes a span unique: deduplication is per tenant.
type spanKey struct {
	server string
	trace  [16]byte
	span   [8]byte
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
	var inserted int
	err := t.inTx(ctx, func(tx *sql.Tx) error {
		ins, err := t.insertSpans(ctx, tx, spans, order)
		if err != nil {
			return err
		}
		inserted = len(ins)
		return t.addToRollups(ctx, tx, spans, ins)
	})
	if err != nil {
		return 0, t.fail(op, err)
	}
	return inserted, nil
}

// uniqueSpans returns the indexes of spans, in order, leaving out every
// span whose key an earlier one has.
func uniqueSpans(spans []telemetry.Span) []int {
	order := make([]int, 0, len(spans))
	seen := make(map[spanKey]struct{}, len(spans))
	for i := range spans {
		k := spanKey{spans[i].ServerID, spans[i].TraceID, spans[i].SpanID}
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
	if c := bytes.Compare(a.TraceID[:], b.TraceID[:]); c != 0 {
		return c
	}
	return bytes.Compare(a.SpanID[:], b.SpanID[:])
}

// insertSpans inserts the spans at order, skipping those already stored,
// and returns the indexes of those it inserted. Multi-row statements
// RETURN the keys of the rows they inserted: the rows ON CONFLICT DO
// NOTHING skipped are not among them.
func (t *TelemetryStore) insertSpans(ctx context.Context, tx *sql.Tx, spans []telemetry.Span, order []int) ([]int, error) {
	args := make([]any, 0, sizeClasses[0]*numSpanColumns)
	inserted := make([]int, 0, len(order))
	err := bySizeClass(len(order), func(off, size, class int) error {
		args = args[:0]
		chunk := order[off : off+size]
		for _, i := range chunk {
			s := &spans[i]
			var parent any
			if s.ParentSpanID != [8]byte{} {
				parent = s.ParentSpanID[:]
			}
			var attrs any
			if len(s.Attributes) > 0 {
				attrs = s.Attributes
			}
			args = append(args, s.ServerID, s.TraceID[:], s.SpanID[:], parent, s.Name, s.Kind,
				s.Start.UnixNano(), int64(s.Duration), s.Status, s.Outcome() == telemetry.OutcomeError,
				s.Method, s.Tool, s.UserID, s.ClientID, s.SessionID, s.ErrorType, attrs)
		}
		rows, err := txStmt(ctx, tx, &t.q.insertSpans[class]).QueryContext(ctx, args...)
		if err != nil {
			return fmt.Errorf("insert spans: %w", err)
		}
		defer rows.Close()
		back := make(map[spanKey]struct{}, size)
		var (
			k           spanKey
			trace, span []byte
		)
		for rows.Next() {
			if err := rows.Scan(&k.server, &trace, &span); err != nil {
				return fmt.Errorf("insert spans: %w", err)
			}
			if len(trace) != len(k.trace) || len(span) != len(k.span) {
				return fmt.Errorf("insert spans: stored ids of %d and %d bytes", len(trace), len(span))
			}
			copy(k.trace[:], trace)
			copy(k.span[:], span)
			back[k] = struct{}{}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("insert spans: %w", err)
		}
		if len(back) == size {
			inserted = append(inserted, chunk...)
			return nil
		}
		for _, i := range chunk {
			if _, ok := back[spanKey{spans[i].ServerID, spans[i].TraceID, spans[i].SpanID}]; ok {
				inserted = append(inserted, i)
			}
		}
		return nil
	})
	return inserted, err
}
