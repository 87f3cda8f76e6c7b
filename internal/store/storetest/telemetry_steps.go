package storetest

import (
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/telemetry"
)

// stepsUnderTest are the time-series steps whose distinct users the rules
// check: one bucket of each tier, multiples of 5 minutes (read from the
// 5-minute tier), of an hour, and steps of neither (read from minutes).
var stepsUnderTest = []time.Duration{time.Minute, 5 * time.Minute, 7 * time.Minute, 10 * time.Minute,
	15 * time.Minute, 25 * time.Minute, time.Hour, 2 * time.Hour}

// checkTimeseries checks every point of the server's time series over
// [from, to) at each step against the figures computed from the calls of
// e that started in the point's step.
func checkTimeseries(t *testing.T, s store.Telemetry, e *expected, server string, from, to time.Time, steps []time.Duration) {
	t.Helper()
	for _, step := range steps {
		pts, err := s.Timeseries(t.Context(), server, from, to, step)
		noErr(t, fmt.Sprintf("Timeseries at %v", step), err)
		first := time.Unix(0, from.UnixNano()-from.UnixNano()%int64(step)).UTC()
		if len(pts) == 0 || !pts[0].Start.Equal(first) || pts[len(pts)-1].Start.Add(step).Before(to) {
			t.Errorf("%s at %v: %d points do not cover [%s, %s)", server, step, len(pts), from, to)
			continue
		}
		for i, p := range pts {
			start := first.Add(time.Duration(i) * step)
			want := telemetry.TimeseriesPoint{Start: start, Summary: summaryOf(e.callsInExact(server, start, start.Add(step)))}
			equal(t, fmt.Sprintf("%s, step %v, point %d (%s)", server, step, i, start.Format("15:04")), p, want)
		}
	}
}

// timeseriesUsersRule: a time series at any step counts exactly the
// distinct users of each step's calls, whatever tier it reads, when a
// user's calls of one minute and of one 5-minute bucket come in several
// batches, late (into buckets written before) and re-sent; and the other
// tenant's users, though named alike, are never counted.
func timeseriesUsersRule(t *testing.T, s store.Telemetry) {
	g := newSpanGen(21, 4, 30, 3, 0.1)
	base := t0.Add(-90 * time.Minute) // 13:39:26.535
	var all []telemetry.Span
	for i := range 1500 { // one span every 6 s over 2.5 hours, users repeating within minutes
		server := tenantA
		if i%4 == 0 {
			server = tenantB
		}
		all = append(all, g.span(server, base.Add(time.Duration(i)*6*time.Second)))
	}
	// Batches of 37 spans in time order, then every seventh batch again
	// (all re-sent: nothing counted twice), then late spans: the second
	// half's odd spans were held back and arrive last, oldest last.
	var held []telemetry.Span
	var sent []telemetry.Span
	for i, sp := range all {
		if i >= len(all)/2 && i%2 == 1 {
			held = append(held, sp)
			continue
		}
		sent = append(sent, sp)
	}
	for off, n := 0, 0; off < len(sent); off, n = off+37, n+1 {
		batch := sent[off:min(off+37, len(sent))]
		write(t, s, batch...)
		if n%7 == 0 {
			equal(t, "re-sent batch", write(t, s, batch...), 0)
		}
	}
	slices.Reverse(held)
	for off := 0; off < len(held); off += 50 {
		write(t, s, held[off:min(off+50, len(held))]...)
	}
	e := &expected{spans: all}
	for _, server := range []string{tenantA, tenantB} {
		// A range at odd places, and one of whole hours.
		checkTimeseries(t, s, e, server, base.Add(-3*time.Minute), base.Add(150*time.Minute), stepsUnderTest)
		checkTimeseries(t, s, e, server, base.Truncate(time.Hour), base.Truncate(time.Hour).Add(3*time.Hour), stepsUnderTest)
	}
}

