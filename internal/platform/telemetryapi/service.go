// Package telemetryapi is the query API over a tenant's telemetry: the
// [Service] that answers the figures (summary, time series, top tools, users
// and clients, span lists and traces) with the rules every door shares
// (default range, limits, what a bad parameter is), and the JSON HTTP door
// over it at /api/v1/servers/{slug}/telemetry/… ([Handler]). The CLI's
// `mcp-obs stats` calls the same Service.
//
// All times are RFC 3339 and all durations milliseconds. A request is
// authenticated with the tenant's resource-server credentials in HTTP Basic;
// any other tenant's credentials get the same 401 as wrong ones.
package telemetryapi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/telemetry"
)

// DefaultRange is the range a query covers when it names none: the last 24 hours.
const DefaultRange = 24 * time.Hour

// Limits of top lists (top tools, users and clients).
const (
	DefaultTopLimit = 10
	MaxTopLimit     = 1000
)

// maxMinDuration bounds a span list's minimum duration filter: a year, far
// above any call and far below the overflow of a time.Duration.
const maxMinDuration = 365 * 24 * time.Hour

// ParamError is a query parameter the service cannot answer: the range
// ends before it starts, a step is not whole minutes, a limit is out of
// range, a cursor is malformed. The query API answers it with 400
// invalid_request naming Param. It wraps [telemetry.ErrInvalidQuery].
type ParamError struct {
	Param  string // the parameter at fault, as the query API names it ("from", "step", …)
	Reason string // what is wrong with it, printable ASCII
}

// Error returns "Param: Reason".
func (e *ParamError) Error() string { return e.Param + ": " + e.Reason }

// Unwrap returns telemetry.ErrInvalidQuery.
func (e *ParamError) Unwrap() error { return telemetry.ErrInvalidQuery }

func paramErr(param, format string, args ...any) *ParamError {
	return &ParamError{Param: param, Reason: fmt.Sprintf(format, args...)}
}

// Range is the time range [From, To) of a query.
type Range struct {
	From, To time.Time
}

// Widen returns r with its ends moved out to multiples of unit since the
// Unix epoch: the range a query over r counts, since the figures come from
// rollups (unit a minute; a time series' step). Answers report it, so that
// what they say matches what they counted.
func (r Range) Widen(unit time.Duration) Range {
	w := int64(unit)
	lo := r.From.UnixNano() - mod(r.From.UnixNano(), w)
	hi := r.To.UnixNano()
	if m := mod(hi, w); m != 0 {
		hi += w - m
	}
	return Range{From: time.Unix(0, lo).UTC(), To: time.Unix(0, hi).UTC()}
}

// mod is x mod w, never negative.
func mod(x, w int64) int64 {
	m := x % w
	if m < 0 {
		m += w
	}
	return m
}

// check reports what is wrong with r, naming the parameter.
func (r Range) check() error {
	switch {
	case r.To.After(telemetry.MaxTime) || !r.To.After(telemetry.MinTime):
		return paramErr("to", "must lie between %d and %d", telemetry.MinTime.Year(), telemetry.MaxTime.Year())
	case !telemetry.InRange(r.From):
		return paramErr("from", "must lie between %d and %d", telemetry.MinTime.Year(), telemetry.MaxTime.Year())
	case !r.From.Before(r.To):
		return paramErr("from", "must be before to (the range is [from, to))")
	}
	return nil
}

// Dimension is what a top list is keyed by.
type Dimension int

// The dimensions of top lists.
const (
	ByTool   Dimension = iota // gen_ai.tool.name
	ByUser                    // user.id
	ByClient                  // oauth.client.id
)

// Service answers telemetry queries for one tenant at a time. It is safe
// for concurrent use.
type Service struct {
	tel store.Telemetry
	now func() time.Time
}

// NewService returns a Service over tel; now is the clock of default
// ranges (nil: time.Now).
func NewService(tel store.Telemetry, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{tel: tel, now: now}
}

