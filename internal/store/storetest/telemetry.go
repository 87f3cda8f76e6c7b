package storetest

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/telemetry"
)

// RunTelemetry runs the telemetry rules (spans, rollups, queries, retention,
// metric points). open must return a fresh, empty telemetry store for each
// subtest and close it when the subtest ends (tb.Cleanup).
//
// Beyond what package store documents, the rules pin down:
//   - spans come back exactly as written: times in UTC with nanosecond
//     precision, empty attributes as nil;
//   - a summary over a range equals the figures computed from the raw spans
//     of the range widened to whole minutes: calls, errors and active users
//     exactly, quantiles exactly those of a histogram of the raw durations
//     (so within telemetry.MaxRelativeError of the exact quantiles);
//   - a re-sent span is never counted twice, another tenant's identical ids
//     never collide, and nothing of one tenant is visible to another.
func RunTelemetry(t *testing.T, open func(tb testing.TB) store.Telemetry) {
	t.Helper()
	for _, c := range telemetryCases {
		t.Run(c.name, func(t *testing.T) { c.run(t, open(t)) })
	}
}

type telemetryCase struct {
	name string
	run  func(t *testing.T, s store.Telemetry)
}

// Tenants of the telemetry rules. The telemetry store has no servers table
// (on SQLite it is another file): a server id is just the tenant's key.
const (
	tenantA = "srv-a"
	tenantB = "srv-b"
)

// ids makes a trace id and a span id from small numbers.
func traceID(n int) [16]byte {
	var b [16]byte
	b[0], b[14], b[15] = 0x7e, byte(n>>8), byte(n)
	return b
}

func spanID(n int) [8]byte {
	var b [8]byte
	b[0], b[6], b[7] = 0x5a, byte(n>>8), byte(n)
	return b
}

// call is a tools/call SERVER span of the tenant.
func call(server string, trace, span int, start time.Time, d time.Duration, tool, user, client string) telemetry.Span {
	return telemetry.Span{ServerID: server, TraceID: traceID(trace), SpanID: spanID(span), Name: "tools/call " + tool,
		Kind: telemetry.KindServer, Start: start, Duration: d, Method: "tools/call", Tool: tool,
		UserID: user, ClientID: client, SessionID: "sess-1"}
}

func write(t *testing.T, s store.Telemetry, spans ...telemetry.Span) int {
	t.Helper()
	n, err := s.WriteSpans(t.Context(), spans)
	noErr(t, "WriteSpans", err)
	return n
}

// expected computes from raw spans what the store's queries must answer.
type expected struct {
	spans []telemetry.Span // unique, as stored
}

// callsIn returns the server's calls that started in the whole minutes of [from, to).
func (e *expected) callsIn(server string, from, to time.Time) []*telemetry.Span {
	lo, hi := from.Truncate(time.Minute), to.Truncate(time.Minute)
	if hi.Before(to) {
		hi = hi.Add(time.Minute)
	}
	return e.callsInExact(server, lo, hi)
}

func (e *expected) callsInExact(server string, lo, hi time.Time) []*telemetry.Span {
	var out []*telemetry.Span
	for i := range e.spans {
		s := &e.spans[i]
		if s.ServerID == server && s.IsCall() && !s.Start.Before(lo) && s.Start.Before(hi) {
			out = append(out, s)
		}
	}
	return out
}

// summaryOf is the summary of calls computed directly.
func summaryOf(calls []*telemetry.Span) telemetry.Summary {
	var h telemetry.Histogram
	var sum telemetry.Summary
	users := map[string]bool{}
	for _, c := range calls {
		sum.Calls++
		if c.Outcome() == telemetry.OutcomeError {
			sum.Errors++
		}
		if c.UserID != "" {
			users[c.UserID] = true
		}
		h.Record(c.Duration)
	}
	sum.ActiveUsers = int64(len(users))
	if sum.Calls > 0 {
		sum.ErrorRate = float64(sum.Errors) / float64(sum.Calls)
		sum.P50, sum.P95, sum.P99 = h.Quantile(0.5), h.Quantile(0.95), h.Quantile(0.99)
	}
	return sum
}

