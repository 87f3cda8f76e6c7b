package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/telemetry"
)

// rollupPropertyRule writes random spans of two tenants over four hours
// (calls and other spans, errors, users and clients missing, batches of
// random size, some re-sent, some spans twice in a batch) and checks, for
// random ranges, that every figure the rollups answer equals the figure
// computed from the raw spans of the range widened to whole minutes:
// calls, errors, error rate and active users exactly; quantiles exactly
// those of a histogram of the raw durations, and so within
// telemetry.MaxRelativeError of the exact quantiles. The seed is in the
// failure message.
func rollupPropertyRule(t *testing.T, s store.Telemetry) {
	for _, seed := range []uint64{1, 2} {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) { rollupProperty(t, s, seed) })
	}
}

func rollupProperty(t *testing.T, s store.Telemetry, seed uint64) {
	ctx := t.Context()
	r := rand.New(rand.NewPCG(seed, 99))
	g := newSpanGen(seed, 5, 12, 3, 0.15)
	// Each seed has its own tenants, so the seeds do not see each other's spans.
	a, b := fmt.Sprintf("%s-%d", tenantA, seed), fmt.Sprintf("%s-%d", tenantB, seed)
	base := t0.Add(-2 * time.Hour) // 13:09:26.535, so hours and minutes are crossed at odd places
	var all []telemetry.Span
	for range 2500 {
		server := a
		if r.IntN(3) == 0 {
			server = b
		}
		all = append(all, g.span(server, base.Add(time.Duration(r.Int64N(int64(4*time.Hour))))))
	}
	for off := 0; off < len(all); {
		n := min(1+r.IntN(400), len(all)-off)
		batch := slices.Clone(all[off : off+n])
		if r.IntN(4) == 0 { // a span twice in a batch
			batch = append(batch, batch[r.IntN(len(batch))])
		}
		if off > 0 && r.IntN(4) == 0 { // a span of an earlier batch, re-sent
			batch = append(batch, all[r.IntN(off)])
		}
		r.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
		if _, err := s.WriteSpans(ctx, batch); err != nil {
			t.Fatalf("seed %d: WriteSpans: %v", seed, err)
		}
		if r.IntN(5) == 0 { // the whole batch re-sent
			if k, err := s.WriteSpans(ctx, batch); err != nil || k != 0 {
				t.Fatalf("seed %d: re-sent batch inserted %d, %v", seed, k, err)
			}
		}
		off += n
	}
	e := expected{spans: all}
	randomTime := func() time.Time {
		return base.Add(time.Duration(r.Int64N(int64(5*time.Hour))) - 30*time.Minute)
	}
	for i := range 30 {
		from := randomTime()
		to := from.Add(time.Duration(r.Int64N(int64(3 * time.Hour))))
		switch i % 5 {
		case 0: // whole hours
			from, to = from.Truncate(time.Hour), to.Truncate(time.Hour).Add(time.Hour)
		case 1: // whole minutes
			from, to = from.Truncate(time.Minute), to.Truncate(time.Minute)
		case 2: // within one hour
			to = from.Add(time.Duration(r.Int64N(int64(50 * time.Minute))))
		}
		for _, server := range []string{a, b} {
			what := fmt.Sprintf("seed %d, %s, [%s, %s)", seed, server, from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano))
			calls := e.callsIn(server, from, to)
			got := summary(t, s, server, from, to)
			want := summaryOf(calls)
			equal(t, what+": summary", got, want)
			checkQuantileError(t, what, got, calls)
			for _, top := range []struct {
				name string
				fn   func(*testing.T) ([]telemetry.TopRow, error)
				key  func(*telemetry.Span) string
			}{
				{"tools", func(t *testing.T) ([]telemetry.TopRow, error) { return s.TopTools(t.Context(), server, from, to, 3) }, toolOf},
				{"users", func(t *testing.T) ([]telemetry.TopRow, error) { return s.TopUsers(t.Context(), server, from, to, 0) }, userOf},
				{"clients", func(t *testing.T) ([]telemetry.TopRow, error) { return s.TopClients(t.Context(), server, from, to, 0) }, clientOf},
			} {
				rows, err := top.fn(t)
				noErr(t, what+": top "+top.name, err)
				limit := 0
				if top.name == "tools" {
					limit = 3
				}
				sameTop(t, what+": top "+top.name, rows, topOf(calls, top.key, limit))
			}
		}
	}
	for _, step := range []time.Duration{time.Minute, 5 * time.Minute, 7 * time.Minute, 15 * time.Minute, time.Hour, 2 * time.Hour} {
		from := randomTime()
		to := from.Add(3 * time.Hour)
		pts, err := s.Timeseries(ctx, a, from, to, step)
		noErr(t, "Timeseries", err)
		first := time.Unix(0, from.UnixNano()-from.UnixNano()%int64(step)).UTC()
		for i, p := range pts {
			start := first.Add(time.Duration(i) * step)
			want := telemetry.TimeseriesPoint{Start: start, Summary: summaryOf(e.callsInExact(a, start, start.Add(step)))}
			equal(t, fmt.Sprintf("seed %d, step %v, point %d", seed, step, i), p, want)
		}
		if len(pts) == 0 || pts[len(pts)-1].Start.Add(step).Before(to) {
			t.Errorf("seed %d, step %v: points do not cover the range", seed, step)
		}
	}
}

