package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/telemetry"
)

// A span list is ordered by (start_ns, trace_id, span_id) descending, the
// spans_key index read backwards, and a cursor is the key of the last span
// of a page: start, trace id and span id, 32 bytes in base64url. The next
// page reads strictly below it. The key is unique and fixed, so a span
// stored after the first page lands above or below the cursor, and every
// span that was there from the start is listed exactly once.

// position is a place in a span list: the key of a span, or a bound.
type position struct {
	start int64
	trace [16]byte
	span  [8]byte
}

const cursorLen = 8 + 16 + 8

func (p position) cursor() string {
	var b [cursorLen]byte
	binary.BigEndian.PutUint64(b[:8], uint64(p.start))
	copy(b[8:24], p.trace[:])
	copy(b[24:], p.span[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func decodeCursor(c string) (position, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) != cursorLen {
		return position{}, fmt.Errorf("%w: malformed cursor", telemetry.ErrInvalidQuery)
	}
	var p position
	p.start = int64(binary.BigEndian.Uint64(b[:8]))
	copy(p.trace[:], b[8:24])
	copy(p.span[:], b[24:])
	return p, nil
}

// Spans lists the server's spans newest first, filtered, one page at a
// time. The filters are conditions on the rows the index walk meets, so a
// rare match (one user among thousands) reads further than a common one.
func (t *TelemetryStore) Spans(ctx context.Context, serverID string, f telemetry.SpanFilter) (telemetry.SpanPage, error) {
	const op = "list spans"
	limit := f.Limit
	switch {
	case limit <= 0:
		limit = telemetry.DefaultSpanLimit
	case limit > telemetry.MaxSpanLimit:
		limit = telemetry.MaxSpanLimit
	}
	// Below this position: the cursor, else the end of the range, else
	// everything. No stored span has a zero trace id, so (to, zero, zero)
	// is "started before to".
	pos := position{start: math.MaxInt64}
	if (!f.From.IsZero() && !telemetry.InRange(f.From)) || (!f.To.IsZero() && f.To.After(telemetry.MaxTime)) {
		return telemetry.SpanPage{}, t.fail(op, fmt.Errorf("%w: the range reaches outside %d to %d",
			telemetry.ErrInvalidQuery, telemetry.MinTime.Year(), telemetry.MaxTime.Year()))
	}
	if !f.To.IsZero() {
		pos.start = f.To.UnixNano()
	}
	if f.Cursor != "" {
		var err error
		if pos, err = decodeCursor(f.Cursor); err != nil {
			return telemetry.SpanPage{}, t.fail(op, err)
		}
	}
	query, args := spanListQuery(t.d, serverID, f, pos, limit+1) // one more tells whether there is a next page
	rows, err := t.read.QueryContext(ctx, query, args...)
	if err != nil {
		return telemetry.SpanPage{}, t.fail(op, err)
	}
	defer rows.Close()
	page := telemetry.SpanPage{Spans: make([]telemetry.SpanRow, 0, min(limit, 64))}
	for rows.Next() {
		if len(page.Spans) == limit {
			last := &page.Spans[limit-1]
			page.Next = position{start: last.Start.UnixNano(), trace: last.TraceID, span: last.SpanID}.cursor()
			break
		}
		var r telemetry.SpanRow
		if err := scanSpanRow(rows, &r, nil); err != nil {
			return telemetry.SpanPage{}, t.fail(op, err)
		}
		page.Spans = append(page.Spans, r)
	}
	if err := rows.Err(); err != nil {
		return telemetry.SpanPage{}, t.fail(op, err)
	}
	return page, nil
}

// spanListQuery is the query of a span list page: the server's spans
// below pos that pass f's filters, at most limit, newest first.
func spanListQuery(d Dialect, serverID string, f telemetry.SpanFilter, pos position, limit int) (string, []any) {
	var q strings.Builder
	q.WriteString(`SELECT ` + spanRowColumns + ` FROM spans WHERE server_id = ? AND (start_ns, trace_id, span_id) < (?, ?, ?)`)
	args := []any{serverID, pos.start, pos.trace[:], pos.span[:]}
	if !f.From.IsZero() {
		q.WriteString(` AND start_ns >= ?`)
		args = append(args, f.From.UnixNano())
	}
	if f.Tool != "" {
		q.WriteString(` AND tool = ?`)
		args = append(args, f.Tool)
	}
	if f.User != "" {
		q.WriteString(` AND user_id = ?`)
		args = append(args, f.User)
	}
	if f.ErrorsOnly {
		q.WriteString(` AND failed`)
	}
	if f.MinDuration > 0 {
		q.WriteString(` AND duration_ns >= ?`)
		args = append(args, int64(f.MinDuration))
	}
	q.WriteString(` ORDER BY ` + spanOrder + ` LIMIT ?`)
	return d.rebind(q.String()), append(args, limit)
}

// scanSpanRow scans the spanRowColumns (and, if attrs is not nil, the
// attributes after them) into r.
func scanSpanRow(rows *sql.Rows, r *telemetry.SpanRow, attrs *[]byte) error {
	var (
		trace, span, parent []byte
		startNs, durationNs int64
	)
	dest := []any{&trace, &span, &parent, &r.Name, &r.Kind, &startNs, &durationNs, &r.Status,
		&r.Method, &r.Tool, &r.UserID, &r.ClientID, &r.SessionID, &r.ErrorType}
	if attrs != nil {
		dest = append(dest, attrs)
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	if len(trace) != len(r.TraceID) || len(span) != len(r.SpanID) || (parent != nil && len(parent) != len(r.ParentSpanID)) {
		return fmt.Errorf("stored ids of %d, %d and %d bytes", len(trace), len(span), len(parent))
	}
	copy(r.TraceID[:], trace)
	copy(r.SpanID[:], span)
	copy(r.ParentSpanID[:], parent)
	r.Start = time.Unix(0, startNs).UTC()
	r.Duration = time.Duration(durationNs)
	return nil
}

// Trace returns the spans of one of the server's traces that started in
// [from, to), oldest first, with their attributes: one range of the
// spans_key index, whose entries hold the trace id, so only the trace's
// rows are read from the table.
func (t *TelemetryStore) Trace(ctx context.Context, serverID string, traceID [16]byte, from, to time.Time) ([]telemetry.Span, error) {
	const op = "trace"
	if err := checkRange(from, to); err != nil {
		return nil, t.fail(op, err)
	}
	rows, err := t.read.QueryContext(ctx, t.q.trace, serverID, from.UnixNano(), to.UnixNano(), traceID[:])
	if err != nil {
		return nil, t.fail(op, err)
	}
	defer rows.Close()
	out := []telemetry.Span{}
	for rows.Next() {
		var (
			r     telemetry.SpanRow
			attrs []byte
		)
		if err := scanSpanRow(rows, &r, &attrs); err != nil {
			return nil, t.fail(op, err)
		}
		out = append(out, telemetry.Span{
			ServerID: serverID, TraceID: r.TraceID, SpanID: r.SpanID, ParentSpanID: r.ParentSpanID,
			Name: r.Name, Kind: r.Kind, Start: r.Start, Duration: r.Duration, Status: r.Status,
			Method: r.Method, Tool: r.Tool, UserID: r.UserID, ClientID: r.ClientID, SessionID: r.SessionID,
			ErrorType: r.ErrorType, Attributes: attrs,
		})
	}
	if err := rows.Err(); err != nil {
		return nil, t.fail(op, err)
	}
	return out, nil
}
