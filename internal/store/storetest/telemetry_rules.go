package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/telemetry"
)

// day is a whole range around t0 that every rule's spans fall in.
var (
	dayFrom = t0.Add(-24 * time.Hour)
	dayTo   = t0.Add(24 * time.Hour)
)

func summary(t *testing.T, s store.Telemetry, server string, from, to time.Time) telemetry.Summary {
	t.Helper()
	sum, err := s.Summary(t.Context(), server, from, to)
	noErr(t, "Summary", err)
	return sum
}

var telemetryCases = []telemetryCase{
	{"Telemetry/SpanComesBackExactlyAsWritten", func(t *testing.T, s store.Telemetry) {
		sp := telemetry.Span{ServerID: tenantA, TraceID: traceID(1), SpanID: spanID(2), ParentSpanID: spanID(3),
			Name: "tools/call echo", Kind: telemetry.KindServer, Start: t0.Add(123456789 * time.Nanosecond),
			Duration: 1234567 * time.Nanosecond, Status: telemetry.StatusError, Method: "tools/call", Tool: "echo",
			UserID: "user-1", ClientID: "client-1", SessionID: "sess-1", ErrorType: "tool_error",
			Attributes: []byte(`{"mcp.protocol.version":"2025-06-18"}`)}
		root := call(tenantA, 1, 3, t0, time.Millisecond, "", "", "")
		root.Method, root.Name, root.SessionID = "initialize", "initialize", ""
		equal(t, "inserted", write(t, s, sp, root), 2)
		got, err := s.Trace(t.Context(), tenantA, traceID(1), dayFrom, dayTo)
		noErr(t, "Trace", err)
		equal(t, "trace, oldest first", got, []telemetry.Span{root, sp})
		page, err := s.Spans(t.Context(), tenantA, telemetry.SpanFilter{})
		noErr(t, "Spans", err)
		equal(t, "span list, newest first", page, telemetry.SpanPage{Spans: []telemetry.SpanRow{rowOf(&sp), rowOf(&root)}})
		none, err := s.Trace(t.Context(), tenantA, traceID(99), dayFrom, dayTo)
		noErr(t, "Trace of an unknown trace", err)
		equal(t, "unknown trace", len(none), 0)
		// The range bounds the search: [from, to) by start.
		got, err = s.Trace(t.Context(), tenantA, traceID(1), t0.Add(time.Nanosecond), sp.Start.Add(time.Nanosecond))
		noErr(t, "Trace in a range", err)
		equal(t, "trace in a range holding one of its spans", got, []telemetry.Span{sp})
		got, err = s.Trace(t.Context(), tenantA, traceID(1), dayFrom, t0)
		noErr(t, "Trace before it", err)
		equal(t, "trace in a range before it", len(got), 0)
		_, err = s.Trace(t.Context(), tenantA, traceID(1), t0, dayFrom)
		wantErr(t, "trace range ending before it starts", err, telemetry.ErrInvalidQuery)
	}},
	{"Telemetry/ResentBatchIsStoredAndCountedOnce", func(t *testing.T, s store.Telemetry) {
		batch := []telemetry.Span{
			call(tenantA, 1, 1, t0, 10*time.Millisecond, "echo", "u1", "c1"),
			call(tenantA, 1, 2, t0.Add(time.Second), 20*time.Millisecond, "echo", "u2", "c1"),
			call(tenantA, 2, 1, t0.Add(time.Hour), 30*time.Millisecond, "add", "u1", "c2"),
		}
		equal(t, "first write", write(t, s, batch...), 3)
		before := summary(t, s, tenantA, dayFrom, dayTo)
		equal(t, "calls", before.Calls, int64(3))
		equal(t, "re-sent batch", write(t, s, batch...), 0)
		// A batch holding a stored span, a new one, and the new one twice.
		fresh := call(tenantA, 3, 1, t0, 40*time.Millisecond, "echo", "u3", "c1")
		equal(t, "mixed batch", write(t, s, batch[0], fresh, fresh), 1)
		after := summary(t, s, tenantA, dayFrom, dayTo)
		want := before
		want.Calls, want.ActiveUsers = 4, 3
		want.P50, want.P95, want.P99 = after.P50, after.P95, after.P99
		equal(t, "summary after the re-sends", after, want)
		minute := summary(t, s, tenantA, t0, t0.Add(time.Second))
		equal(t, "calls in t0's minute (t0 and t0+1s and the fresh one)", minute.Calls, int64(3))
		equal(t, "users in t0's minute", minute.ActiveUsers, int64(3))
		top, err := s.TopTools(t.Context(), tenantA, dayFrom, dayTo, 0)
		noErr(t, "TopTools", err)
		equal(t, "echo calls", top[0].Calls, int64(3))
		equal(t, "spans listed", len(allSpans(t, s, tenantA, telemetry.SpanFilter{})), 4)
	}},
	{"Telemetry/OtherTenantsIdenticalIDsAreSeparateAndInvisible", otherTenantRule},
	{"Telemetry/SameIDsWithAnotherStartAreAnotherSpan", func(t *testing.T, s store.Telemetry) {
		// The start is part of a span's identity (a re-send repeats it): a
		// sender reusing ids at another time gets a second span.
		first := call(tenantA, 1, 1, t0, time.Millisecond, "echo", "u1", "c1")
		again := first
		again.Start = t0.Add(time.Nanosecond)
		equal(t, "inserted", write(t, s, first, again, first), 2)
		equal(t, "calls", summary(t, s, tenantA, dayFrom, dayTo).Calls, int64(2))
	}},
	{"Telemetry/InvalidSpanStoresNothing", func(t *testing.T, s store.Telemetry) {
		good := call(tenantA, 1, 1, t0, time.Millisecond, "echo", "u1", "c1")
		for _, bad := range []telemetry.Span{
			{ServerID: tenantA, SpanID: spanID(2), Start: t0},                      // zero trace id
			{TraceID: traceID(2), SpanID: spanID(2), Start: t0},                    // no tenant
			call(tenantA, 2, 2, t0, -time.Millisecond, "echo", "u1", "c1"),         // negative duration
			call(tenantA, 2, 2, t0, time.Millisecond, "echo", "bad\xffutf8", "c1"), // invalid UTF-8
		} {
			n, err := s.WriteSpans(t.Context(), []telemetry.Span{good, bad})
			wantErr(t, "batch with an invalid span", err, telemetry.ErrInvalidSpan)
			equal(t, "inserted", n, 0)
		}
		equal(t, "summary", summary(t, s, tenantA, dayFrom, dayTo), telemetry.Summary{})
		equal(t, "spans", len(allSpans(t, s, tenantA, telemetry.SpanFilter{})), 0)
		equal(t, "then the good span alone", write(t, s, good), 1)
	}},
	{"Telemetry/TimeIsTheSpanStartNeverTheIngestTime", func(t *testing.T, s store.Telemetry) {
		// Spans sent now that started three days and one hour ago land there.
		old := t0.Add(-72 * time.Hour)
		write(t, s, call(tenantA, 1, 1, old, time.Millisecond, "echo", "u1", "c1"),
			call(tenantA, 1, 2, old.Add(-time.Hour), time.Millisecond, "echo", "u1", "c1"))
		equal(t, "calls in the span's minute", summary(t, s, tenantA, old, old.Add(time.Minute)).Calls, int64(1))
		equal(t, "calls in the hour before", summary(t, s, tenantA, old.Add(-time.Hour), old.Add(-59*time.Minute)).Calls, int64(1))
		now := time.Now()
		equal(t, "calls in the last day", summary(t, s, tenantA, now.Add(-24*time.Hour), now).Calls, int64(0))
		pts, err := s.Timeseries(t.Context(), tenantA, old.Add(-2*time.Hour), old.Add(time.Hour), time.Hour)
		noErr(t, "Timeseries", err)
		var calls []int64
		for _, p := range pts {
			calls = append(calls, p.Calls)
		}
		equal(t, "calls per hour, 13:00 to 16:00", calls, []int64{0, 1, 1, 0})
	}},
	{"Telemetry/OnlyMCPServerSpansAreCalls", func(t *testing.T, s store.Telemetry) {
		c := call(tenantA, 1, 1, t0, 10*time.Millisecond, "echo", "u1", "c1")
		child := call(tenantA, 1, 2, t0, 5*time.Millisecond, "echo", "u2", "c2")
		child.Kind, child.ParentSpanID = telemetry.KindInternal, spanID(1)
		plain := call(tenantA, 1, 3, t0, 5*time.Millisecond, "", "u3", "c3")
		plain.Method = ""
		equal(t, "inserted", write(t, s, c, child, plain), 3)
		sum := summary(t, s, tenantA, dayFrom, dayTo)
		equal(t, "calls", sum.Calls, int64(1))
		equal(t, "active users", sum.ActiveUsers, int64(1))
		users, err := s.TopUsers(t.Context(), tenantA, dayFrom, dayTo, 0)
		noErr(t, "TopUsers", err)
		equal(t, "users", len(users), 1)
		equal(t, "spans listed (all three)", len(allSpans(t, s, tenantA, telemetry.SpanFilter{})), 3)
	}},
	{"Telemetry/CallsWithoutUserOrClientAreLeftOutOfThoseFigures", func(t *testing.T, s store.Telemetry) {
		write(t, s, call(tenantA, 1, 1, t0, time.Millisecond, "echo", "", ""),
			call(tenantA, 1, 2, t0, time.Millisecond, "echo", "u1", "c1"))
		sum := summary(t, s, tenantA, dayFrom, dayTo)
		equal(t, "calls", sum.Calls, int64(2))
		equal(t, "active users", sum.ActiveUsers, int64(1))
		users, err := s.TopUsers(t.Context(), tenantA, dayFrom, dayTo, 0)
		noErr(t, "TopUsers", err)
		clients, err := s.TopClients(t.Context(), tenantA, dayFrom, dayTo, 0)
		noErr(t, "TopClients", err)
		if len(users) != 1 || users[0].Key != "u1" || len(clients) != 1 || clients[0].Key != "c1" {
			t.Errorf("top users %+v, top clients %+v: want only u1 and c1", users, clients)
		}
	}},
	{"Telemetry/TopListsAreByCallsThenKeyAndLimited", func(t *testing.T, s store.Telemetry) {
		var spans []telemetry.Span
		for i, tool := range []string{"b", "a", "c", "a", "c", "c"} {
			sp := call(tenantA, 1, i+1, t0.Add(time.Duration(i)*time.Second), time.Duration(i+1)*time.Millisecond, tool, "u"+tool, "c1")
			if i == 5 {
				sp.ErrorType = "tool_error"
			}
			spans = append(spans, sp)
		}
		spans = append(spans, telemetry.Span{ServerID: tenantA, TraceID: traceID(1), SpanID: spanID(50), Kind: telemetry.KindServer,
			Start: t0, Method: "tools/list", Name: "tools/list"})
		write(t, s, spans...)
		top, err := s.TopTools(t.Context(), tenantA, dayFrom, dayTo, 2)
		noErr(t, "TopTools", err)
		var all []*telemetry.Span
		for i := range spans {
			all = append(all, &spans[i])
		}
		equal(t, "top 2 tools (tools/list has no tool)", top, topOf(all, toolOf, 2))
		equal(t, "keys", []string{top[0].Key, top[1].Key}, []string{"c", "a"})
		equal(t, "errors of c", top[0].Errors, int64(1))
	}},
	{"Telemetry/SpanListFilters", func(t *testing.T, s store.Telemetry) {
		g := newSpanGen(11, 3, 4, 2, 0.2)
		var spans []telemetry.Span
		for i := range 300 {
			spans = append(spans, g.span(tenantA, t0.Add(time.Duration(i)*time.Second)))
		}
		write(t, s, spans...)
		for _, c := range []struct {
			name string
			f    telemetry.SpanFilter
			keep func(*telemetry.Span) bool
		}{
			{"everything", telemetry.SpanFilter{}, func(*telemetry.Span) bool { return true }},
			{"tool", telemetry.SpanFilter{Tool: "tool_01"}, func(s *telemetry.Span) bool { return s.Tool == "tool_01" }},
			{"user", telemetry.SpanFilter{User: "user-0002"}, func(s *telemetry.Span) bool { return s.UserID == "user-0002" }},
			{"errors", telemetry.SpanFilter{ErrorsOnly: true}, func(s *telemetry.Span) bool { return s.Outcome() == telemetry.OutcomeError }},
			{"slow", telemetry.SpanFilter{MinDuration: 10 * time.Millisecond}, func(s *telemetry.Span) bool { return s.Duration >= 10*time.Millisecond }},
			{"range", telemetry.SpanFilter{From: t0.Add(100 * time.Second), To: t0.Add(200 * time.Second)},
				func(s *telemetry.Span) bool {
					return !s.Start.Before(t0.Add(100*time.Second)) && s.Start.Before(t0.Add(200*time.Second))
				}},
			{"all at once", telemetry.SpanFilter{Tool: "tool_00", User: "user-0001", ErrorsOnly: true, MinDuration: time.Millisecond, Limit: 3},
				func(s *telemetry.Span) bool {
					return s.Tool == "tool_00" && s.UserID == "user-0001" && s.Outcome() == telemetry.OutcomeError && s.Duration >= time.Millisecond
				}},
		} {
			c.f.Limit = max(c.f.Limit, 7)
			var want []telemetry.SpanRow
			for i := range spans {
				if c.keep(&spans[i]) {
					want = append(want, rowOf(&spans[i]))
				}
			}
			newestFirst(want)
			got := allSpans(t, s, tenantA, c.f)
			if len(got) == 0 && len(want) == 0 {
				continue
			}
			equal(t, c.name, got, want)
		}
	}},
	{"Telemetry/SpanCursorPagesThroughEverythingOnceUnderConcurrentInserts", func(t *testing.T, s store.Telemetry) {
		g := newSpanGen(12, 3, 5, 2, 0.1)
		var spans []telemetry.Span
		for i := range 250 {
			spans = append(spans, g.span(tenantA, t0.Add(time.Duration(i%50)*time.Minute))) // five spans per start
		}
		write(t, s, spans...)
		seen := map[[24]byte]int{}
		f := telemetry.SpanFilter{Limit: 17}
		var prev *telemetry.SpanRow
		for page := 0; ; page++ {
			p, err := s.Spans(t.Context(), tenantA, f)
			noErr(t, "Spans", err)
			for i := range p.Spans {
				r := &p.Spans[i]
				var k [24]byte
				copy(k[:16], r.TraceID[:])
				copy(k[16:], r.SpanID[:])
				seen[k]++
				if prev != nil && r.Start.After(prev.Start) {
					t.Fatalf("page %d: %v listed after %v: not newest first", page, r.Start, prev.Start)
				}
				prev = r
			}
			// Between pages, spans arrive: newer than everything, older than
			// everything, and at a start the list is in the middle of.
			write(t, s, g.span(tenantA, t0.Add(time.Hour+time.Duration(page)*time.Second)),
				g.span(tenantA, t0.Add(-time.Hour)), g.span(tenantA, prev.Start))
			if p.Next == "" {
				break
			}
			f.Cursor = p.Next
		}
		for _, sp := range spans {
			var k [24]byte
			copy(k[:16], sp.TraceID[:])
			copy(k[16:], sp.SpanID[:])
			if seen[k] != 1 {
				t.Fatalf("span stored before the first page listed %d times, want once", seen[k])
			}
		}
		for k, n := range seen {
			if n != 1 {
				t.Fatalf("span %x listed %d times", k, n)
			}
		}
	}},
	{"Telemetry/BadQueriesAreInvalidQuery", func(t *testing.T, s store.Telemetry) {
		ctx := t.Context()
		_, err := s.Summary(ctx, tenantA, t0, t0.Add(-time.Second))
		wantErr(t, "summary ending before it starts", err, telemetry.ErrInvalidQuery)
		_, err = s.TopTools(ctx, tenantA, t0, t0.Add(-time.Second), 0)
		wantErr(t, "top tools ending before it starts", err, telemetry.ErrInvalidQuery)
		for _, step := range []time.Duration{0, -time.Minute, 30 * time.Second, 90 * time.Second} {
			_, err = s.Timeseries(ctx, tenantA, dayFrom, dayTo, step)
			wantErr(t, fmt.Sprintf("step %v", step), err, telemetry.ErrInvalidQuery)
		}
		_, err = s.Timeseries(ctx, tenantA, t0.Add(-365*24*time.Hour), t0, time.Minute)
		wantErr(t, "a year by the minute", err, telemetry.ErrInvalidQuery)
		_, err = s.Timeseries(ctx, tenantA, t0, t0.Add(-time.Hour), time.Minute)
		wantErr(t, "time series ending before it starts", err, telemetry.ErrInvalidQuery)
		farPast, farFuture := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
		_, err = s.Summary(ctx, tenantA, farPast, t0)
		wantErr(t, "summary from 1900", err, telemetry.ErrInvalidQuery)
		_, err = s.TopUsers(ctx, tenantA, t0, farFuture, 0)
		wantErr(t, "top users to 3000", err, telemetry.ErrInvalidQuery)
		_, err = s.Timeseries(ctx, tenantA, t0, farFuture, 24*time.Hour)
		wantErr(t, "time series to 3000", err, telemetry.ErrInvalidQuery)
		_, err = s.Trace(ctx, tenantA, traceID(1), farPast, t0)
		wantErr(t, "trace from 1900", err, telemetry.ErrInvalidQuery)
		_, err = s.Spans(ctx, tenantA, telemetry.SpanFilter{To: farFuture})
		wantErr(t, "spans to 3000", err, telemetry.ErrInvalidQuery)
		for _, cur := range []string{"!", "AAAA", "not base64 at all", "AAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
			_, err = s.Spans(ctx, tenantA, telemetry.SpanFilter{Cursor: cur})
			wantErr(t, fmt.Sprintf("cursor %q", cur), err, telemetry.ErrInvalidQuery)
		}
	}},
	{"Telemetry/EmptyRangesAndUnknownTenantsAreZero", func(t *testing.T, s store.Telemetry) {
		write(t, s, call(tenantA, 1, 1, t0, time.Millisecond, "echo", "u1", "c1"))
		equal(t, "unknown tenant", summary(t, s, "nobody", dayFrom, dayTo), telemetry.Summary{})
		aligned := t0.Truncate(time.Minute).Add(5 * time.Minute)
		equal(t, "empty range", summary(t, s, tenantA, aligned, aligned), telemetry.Summary{})
		pts, err := s.Timeseries(t.Context(), tenantA, aligned, aligned.Add(3*time.Minute), time.Minute)
		noErr(t, "Timeseries", err)
		equal(t, "points", len(pts), 3)
		for i, p := range pts {
			equal(t, fmt.Sprintf("point %d", i), p, telemetry.TimeseriesPoint{Start: aligned.Add(time.Duration(i) * time.Minute)})
		}
	}},
	{"Telemetry/TimeseriesStepsAreAlignedToTheEpoch", func(t *testing.T, s store.Telemetry) {
		write(t, s, call(tenantA, 1, 1, t0, time.Millisecond, "echo", "u1", "c1"))
		pts, err := s.Timeseries(t.Context(), tenantA, t0.Add(-7*time.Minute), t0.Add(7*time.Minute), 5*time.Minute)
		noErr(t, "Timeseries", err)
		// t0 is 15:09:26.535: the steps are 15:00, 15:05, 15:10 and 15:15.
		var starts []time.Time
		for _, p := range pts {
			starts = append(starts, p.Start)
		}
		base := time.Date(2026, 3, 14, 15, 0, 0, 0, time.UTC)
		equal(t, "starts", starts, []time.Time{base, base.Add(5 * time.Minute), base.Add(10 * time.Minute), base.Add(15 * time.Minute)})
		equal(t, "the call is in the 15:05 step", pts[1].Calls, int64(1))
	}},
	{"Telemetry/ConcurrentWritesLoseNothing", func(t *testing.T, s store.Telemetry) {
		// Writers at once, each with spans of its own and, in the same
		// minutes, a share every writer sends: every own span and each
		// shared span exactly once ends up in the rollups.
		const writers, own, shared = 4, 200, 100
		g := newSpanGen(13, 4, 30, 3, 0.1)
		var common []telemetry.Span
		for i := range shared {
			common = append(common, g.span(tenantA, t0.Add(time.Duration(i)*time.Second)))
		}
		batches := make([][]telemetry.Span, writers)
		all := append([]telemetry.Span{}, common...)
		for w := range batches {
			for i := range own {
				server := tenantA
				if i%4 == 0 {
					server = tenantB
				}
				sp := g.span(server, t0.Add(time.Duration(i)*time.Second))
				batches[w] = append(batches[w], sp)
				all = append(all, sp)
			}
			batches[w] = append(batches[w], common...)
		}
		inserted := make([]int, writers)
		var eg errgroup.Group
		var ready sync.WaitGroup
		ready.Add(writers)
		start := make(chan struct{})
		for w := range writers {
			eg.Go(func() error {
				ready.Done()
				<-start
				var err error
				inserted[w], err = s.WriteSpans(context.Background(), batches[w])
				return err
			})
		}
		ready.Wait()
		close(start)
		noErr(t, "concurrent WriteSpans", eg.Wait())
		total := 0
		for _, n := range inserted {
			total += n
		}
		equal(t, "inserted in all", total, len(all))
		e := expected{spans: all}
		for _, server := range []string{tenantA, tenantB} {
			equal(t, "summary of "+server, summary(t, s, server, dayFrom, dayTo), summaryOf(e.callsIn(server, dayFrom, dayTo)))
			// Every rollup table: a lost update shows in any of them.
			for _, top := range []struct {
				name string
				fn   func(context.Context, string, time.Time, time.Time, int) ([]telemetry.TopRow, error)
				key  func(*telemetry.Span) string
			}{{"tools", s.TopTools, toolOf}, {"users", s.TopUsers, userOf}, {"clients", s.TopClients, clientOf}} {
				got, err := top.fn(t.Context(), server, dayFrom, dayTo, 0)
				noErr(t, "top "+top.name, err)
				sameTop(t, "top "+top.name+" of "+server, got, topOf(e.callsIn(server, dayFrom, dayTo), top.key, 0))
			}
		}
	}},
	{"Telemetry/PurgeRemovesOnlyWhatIsOlderThanTheCutoff", purgeRule},
	{"Telemetry/LateSpanAfterAPurgeCountsOnlyItself", func(t *testing.T, s store.Telemetry) {
		// A span arriving late for a minute the purge removed starts that
		// minute afresh: nothing purged comes back with it.
		minute := t0.Truncate(time.Minute)
		write(t, s, call(tenantA, 1, 1, minute, time.Millisecond, "echo", "u1", "c1"),
			call(tenantA, 1, 2, minute.Add(time.Second), time.Millisecond, "echo", "u2", "c1"))
		_, err := s.PurgeTelemetry(t.Context(), minute.Add(time.Minute))
		noErr(t, "PurgeTelemetry", err)
		write(t, s, call(tenantA, 2, 1, minute.Add(2*time.Second), time.Millisecond, "echo", "u3", "c1"))
		sum := summary(t, s, tenantA, minute, minute.Add(time.Minute))
		if sum.Calls != 1 || sum.ActiveUsers != 1 {
			t.Errorf("the purged minute after a late span: %+v, want 1 call by 1 user", sum)
		}
	}},
	{"Telemetry/MetricPointsAreDeduplicatedAndPerTenant", metricPointsRule},
	{"Telemetry/CanceledContextFails", func(t *testing.T, s store.Telemetry) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := s.WriteSpans(ctx, []telemetry.Span{call(tenantA, 1, 1, t0, time.Millisecond, "echo", "u", "c")}); err == nil {
			t.Error("WriteSpans with a canceled context succeeded")
		}
		if _, err := s.Summary(ctx, tenantA, dayFrom, dayTo); err == nil {
			t.Error("Summary with a canceled context succeeded")
		}
		if _, err := s.Spans(ctx, tenantA, telemetry.SpanFilter{}); err == nil {
			t.Error("Spans with a canceled context succeeded")
		}
		equal(t, "summary", summary(t, s, tenantA, dayFrom, dayTo), telemetry.Summary{})
	}},
	{"Telemetry/RollupsEqualFiguresFromRawSpans", rollupPropertyRule},
	{"Telemetry/TimeseriesCountsExactDistinctUsersAtAnyStep", timeseriesUsersRule},
	{"Telemetry/PurgeInsideFiveMinutesKeepsTimeseriesUsersExact", purgeInsideFiveMinutesRule},
}