// LastRange is the range of the last d up to now.
func (s *Service) LastRange(d time.Duration) Range {
	to := s.now().UTC()
	return Range{From: to.Add(-d), To: to}
}

// Summary adds up the server's calls over r.
func (s *Service) Summary(ctx context.Context, serverID string, r Range) (telemetry.Summary, error) {
	if err := r.check(); err != nil {
		return telemetry.Summary{}, err
	}
	sum, err := s.tel.Summary(ctx, serverID, r.From, r.To)
	return roundSummary(sum), storeErr(err, "from")
}

// roundSummary rounds latencies to the microsecond and the error rate to
// six decimals: the histograms are within telemetry.MaxRelativeError of
// the exact quantiles, so more digits would only be noise.
func roundSummary(s telemetry.Summary) telemetry.Summary {
	s.ErrorRate = math.Round(s.ErrorRate*1e6) / 1e6
	s.P50, s.P95, s.P99 = roundMS(s.P50), roundMS(s.P95), roundMS(s.P99)
	return s
}

func roundMS(ms float64) float64 { return math.Round(ms*1e3) / 1e3 }

// DefaultStep is the step of a time series that names none: 1 minute, 1
// hour or a whole number of days, the first that gives at most 360 points
// over r (1 hour for the default 24 hours, 1 day up to a year). These are the steps the rollups answer directly
// (their own buckets); a step such as 5 minutes must count the distinct
// users of each step from per-minute rows, which over a day of busy traffic
// costs far more (see the README's query figures).
func DefaultStep(r Range) time.Duration {
	for _, step := range []time.Duration{time.Minute, time.Hour} {
		if points(r, step) <= maxDefaultPoints {
			return step
		}
	}
	// Longer ranges: whole days, as few as keep the series within bounds.
	const day = 24 * time.Hour
	days := max(1, (points(r, day)+maxDefaultPoints-1)/maxDefaultPoints)
	for points(r, time.Duration(days)*day) > maxDefaultPoints {
		days++
	}
	return time.Duration(days) * day
}

// maxDefaultPoints is the most points the default step gives.
const maxDefaultPoints = 360

// points is how many steps the range touches, widened to whole steps
// since the Unix epoch, as the store counts them.
func points(r Range, step time.Duration) int64 {
	lo := r.From.UnixNano() / int64(step)
	hi := (r.To.UnixNano() + int64(step) - 1) / int64(step)
	return hi - lo
}

// Timeseries returns the server's figures per step over r, oldest first,
// every step included. step must be a whole number of minutes, and the
// series at most [store.MaxTimeseriesPoints] points.
func (s *Service) Timeseries(ctx context.Context, serverID string, r Range, step time.Duration) ([]telemetry.TimeseriesPoint, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	switch {
	case step < time.Minute || step%time.Minute != 0:
		return nil, paramErr("step", "must be a whole number of minutes (1m, 5m, 1h, ...)")
	case step > 366*24*time.Hour:
		return nil, paramErr("step", "must be at most 366 days")
	}
	if n := points(r, step); n > store.MaxTimeseriesPoints {
		return nil, paramErr("step", "gives %d points over the range, more than %d: use a larger step or a shorter range",
			n, store.MaxTimeseriesPoints)
	}
	pts, err := s.tel.Timeseries(ctx, serverID, r.From, r.To, step)
	for i := range pts {
		pts[i].Summary = roundSummary(pts[i].Summary)
	}
	return pts, storeErr(err, "step")
}