// purgeInsideFiveMinutesRule: a cutoff inside a 5-minute bucket (and
// inside a minute) leaves a time series counting, in the straddled
// buckets, only the users of the calls still counted, at every step that
// does not read whole hours (an hour straddling the cutoff is kept whole).
func purgeInsideFiveMinutesRule(t *testing.T, s store.Telemetry) {
	g := newSpanGen(22, 2, 40, 2, 0)
	start := t0.Truncate(time.Hour) // 15:00
	cut := start.Add(7*time.Minute + 30*time.Second)
	var spans []telemetry.Span
	for i := range 240 { // one every 5 s from 15:00 to 15:20, each user in one minute only
		sp := g.span(tenantA, start.Add(time.Duration(i)*5*time.Second))
		sp.UserID = fmt.Sprintf("user-%02d-%02d", i/12, i%3)
		spans = append(spans, sp)
	}
	write(t, s, spans...)
	_, err := s.PurgeTelemetry(t.Context(), cut)
	noErr(t, "PurgeTelemetry", err)
	// The minute holding the cutoff is kept whole, the minutes before it go.
	e := &expected{}
	for _, sp := range spans {
		if !sp.Start.Before(cut.Truncate(time.Minute)) {
			e.spans = append(e.spans, sp)
		}
	}
	checkTimeseries(t, s, e, tenantA, start, start.Add(30*time.Minute),
		[]time.Duration{time.Minute, 5 * time.Minute, 7 * time.Minute, 10 * time.Minute, 15 * time.Minute})
	// A span arriving late for a purged minute counts, with its user, alone.
	late := g.span(tenantA, start.Add(6*time.Minute))
	late.UserID = "late-user"
	e.spans = append(e.spans, late)
	write(t, s, late)
	checkTimeseries(t, s, e, tenantA, start, start.Add(30*time.Minute), []time.Duration{5 * time.Minute, 15 * time.Minute})
}

// ActiveUsersBackfill checks the rule that migration 0002_active_users
// fills the 5-minute tier of distinct users from what the store held
// before it: spans written, the tier and its migration's record removed
// (as a database of version 1 has neither), the store reopened, and a time
// series at steps read from the new tier counts every user as before.
//
// open opens the store on one database, the same each time (its Close
// runs when the rule is done with it, if it has one); exec runs SQL on that
// database.
func ActiveUsersBackfill(t *testing.T, open func() store.Telemetry, exec func(query string) error) {
	t.Helper()
	g := newSpanGen(23, 3, 25, 2, 0.1)
	base := t0.Add(-40 * time.Minute)
	var spans []telemetry.Span
	for i := range 600 { // one every 5 s, for 50 minutes
		spans = append(spans, g.span(tenantA, base.Add(time.Duration(i)*5*time.Second)))
	}
	s := open()
	write(t, s, spans[:300]...)
	closeStore(t, s)
	for _, q := range []string{
		`DROP INDEX spans_failed`, // 0003
		`DROP TABLE rollup_active_users`,
		`DELETE FROM telemetry_migrations WHERE version >= 2`,
	} {
		if err := exec(q); err != nil {
			t.Fatalf("back to version 1: %s: %v", q, err)
		}
	}
	s = open()
	defer closeStore(t, s)
	e := &expected{spans: spans[:300]}
	checkTimeseries(t, s, e, tenantA, base, base.Add(time.Hour), []time.Duration{5 * time.Minute, 15 * time.Minute})
	// And the writer goes on from the filled tier: the same users again,
	// in the same minutes and in new ones.
	write(t, s, spans[300:]...)
	e.spans = spans
	checkTimeseries(t, s, e, tenantA, base, base.Add(time.Hour), []time.Duration{5 * time.Minute, 10 * time.Minute, 15 * time.Minute})
}

// closeStore closes s if it has a Close method.
func closeStore(t *testing.T, s store.Telemetry) {
	t.Helper()
	if c, ok := s.(io.Closer); ok {
		noErr(t, "Close", c.Close())
	}
}