// otherTenantRule: two tenants send spans with the same trace and span
// ids (a copied payload, or a hostile sender): both are stored, and no
// query of one shows anything of the other.
func otherTenantRule(t *testing.T, s store.Telemetry) {
	ctx := t.Context()
	a := []telemetry.Span{
		call(tenantA, 1, 1, t0, 10*time.Millisecond, "alpha", "ua", "ca"),
		call(tenantA, 1, 2, t0.Add(time.Second), 11*time.Millisecond, "alpha", "ua", "ca"),
	}
	b := []telemetry.Span{
		call(tenantB, 1, 1, t0, 900*time.Millisecond, "beta", "ub", "cb"),
		call(tenantB, 1, 2, t0.Add(2*time.Second), 901*time.Millisecond, "beta", "ub", "cb"),
	}
	b[0].ErrorType = "tool_error"
	equal(t, "A's spans inserted", write(t, s, a...), 2)
	equal(t, "B's spans with the same ids inserted", write(t, s, b...), 2)
	// And once more in one mixed batch: nothing new.
	equal(t, "both again", write(t, s, a[0], b[0], a[1], b[1]), 0)

	for _, c := range []struct {
		server string
		spans  []telemetry.Span
		tool   string
		user   string
		client string
	}{{tenantA, a, "alpha", "ua", "ca"}, {tenantB, b, "beta", "ub", "cb"}, {"srv-c", nil, "", "", ""}} {
		var ptrs []*telemetry.Span
		for i := range c.spans {
			ptrs = append(ptrs, &c.spans[i])
		}
		equal(t, c.server+" summary", summary(t, s, c.server, dayFrom, dayTo), summaryOf(ptrs))
		pts, err := s.Timeseries(ctx, c.server, t0.Add(-time.Minute), t0.Add(time.Minute), time.Minute)
		noErr(t, "Timeseries", err)
		var calls int64
		for _, p := range pts {
			calls += p.Calls
		}
		equal(t, c.server+" timeseries calls", calls, int64(len(c.spans)))
		for _, top := range []struct {
			name string
			fn   func(context.Context, string, time.Time, time.Time, int) ([]telemetry.TopRow, error)
			key  func(*telemetry.Span) string
		}{{"tools", s.TopTools, toolOf}, {"users", s.TopUsers, userOf}, {"clients", s.TopClients, clientOf}} {
			got, err := top.fn(ctx, c.server, dayFrom, dayTo, 0)
			noErr(t, "top "+top.name, err)
			sameTop(t, c.server+" top "+top.name, got, topOf(ptrs, top.key, 0))
		}
		var want []telemetry.SpanRow
		for _, p := range ptrs {
			want = append(want, rowOf(p))
		}
		newestFirst(want)
		got := allSpans(t, s, c.server, telemetry.SpanFilter{})
		if len(got)+len(want) > 0 {
			equal(t, c.server+" spans", got, want)
		}
		// Filters that name the other tenant's values find nothing.
		for _, f := range []telemetry.SpanFilter{{Tool: "alpha"}, {Tool: "beta"}, {User: "ua"}, {User: "ub"}, {ErrorsOnly: true}} {
			for _, r := range allSpans(t, s, c.server, f) {
				if r.Tool != c.tool || r.UserID != c.user || r.ClientID != c.client {
					t.Errorf("%s listed another tenant's span %+v with filter %+v", c.server, r, f)
				}
			}
		}
		tr, err := s.Trace(ctx, c.server, traceID(1), dayFrom, dayTo)
		noErr(t, "Trace", err)
		equal(t, c.server+" trace length", len(tr), len(c.spans))
		for _, sp := range tr {
			if sp.ServerID != c.server || sp.Tool != c.tool {
				t.Errorf("%s trace holds %+v", c.server, sp)
			}
		}
	}
	// A cursor taken at one tenant pages only that tenant at the other.
	pa, err := s.Spans(ctx, tenantA, telemetry.SpanFilter{Limit: 1})
	noErr(t, "Spans", err)
	pb, err := s.Spans(ctx, tenantB, telemetry.SpanFilter{Cursor: pa.Next})
	noErr(t, "Spans with another tenant's cursor", err)
	for _, r := range pb.Spans {
		if r.Tool != "beta" {
			t.Errorf("B's list with A's cursor showed %+v", r)
		}
	}
}

