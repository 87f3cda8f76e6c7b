// Package telemetry is the model of per-call telemetry shared by the OTLP
// receiver, the telemetry store and the query API: the [Span] a tool call
// becomes, the rule that says whether it failed, the mergeable latency
// [Histogram] the rollups keep, and the figures the queries answer. It holds
// no HTTP and no SQL.
//
// Times are UTC with nanosecond precision and always the span's own start
// time, never the time the platform received it, so a batch sent late (or
// sent again) lands in the minute the call happened. Durations in query
// results are float64 milliseconds, as the query API serves them.
package telemetry

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// OTLP span kinds and status codes, by their protocol numbers.
const (
	KindUnspecified = 0
	KindInternal    = 1
	KindServer      = 2
	KindClient      = 3

	StatusUnset = 0
	StatusOK    = 1
	StatusError = 2
)

// Outcomes of a call: what the rollups, the error rate and the status of a
// span in the query API are keyed by.
const (
	OutcomeOK    = "ok"
	OutcomeError = "error"
)

// Limits on what one span may carry. The receiver truncates to them (and
// records the truncation in the attributes); the store refuses a span over
// them, so no single sender can make one row arbitrarily large.
const (
	// MaxFieldLen bounds each string field (name, method, tool, user,
	// client, session, error type), in bytes.
	MaxFieldLen = 1024
	// MaxAttributesLen bounds the compact JSON of the remaining attributes, in bytes.
	MaxAttributesLen = 16 << 10
)

// Span is one span as the platform stores it: one MCP request a server
// handled (a SERVER span carrying mcp.method.name), or any other span an
// OpenTelemetry SDK sent along with it (a tool handler's own child spans).
// Only MCP requests count as calls (see [Span.IsCall]); every span is kept
// for span lists and traces.
type Span struct {
	ServerID     string   // tenant, from the credentials — never from the payload
	TraceID      [16]byte // never all zero
	SpanID       [8]byte  // never all zero
	ParentSpanID [8]byte  // zero for a root span
	Name         string
	Kind         int           // OTLP SpanKind numbers (2 = SERVER)
	Start        time.Time     // the span's own start time (UTC, ns), never the ingest time
	Duration     time.Duration // never negative
	Status       int           // OTLP status code: 0 unset, 1 ok, 2 error
	Method       string        // mcp.method.name ("" for non-MCP spans)
	Tool         string        // gen_ai.tool.name (tools/call only; "" otherwise)
	UserID       string        // user.id ("" when the request carried no valid token)
	ClientID     string        // oauth.client.id
	SessionID    string        // mcp.session.id
	ErrorType    string        // error.type ("" when none)
	// Attributes are the remaining span attributes (and a few resource
	// attributes such as service.name) as one compact JSON object, at most
	// MaxAttributesLen bytes; nil when there are none.
	Attributes []byte
}

// Outcome says whether the call failed: [OutcomeError] if it has an error
// type or an error status, else [OutcomeOK]. A tool result with isError
// carries error.type "tool_error", a refused request its refusal reason, so
// both count as errors even with an unset status.
func (s *Span) Outcome() string {
	return outcome(s.ErrorType, s.Status)
}

func outcome(errorType string, status int) string {
	if errorType != "" || status == StatusError {
		return OutcomeError
	}
	return OutcomeOK
}

// IsCall reports whether the span is an MCP request a server handled (a
// SERVER span with mcp.method.name), the only spans the rollups count as
// calls. A tool handler's own spans are stored but are not calls: counting
// them would count one tool call several times.
func (s *Span) IsCall() bool {
	return s.Method != "" && s.Kind == KindServer
}

// The times the platform stores and queries: from the Unix epoch to the
// start of 2200. Stored times are nanoseconds since the epoch in 64 bits,
// which end in 2262; nothing real lies outside.
var (
	MinTime = time.Unix(0, 0).UTC()
	MaxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// InRange reports whether t lies in [MinTime, MaxTime).
func InRange(t time.Time) bool {
	return !t.Before(MinTime) && t.Before(MaxTime)
}

// ErrInvalidSpan is wrapped by [Span.Validate]'s errors.
var ErrInvalidSpan = errors.New("invalid span")

// Validate checks what the store relies on: a tenant, non-zero trace and
// span ids, a start time within [MinTime, MaxTime), a duration that is not
// negative, string fields of
// valid UTF-8 without NUL (PostgreSQL refuses both in text) within
// MaxFieldLen, and attributes within MaxAttributesLen. The receiver rejects
// (into partial_success) what fails it; the store refuses a batch holding
// such a span.
func (s *Span) Validate() error {
	switch {
	case s.ServerID == "":
		return fmt.Errorf("%w: no server id", ErrInvalidSpan)
	case s.TraceID == [16]byte{}:
		return fmt.Errorf("%w: zero trace id", ErrInvalidSpan)
	case s.SpanID == [8]byte{}:
		return fmt.Errorf("%w: zero span id", ErrInvalidSpan)
	case s.Start.IsZero():
		return fmt.Errorf("%w: no start time", ErrInvalidSpan)
	case !InRange(s.Start):
		return fmt.Errorf("%w: start %s outside %d to %d", ErrInvalidSpan, s.Start.UTC().Format(time.RFC3339), MinTime.Year(), MaxTime.Year())
	case s.Duration < 0:
		return fmt.Errorf("%w: negative duration %v", ErrInvalidSpan, s.Duration)
	case len(s.Attributes) > MaxAttributesLen:
		return fmt.Errorf("%w: attributes are %d bytes, over %d", ErrInvalidSpan, len(s.Attributes), MaxAttributesLen)
	}
	for _, f := range []struct{ name, v string }{
		{"server id", s.ServerID}, {"name", s.Name}, {"method", s.Method}, {"tool", s.Tool},
		{"user id", s.UserID}, {"client id", s.ClientID}, {"session id", s.SessionID}, {"error type", s.ErrorType},
	} {
		if err := checkField(f.v); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrInvalidSpan, f.name, err)
		}
	}
	return nil
}

// checkField checks one string field against the limits of [Span.Validate].
func checkField(v string) error {
	if len(v) > MaxFieldLen {
		return fmt.Errorf("%d bytes, over %d", len(v), MaxFieldLen)
	}
	if !utf8.ValidString(v) {
		return errors.New("not valid UTF-8")
	}
	for i := 0; i < len(v); i++ {
		if v[i] == 0 {
			return errors.New("holds a NUL byte")
		}
	}
	return nil
}