// topOf is the top list of calls by key computed directly.
func topOf(calls []*telemetry.Span, key func(*telemetry.Span) string, limit int) []telemetry.TopRow {
	type acc struct {
		calls, errors int64
		h             telemetry.Histogram
	}
	by := map[string]*acc{}
	for _, c := range calls {
		k := key(c)
		if k == "" {
			continue
		}
		a := by[k]
		if a == nil {
			a = &acc{}
			by[k] = a
		}
		a.calls++
		if c.Outcome() == telemetry.OutcomeError {
			a.errors++
		}
		a.h.Record(c.Duration)
	}
	out := []telemetry.TopRow{}
	for k, a := range by {
		out = append(out, telemetry.TopRow{Key: k, Calls: a.calls, Errors: a.errors, P50: a.h.Quantile(0.5), P95: a.h.Quantile(0.95)})
	}
	slices.SortFunc(out, func(a, b telemetry.TopRow) int {
		return cmp.Or(cmp.Compare(b.Calls, a.Calls), cmp.Compare(a.Key, b.Key))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

func toolOf(s *telemetry.Span) string   { return s.Tool }
func userOf(s *telemetry.Span) string   { return s.UserID }
func clientOf(s *telemetry.Span) string { return s.ClientID }

// sameTop compares top lists, treating an empty list and nil alike.
func sameTop(t *testing.T, what string, got, want []telemetry.TopRow) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

// rowOf is the span list row of a span.
func rowOf(s *telemetry.Span) telemetry.SpanRow {
	return telemetry.SpanRow{TraceID: s.TraceID, SpanID: s.SpanID, ParentSpanID: s.ParentSpanID, Name: s.Name, Kind: s.Kind,
		Start: s.Start.UTC(), Duration: s.Duration, Status: s.Status, Method: s.Method, Tool: s.Tool, UserID: s.UserID,
		ClientID: s.ClientID, SessionID: s.SessionID, ErrorType: s.ErrorType}
}

// allSpans pages through a server's span list with filter f and returns every row.
func allSpans(t *testing.T, s store.Telemetry, server string, f telemetry.SpanFilter) []telemetry.SpanRow {
	t.Helper()
	var out []telemetry.SpanRow
	for range 100000 {
		page, err := s.Spans(t.Context(), server, f)
		noErr(t, "Spans", err)
		out = append(out, page.Spans...)
		if page.Next == "" {
			return out
		}
		f.Cursor = page.Next
	}
	t.Fatal("span list never ends")
	return nil
}

// newestFirst sorts rows as span lists do: by start, trace id and span id,
// newest (highest) first.
func newestFirst(rows []telemetry.SpanRow) {
	slices.SortFunc(rows, func(a, b telemetry.SpanRow) int {
		return cmp.Or(b.Start.Compare(a.Start), bytes.Compare(b.TraceID[:], a.TraceID[:]), bytes.Compare(b.SpanID[:], a.SpanID[:]))
	})
}

// spanGen makes realistic spans: a mix of tools, users, clients and
// outcomes, calls and a tool handler's child spans, log-normal latencies.
type spanGen struct {
	r       *rand.Rand
	next    int
	tools   []string
	users   []string
	clients []string
	errRate float64
}

func newSpanGen(seed uint64, tools, users, clients int, errRate float64) *spanGen {
	g := &spanGen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), errRate: errRate}
	for i := range tools {
		g.tools = append(g.tools, fmt.Sprintf("tool_%02d", i))
	}
	for i := range users {
		g.users = append(g.users, fmt.Sprintf("user-%04d", i))
	}
	for i := range clients {
		g.clients = append(g.clients, fmt.Sprintf("client-%02d", i))
	}
	return g
}

// span returns a new span of server starting at start, with unique ids.
func (g *spanGen) span(server string, start time.Time) telemetry.Span {
	g.next++
	n := g.next
	var tr [16]byte
	var sp [8]byte
	for i := range tr {
		tr[i] = byte(g.r.Uint32())
	}
	tr[0] |= 1
	for i := range sp {
		sp[i] = byte(n >> (8 * (7 - i)))
	}
	sp[0] |= 0x80
	d := time.Duration(math.Exp(math.Log(float64(5*time.Millisecond))+1.2*g.r.NormFloat64())) + time.Microsecond
	s := telemetry.Span{ServerID: server, TraceID: tr, SpanID: sp, Kind: telemetry.KindServer, Start: start.UTC(),
		Duration: d, Status: telemetry.StatusUnset, SessionID: fmt.Sprintf("sess-%d", g.r.IntN(50))}
	switch p := g.r.Float64(); {
	case p < 0.75:
		s.Method = "tools/call"
		s.Tool = g.tools[g.r.IntN(len(g.tools))]
	case p < 0.85:
		s.Method = "tools/list"
	case p < 0.9:
		s.Method = "initialize"
	case p < 0.95:
		s.Method = "resources/read"
	default: // a tool handler's own span: stored, not a call
		s.Kind = telemetry.KindInternal
		s.ParentSpanID = spanID(n)
		s.Name = "db.query"
	}
	if s.Name == "" {
		s.Name = s.Method + " " + s.Tool
	}
	if g.r.Float64() < 0.95 {
		s.UserID = g.users[g.r.IntN(len(g.users))]
	}
	if g.r.Float64() < 0.97 {
		s.ClientID = g.clients[g.r.IntN(len(g.clients))]
	}
	if g.r.Float64() < g.errRate {
		switch g.r.IntN(3) {
		case 0:
			s.ErrorType = "tool_error"
		case 1:
			s.ErrorType = "-32603"
			s.Status = telemetry.StatusError
		default:
			s.Status = telemetry.StatusError
		}
	}
	if g.r.IntN(4) == 0 {
		s.Attributes = []byte(`{"mcp.protocol.version":"2025-06-18","network.transport":"tcp"}`)
	}
	return s
}