// Top returns the keys of the dimension with the most calls over r, at
// most limit (1 to [MaxTopLimit]; 0 means [DefaultTopLimit]).
func (s *Service) Top(ctx context.Context, serverID string, by Dimension, r Range, limit int) ([]telemetry.TopRow, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	if limit == 0 {
		limit = DefaultTopLimit
	}
	if limit < 1 || limit > MaxTopLimit {
		return nil, paramErr("limit", "must be between 1 and %d", MaxTopLimit)
	}
	var (
		rows []telemetry.TopRow
		err  error
	)
	switch by {
	case ByTool:
		rows, err = s.tel.TopTools(ctx, serverID, r.From, r.To, limit)
	case ByUser:
		rows, err = s.tel.TopUsers(ctx, serverID, r.From, r.To, limit)
	case ByClient:
		rows, err = s.tel.TopClients(ctx, serverID, r.From, r.To, limit)
	default:
		return nil, fmt.Errorf("telemetry query: unknown dimension %d", by)
	}
	for i := range rows {
		rows[i].P50, rows[i].P95 = roundMS(rows[i].P50), roundMS(rows[i].P95)
	}
	return rows, storeErr(err, "from")
}

// Spans lists the server's spans that started in f's [From, To), newest
// first, one page at a time. f.From and f.To must be set (see
// [Service.LastRange]); f.Limit must be 0 (the default page) to
// [telemetry.MaxSpanLimit].
func (s *Service) Spans(ctx context.Context, serverID string, f telemetry.SpanFilter) (telemetry.SpanPage, error) {
	if err := (Range{From: f.From, To: f.To}).check(); err != nil {
		return telemetry.SpanPage{}, err
	}
	switch {
	case f.Limit < 0 || f.Limit > telemetry.MaxSpanLimit:
		return telemetry.SpanPage{}, paramErr("limit", "must be between 1 and %d", telemetry.MaxSpanLimit)
	case f.MinDuration < 0 || f.MinDuration > maxMinDuration:
		return telemetry.SpanPage{}, paramErr("min_ms", "must be between 0 and %d", maxMinDuration.Milliseconds())
	}
	if err := checkField("tool", f.Tool); err != nil {
		return telemetry.SpanPage{}, err
	}
	if err := checkField("user", f.User); err != nil {
		return telemetry.SpanPage{}, err
	}
	page, err := s.tel.Spans(ctx, serverID, f)
	return page, storeErr(err, "cursor") // the range is checked: only the cursor is left to refuse
}

// Trace returns the spans of one of the server's traces that started in
// r, oldest first; none for a trace it does not have.
func (s *Service) Trace(ctx context.Context, serverID string, traceID [16]byte, r Range) ([]telemetry.Span, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	if traceID == [16]byte{} {
		return nil, paramErr("trace_id", "must not be all zeros")
	}
	spans, err := s.tel.Trace(ctx, serverID, traceID, r.From, r.To)
	return spans, storeErr(err, "from")
}

// checkField refuses a filter value no stored span can carry: over
// telemetry.MaxFieldLen bytes, not UTF-8, or holding NUL (which PostgreSQL
// would refuse as a query parameter).
func checkField(param, v string) error {
	switch {
	case len(v) > telemetry.MaxFieldLen:
		return paramErr(param, "is longer than %d bytes", telemetry.MaxFieldLen)
	case !utf8.ValidString(v) || strings.ContainsRune(v, 0):
		return paramErr(param, "must be UTF-8 text without NUL")
	}
	return nil
}

// storeErr turns the store's refusal of a query (which the service's own
// checks should have caught) into a ParamError of param; other errors are
// the store's failures.
func storeErr(err error, param string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, telemetry.ErrInvalidQuery) {
		var pe *ParamError
		if errors.As(err, &pe) {
			return pe
		}
		reason := err.Error()
		if i := strings.LastIndex(reason, telemetry.ErrInvalidQuery.Error()+": "); i >= 0 {
			reason = reason[i+len(telemetry.ErrInvalidQuery.Error())+2:]
		}
		return &ParamError{Param: param, Reason: printable(reason)}
	}
	return fmt.Errorf("telemetry query: %w", err)
}

// printable keeps the printable ASCII of s other than '"' and '\', as an
// OAuth error_description must be (RFC 6749 §5.2), at most 200 bytes.
func printable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < 200; i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			c = '?'
		}
		b.WriteByte(c)
	}
	return b.String()
}
