package telemetryapi

import (
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/telemetry"
)

// The JSON answers of the query API. Times are RFC 3339 in UTC with
// nanoseconds where a span has them; durations are float milliseconds.

// rfc3339 formats t as the API writes times.
func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

type summaryAnswer struct {
	From string `json:"from"`
	To   string `json:"to"`
	telemetry.Summary
}

type pointAnswer struct {
	Start string `json:"start"`
	telemetry.Summary
}

type timeseriesAnswer struct {
	From   string        `json:"from"`
	To     string        `json:"to"`
	Step   string        `json:"step"`
	StepMS int64         `json:"step_ms"`
	Points []pointAnswer `json:"points"`
}

// stepString writes a step as the shortest of "Nd", "Nh" or "Nm".
func stepString(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return itoa(int64(d/(24*time.Hour))) + "d"
	case d%time.Hour == 0:
		return itoa(int64(d/time.Hour)) + "h"
	default:
		return itoa(int64(d/time.Minute)) + "m"
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// topRow is one line of a top list, its key under the dimension's name.
type topRow struct {
	keyName string
	row     telemetry.TopRow
}

// MarshalJSON writes the key first: {"tool":…,"calls":…,…}.
func (t topRow) MarshalJSON() ([]byte, error) {
	key, err := json.Marshal(t.row.Key)
	if err != nil {
		return nil, err
	}
	rest, err := json.Marshal(struct {
		Calls  int64   `json:"calls"`
		Errors int64   `json:"errors"`
		P50    float64 `json:"p50_ms"`
		P95    float64 `json:"p95_ms"`
	}{t.row.Calls, t.row.Errors, t.row.P50, t.row.P95})
	if err != nil {
		return nil, err
	}
	out := append([]byte(`{"`+t.keyName+`":`), key...)
	out = append(out, ',')
	return append(out, rest[1:]...), nil
}

// topAnswer is a top list: {"from":…,"to":…,"tools":[…]}.
type topAnswer struct {
	from, to, listName string
	rows               []topRow
}

// MarshalJSON writes the range first, then the list under its name.
func (a topAnswer) MarshalJSON() ([]byte, error) {
	rng, err := json.Marshal(struct {
		From string `json:"from"`
		To   string `json:"to"`
	}{a.from, a.to})
	if err != nil {
		return nil, err
	}
	rows, err := json.Marshal(a.rows)
	if err != nil {
		return nil, err
	}
	out := append(rng[:len(rng)-1], `,"`+a.listName+`":`...)
	return append(append(out, rows...), '}'), nil
}

func topRows(keyName string, rows []telemetry.TopRow) []topRow {
	out := make([]topRow, len(rows))
	for i, r := range rows {
		out[i] = topRow{keyName: keyName, row: r}
	}
	return out
}

// spanAnswer is a span of a span list.
type spanAnswer struct {
	TraceID    string  `json:"trace_id"`
	SpanID     string  `json:"span_id"`
	Name       string  `json:"name"`
	Method     string  `json:"method"`
	Tool       string  `json:"tool"`
	User       string  `json:"user"`
	ClientID   string  `json:"client_id"`
	Status     string  `json:"status"` // "ok" or "error", by telemetry.Span.Outcome
	ErrorType  string  `json:"error_type"`
	DurationMS float64 `json:"duration_ms"`
	Start      string  `json:"start"`
}

// traceSpanAnswer is a span of a trace: a list's span with its parent
// (null for a root), kind, session, OTLP status code and attributes.
type traceSpanAnswer struct {
	spanAnswer
	ParentSpanID *string         `json:"parent_span_id"`
	Kind         string          `json:"kind"`
	SessionID    string          `json:"session_id"`
	StatusCode   int             `json:"status_code"` // OTLP: 0 unset, 1 ok, 2 error
	Attributes   json.RawMessage `json:"attributes"`
}

type spansAnswer struct {
	Spans []spanAnswer `json:"spans"`
	Next  *string      `json:"next"`
}

type traceAnswer struct {
	TraceID string            `json:"trace_id"`
	Spans   []traceSpanAnswer `json:"spans"`
}

func listSpan(r *telemetry.SpanRow) spanAnswer {
	return spanAnswer{
		TraceID: hex.EncodeToString(r.TraceID[:]), SpanID: hex.EncodeToString(r.SpanID[:]),
		Name: r.Name, Method: r.Method, Tool: r.Tool, User: r.UserID, ClientID: r.ClientID,
		Status: r.Outcome(), ErrorType: r.ErrorType, DurationMS: ms(r.Duration), Start: rfc3339(r.Start),
	}
}

// kindNames are the OTLP span kinds by number.
var kindNames = [...]string{"unspecified", "internal", "server", "client", "producer", "consumer"}

func traceSpan(s *telemetry.Span) traceSpanAnswer {
	a := traceSpanAnswer{
		spanAnswer: spanAnswer{
			TraceID: hex.EncodeToString(s.TraceID[:]), SpanID: hex.EncodeToString(s.SpanID[:]),
			Name: s.Name, Method: s.Method, Tool: s.Tool, User: s.UserID, ClientID: s.ClientID,
			Status: s.Outcome(), ErrorType: s.ErrorType, DurationMS: ms(s.Duration), Start: rfc3339(s.Start),
		},
		Kind: "unspecified", SessionID: s.SessionID, StatusCode: s.Status, Attributes: json.RawMessage("{}"),
	}
	if s.ParentSpanID != [8]byte{} {
		p := hex.EncodeToString(s.ParentSpanID[:])
		a.ParentSpanID = &p
	}
	if s.Kind >= 0 && s.Kind < len(kindNames) {
		a.Kind = kindNames[s.Kind]
	}
	switch {
	case len(s.Attributes) == 0:
	case json.Valid(s.Attributes):
		a.Attributes = s.Attributes
	default: // not expected from the receiver; shown, not dropped
		raw, _ := json.Marshal(string(s.Attributes))
		a.Attributes = raw
	}
	return a
}