// purgeRule: spans and metric points older than the cutoff go, with the
// rollup buckets that ended by it; the rest stays, whatever tenant.
func purgeRule(t *testing.T, s store.Telemetry) {
	ctx := t.Context()
	cut := t0.Truncate(time.Hour).Add(30 * time.Minute) // 15:30
	g := newSpanGen(14, 3, 5, 2, 0.1)
	var spans []telemetry.Span
	for i := range 600 { // one span every 20 s from 13:30 to 16:50
		server := tenantA
		if i%3 == 0 {
			server = tenantB
		}
		spans = append(spans, g.span(server, cut.Add(-2*time.Hour+time.Duration(i)*20*time.Second)))
	}
	write(t, s, spans...)
	points := []telemetry.MetricPoint{
		{ServerID: tenantA, Name: "m", Time: cut.Add(-time.Second), Count: 1},
		{ServerID: tenantA, Name: "m", Time: cut, Count: 2},
		{ServerID: tenantB, Name: "m", Time: cut.Add(-time.Hour), Count: 3},
	}
	_, err := s.WriteMetricPoints(ctx, points)
	noErr(t, "WriteMetricPoints", err)

	n, err := s.PurgeTelemetry(ctx, cut)
	noErr(t, "PurgeTelemetry", err)
	if n <= 0 {
		t.Errorf("PurgeTelemetry removed %d rows", n)
	}
	e := expected{}
	for _, sp := range spans {
		if !sp.Start.Before(cut) {
			e.spans = append(e.spans, sp)
		}
	}
	for _, server := range []string{tenantA, tenantB} {
		var want []telemetry.SpanRow
		for i := range e.spans {
			if e.spans[i].ServerID == server {
				want = append(want, rowOf(&e.spans[i]))
			}
		}
		newestFirst(want)
		equal(t, server+" spans after the purge", allSpans(t, s, server, telemetry.SpanFilter{}), want)
		// Rollups of whole minutes and hours after the cutoff are intact.
		equal(t, server+" summary after the cutoff", summary(t, s, server, cut, dayTo), summaryOf(e.callsIn(server, cut, dayTo)))
		equal(t, server+" summary of the next hour", summary(t, s, server, cut.Add(30*time.Minute), cut.Add(90*time.Minute)),
			summaryOf(e.callsIn(server, cut.Add(30*time.Minute), cut.Add(90*time.Minute))))
		// Minutes before the cutoff are gone, as is the whole hour before it.
		equal(t, server+" summary before the cutoff", summary(t, s, server, dayFrom, cut), telemetry.Summary{})
		equal(t, server+" the hour before", summary(t, s, server, cut.Add(-90*time.Minute), cut.Add(-30*time.Minute)), telemetry.Summary{})
	}
	got, err := s.MetricPoints(ctx, tenantA, "m", dayFrom, dayTo)
	noErr(t, "MetricPoints", err)
	if len(got) != 1 || got[0].Count != 2 {
		t.Errorf("A's points after the purge: %+v, want the one at the cutoff", got)
	}
	got, err = s.MetricPoints(ctx, tenantB, "m", dayFrom, dayTo)
	noErr(t, "MetricPoints", err)
	equal(t, "B's points after the purge", len(got), 0)
	// Purging again finds nothing more.
	n, err = s.PurgeTelemetry(ctx, cut)
	noErr(t, "PurgeTelemetry again", err)
	equal(t, "removed by a second purge", n, 0)
}