// checkQuantileError checks the summary's quantiles against the exact
// nearest-rank quantiles of the raw durations.
func checkQuantileError(t *testing.T, what string, got telemetry.Summary, calls []*telemetry.Span) {
	t.Helper()
	if len(calls) == 0 {
		return
	}
	ds := make([]time.Duration, len(calls))
	for i, c := range calls {
		ds[i] = c.Duration
	}
	slices.Sort(ds)
	for _, q := range []struct {
		q   float64
		got float64
	}{{0.5, got.P50}, {0.95, got.P95}, {0.99, got.P99}} {
		rank := int(float64(len(ds))*q.q + 0.999999999)
		rank = min(max(rank, 1), len(ds))
		exact := float64(ds[rank-1]) / float64(time.Millisecond)
		if rel := (q.got - exact) / exact; rel > telemetry.MaxRelativeError+1e-9 || rel < -telemetry.MaxRelativeError-1e-9 {
			t.Errorf("%s: p%v = %v ms, exact %v ms: relative error %.4f over %.4f", what, q.q*100, q.got, exact, rel, telemetry.MaxRelativeError)
		}
	}
}

// AllOrNothing checks that a WriteSpans failing in the database after its
// spans were inserted (break makes the rollup writes fail, repair undoes
// that) leaves neither spans nor rollups behind: the backend's tests call
// it with SQL that renames a rollup table away and back.
func AllOrNothing(t *testing.T, s store.Telemetry, breakRollups, repair func() error) {
	t.Helper()
	ctx := t.Context()
	first := call(tenantA, 1, 1, t0, time.Millisecond, "echo", "u1", "c1")
	write(t, s, first)
	before := summary(t, s, tenantA, dayFrom, dayTo)
	batch := []telemetry.Span{
		call(tenantA, 2, 1, t0, 2*time.Millisecond, "echo", "u2", "c1"),
		call(tenantA, 2, 2, t0.Add(time.Hour), 3*time.Millisecond, "add", "u3", "c2"),
	}
	noErr(t, "break the rollups", breakRollups())
	n, err := s.WriteSpans(ctx, batch)
	if err == nil {
		t.Fatalf("WriteSpans with broken rollups succeeded (inserted %d)", n)
	}
	noErr(t, "repair the rollups", repair())
	equal(t, "spans after the failed write", len(allSpans(t, s, tenantA, telemetry.SpanFilter{})), 1)
	equal(t, "summary after the failed write", summary(t, s, tenantA, dayFrom, dayTo), before)
	// The same batch, sent again, is stored and counted in full.
	equal(t, "retry inserted", write(t, s, batch...), 2)
	equal(t, "calls after the retry", summary(t, s, tenantA, dayFrom, dayTo).Calls, int64(3))
}
