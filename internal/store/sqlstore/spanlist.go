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

// A span list is ordered by (start_ns, id) descending, the spans_start
// index read backwards, and a cursor is the position of the last span of a
// page: its start and id, 16 bytes in base64url. The next page reads
// strictly below it. Ids only grow, so a span stored after the first page
// lands above (when it is newer) or below the cursor, and every span that
// was there from the start is listed exactly once.

const cursorLen = 16

func encodeCursor(startNs, id int64) string {
	var b [cursorLen]byte
	binary.BigEndian.PutUint64(b[:8], uint64(startNs))
	binary.BigEndian.PutUint64(b[8:], uint64(id))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func decodeCursor(c string) (startNs, id int64, err error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) != cursorLen {
		return 0, 0, fmt.Errorf("%w: malformed cursor", telemetry.ErrInvalidQuery)
	}
	return int64(binary.BigEndian.Uint64(b[:8])), int64(binary.BigEndian.Uint64(b[8:])), nil
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
	// Below this position: the cursor, else the end of the range, else everything.
	posStart, posID := int64(math.MaxInt64), int64(math.MaxInt64)
	if !f.To.IsZero() {
		posStart, posID = f.To.UnixNano(), math.MinInt64
	}
	if f.Cursor != "" {
		var err error
		if posStart, posID, err = decodeCursor(f.Cursor); err != nil {
			return telemetry.SpanPage{}, t.fail(op, err)
		}
	}
	var q strings.Builder
	q.WriteString(`SELECT ` + spanRowColumns + ` FROM spans WHERE server_id = ? AND (start_ns, id) < (?, ?)`)
	args := []any{serverID, posStart, posID}
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
	q.WriteString(` ORDER BY start_ns DESC, id DESC LIMIT ?`)
	args = append(args, limit+1) // one more tells whether there is a next page
	rows, err := t.read.QueryContext(ctx, t.d.rebind(q.String()), args...)
	if err != nil {
		return telemetry.SpanPage{}, t.fail(op, err)
	}
	defer rows.Close()
	page := telemetry.SpanPage{Spans: make([]telemetry.SpanRow, 0, min(limit, 64))}
	var lastStart, lastID int64
	for rows.Next() {
		if len(page.Spans) == limit {
			page.Next = encodeCursor(lastStart, lastID)
			break
		}
		var r telemetry.SpanRow
		id, err := scanSpanRow(rows, &r, nil)
		if err != nil {
			return telemetry.SpanPage{}, t.fail(op, err)
		}
		page.Spans = append(page.Spans, r)
		lastStart, lastID = r.Start.UnixNano(), id
	}
	if err := rows.Err(); err != nil {
		return telemetry.SpanPage{}, t.fail(op, err)
	}
	return page, nil
}

// scanSpanRow scans the spanRowColumns (and, if attrs is not nil, the
// attributes after them) into r, returning the row's id.
func scanSpanRow(rows *sql.Rows, r *telemetry.SpanRow, attrs *[]byte) (int64, error) {
	var (
		id                  int64
		trace, span, parent []byte
		startNs, durationNs int64
	)
	dest := []any{&id, &trace, &span, &parent, &r.Name, &r.Kind, &startNs, &durationNs, &r.Status,
		&r.Method, &r.Tool, &r.UserID, &r.ClientID, &r.SessionID, &r.ErrorType}
	if attrs != nil {
		dest = append(dest, attrs)
	}
	if err := rows.Scan(dest...); err != nil {
		return 0, err
	}
	if len(trace) != len(r.TraceID) || len(span) != len(r.SpanID) || (parent != nil && len(parent) != len(r.ParentSpanID)) {
		return 0, fmt.Errorf("span %d: stored ids of %d, %d and %d bytes", id, len(trace), len(span), len(parent))
	}
	copy(r.TraceID[:], trace)
	copy(r.SpanID[:], span)
	copy(r.ParentSpanID[:], parent)
	r.Start = time.Unix(0, startNs).UTC()
	r.Duration = time.Duration(durationNs)
	return id, nil
}

// Trace returns every span of one of the server's traces, oldest first,
// with its attributes: one range of the spans_key index.
func (t *TelemetryStore) Trace(ctx context.Context, serverID string, traceID [16]byte) ([]telemetry.Span, error) {
	const op = "trace"
	rows, err := t.read.QueryContext(ctx, t.q.trace, serverID, traceID[:])
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
		if _, err := scanSpanRow(rows, &r, &attrs); err != nil {
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