func metricPointsRule(t *testing.T, s store.Telemetry) {
	ctx := t.Context()
	p := telemetry.MetricPoint{ServerID: tenantA, Name: "mcp.server.operation.duration",
		Attributes: []byte(`{"mcp.method.name":"tools/call"}`), Start: t0, Time: t0.Add(time.Minute),
		Count: 6, Sum: 0.25, Bounds: []float64{0.01, 0.1}, Counts: []uint64{1, 2, 3}}
	other := p
	other.Attributes = []byte(`{"mcp.method.name":"tools/list"}`)
	sameForB := p
	sameForB.ServerID = tenantB
	sameForB.Count = 7
	n, err := s.WriteMetricPoints(ctx, []telemetry.MetricPoint{p, other, sameForB})
	noErr(t, "WriteMetricPoints", err)
	equal(t, "inserted", n, 3)
	n, err = s.WriteMetricPoints(ctx, []telemetry.MetricPoint{p, sameForB})
	noErr(t, "WriteMetricPoints again", err)
	equal(t, "inserted again", n, 0)
	got, err := s.MetricPoints(ctx, tenantA, p.Name, dayFrom, dayTo)
	noErr(t, "MetricPoints", err)
	equal(t, "A's points", len(got), 2)
	for _, g := range got {
		if g.ServerID != tenantA || g.Count != 6 {
			t.Errorf("A's point %+v", g)
		}
	}
	gotB, err := s.MetricPoints(ctx, tenantB, p.Name, dayFrom, dayTo)
	noErr(t, "MetricPoints", err)
	equal(t, "B's points", gotB, []telemetry.MetricPoint{sameForB})
	// A point without a series start (delta points may have none) comes back without one.
	noStart := telemetry.MetricPoint{ServerID: tenantA, Name: "gauge-like", Time: t0, Delta: true, Count: 1,
		Bounds: []float64{}, Counts: []uint64{}}
	_, err = s.WriteMetricPoints(ctx, []telemetry.MetricPoint{noStart})
	noErr(t, "WriteMetricPoints", err)
	gotNoStart, err := s.MetricPoints(ctx, tenantA, "gauge-like", dayFrom, dayTo)
	noErr(t, "MetricPoints", err)
	equal(t, "point without a start", gotNoStart, []telemetry.MetricPoint{noStart})
	_, err = s.WriteMetricPoints(ctx, []telemetry.MetricPoint{{ServerID: tenantA, Name: "x", Time: t0}, {ServerID: tenantA}})
	if !errors.Is(err, telemetry.ErrInvalidMetric) {
		t.Errorf("batch with an invalid point: %v, want ErrInvalidMetric", err)
	}
	none, err := s.MetricPoints(ctx, tenantA, "x", dayFrom, dayTo)
	noErr(t, "MetricPoints", err)
	equal(t, "points of the refused batch", len(none), 0)
}
