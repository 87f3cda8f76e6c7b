package telemetry

import (
	"errors"
	"time"
)

// ErrInvalidQuery is wrapped by the errors of a query whose parameters
// cannot be answered (a range that ends before it starts, a step that is
// not a whole number of minutes, too many points, a malformed cursor). The
// query API answers it with 400.
var ErrInvalidQuery = errors.New("invalid telemetry query")

// Summary is what a tenant's calls over a time range add up to. Latencies
// are milliseconds, from the merged rollup histograms (each within
// [MaxRelativeError] of the exact quantile).
type Summary struct {
	Calls       int64   `json:"calls"`
	Errors      int64   `json:"errors"`
	ErrorRate   float64 `json:"error_rate"` // Errors / Calls; 0 without calls
	P50         float64 `json:"p50_ms"`
	P95         float64 `json:"p95_ms"`
	P99         float64 `json:"p99_ms"`
	ActiveUsers int64   `json:"active_users"` // distinct user ids that made a call, exact
}

// TimeseriesPoint is the [Summary] of one step of a time series, the step
// starting at Start.
type TimeseriesPoint struct {
	Start time.Time `json:"start"`
	Summary
}

// TopRow is one line of a top-tools, top-users or top-clients list: a
// tool name, a user id or an OAuth client id, and its figures.
type TopRow struct {
	Key    string
	Calls  int64
	Errors int64
	P50    float64 // milliseconds
	P95    float64 // milliseconds
}

// SpanFilter selects the spans of a span list. Zero fields select everything.
type SpanFilter struct {
	Tool        string        // only this tool
	User        string        // only this user id
	ErrorsOnly  bool          // only spans whose outcome is an error
	MinDuration time.Duration // only spans that took at least this long
	// From and To, when not zero, keep spans that started in [From, To).
	From, To time.Time
	// Limit bounds the page; 0 means DefaultSpanLimit, and more than
	// MaxSpanLimit is MaxSpanLimit.
	Limit int
	// Cursor continues a list where the page that returned it as Next
	// ended; "" starts at the newest span.
	Cursor string
}

// Page sizes of span lists.
const (
	DefaultSpanLimit = 50
	MaxSpanLimit     = 1000
)

// SpanRow is one span in a span list: the span without its attributes.
type SpanRow struct {
	TraceID      [16]byte
	SpanID       [8]byte
	ParentSpanID [8]byte
	Name         string
	Kind         int
	Start        time.Time
	Duration     time.Duration
	Status       int
	Method       string
	Tool         string
	UserID       string
	ClientID     string
	SessionID    string
	ErrorType    string
}

// Outcome is the row's [OutcomeOK] or [OutcomeError], by the rule of [Span.Outcome].
func (r *SpanRow) Outcome() string { return outcome(r.ErrorType, r.Status) }

// SpanPage is one page of a span list, newest first.
type SpanPage struct {
	Spans []SpanRow
	// Next continues the list after the last span of this page; "" when
	// the list ended. Pages stay exact under concurrent inserts: a span
	// stored before the first page is listed exactly once.
	Next string
}
