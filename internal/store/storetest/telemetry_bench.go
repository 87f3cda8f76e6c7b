package storetest

import (
	"context"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/telemetry"
)

// BenchSpansEnv overrides how many spans the query benchmarks of
// [BenchTelemetry] store first (default 1,000,000).
const BenchSpansEnv = "MCP_OBS_BENCH_TELEMETRY_SPANS"

// benchAttributes is what the SDK sends as the remaining attributes of a
// call, about 150 bytes.
var benchAttributes = []byte(`{"mcp.protocol.version":"2025-06-18","network.transport":"tcp","network.protocol.name":"http",` +
	`"network.protocol.version":"1.1","client.address":"127.0.0.1","jsonrpc.request.id":"42"}`)

// benchGen makes the benchmarks' spans: the realistic mix (10
// tools, 200 users, 10 clients, 2% errors), all with attributes, starting
// every step from start on.
type benchGen struct {
	g     *spanGen
	next  time.Time
	step  time.Duration
	spans []telemetry.Span
}

func newBenchGen(seed uint64, start time.Time, step time.Duration) *benchGen {
	return &benchGen{g: newSpanGen(seed, 10, 200, 10, 0.02), next: start, step: step}
}

// batch returns n new spans of tenantA, reusing its buffer.
func (b *benchGen) batch(n int) []telemetry.Span {
	b.spans = b.spans[:0]
	for range n {
		s := b.g.span(tenantA, b.next)
		s.Attributes = benchAttributes
		b.spans = append(b.spans, s)
		b.next = b.next.Add(b.step)
	}
	return b.spans
}

// BenchTelemetry runs the telemetry store's benchmarks, the same for every
// backend:
//
//   - WriteSpans/batch=512: one 512-span batch per transaction, spans
//     arriving at 50,000/s of span time (so a batch spans 10 ms, and the
//     rollups of a minute are updated again and again, as under load);
//   - WriteSpans/batch=8x512: 4096 spans per transaction, as the receiver's
//     group commit writes under load;
//   - Query/…: the queries over 24 hours with 1,000,000 spans stored first
//     (10 tools, 200 users, 10 clients, 2% errors, evenly spread), each
//     reporting its p95 latency. Skipped in short mode.
//
// open must return a fresh, empty store, closed when tb ends. settle, if
// given, runs on the query benchmarks' store after seeding, before the
// queries: what the database does on its own soon after a bulk load
// (PostgreSQL's autovacuum ANALYZE, without which the planner has no
// statistics for the new rows).
func BenchTelemetry(b *testing.B, open func(tb testing.TB) store.Telemetry, settle ...func(tb testing.TB, s store.Telemetry)) {
	for _, batches := range []int{1, 8} {
		name := "WriteSpans/batch=512"
		if batches > 1 {
			name = "WriteSpans/batch=" + strconv.Itoa(batches) + "x512"
		}
		b.Run(name, func(b *testing.B) {
			s := open(b)
			gen := newBenchGen(1, t0, 20*time.Microsecond)
			ctx := context.Background()
			n := batches * 512
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				spans := gen.batch(n)
				b.StartTimer()
				if k, err := s.WriteSpans(ctx, spans); err != nil || k != n {
					b.Fatalf("WriteSpans: %d, %v", k, err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "spans/s")
		})
	}
	b.Run("Query", func(b *testing.B) {
		if testing.Short() {
			b.Skip("seeding 1,000,000 spans: skipped in short mode")
		}
		benchQueries(b, open(b), settle)
	})
}

// benchQueries seeds s with a day of spans and measures the queries.
func benchQueries(b *testing.B, s store.Telemetry, settle []func(tb testing.TB, s store.Telemetry)) {
	total := 1_000_000
	if v, err := strconv.Atoi(os.Getenv(BenchSpansEnv)); err == nil && v > 0 {
		total = v
	}
	end := t0 // 15:09:26.535: the day's range has minute edges at both ends
	step := 24 * time.Hour / time.Duration(total)
	gen := newBenchGen(2, end.Add(-24*time.Hour), step)
	ctx := context.Background()
	began := time.Now()
	const seedBatch = 8192
	for done := 0; done < total; done += seedBatch {
		spans := gen.batch(min(seedBatch, total-done))
		if _, err := s.WriteSpans(ctx, spans); err != nil {
			b.Fatalf("seed: %v", err)
		}
	}
	b.Logf("seeded %d spans in %v (%.0f spans/s)", total, time.Since(began).Round(time.Millisecond),
		float64(total)/time.Since(began).Seconds())
	for _, f := range settle {
		f(b, s)
	}
	from := end.Add(-24 * time.Hour)
	for _, q := range []struct {
		name string
		run  func() error
	}{
		{"Summary24h", func() error { _, err := s.Summary(ctx, tenantA, from, end); return err }},
		{"Timeseries24h/step=1m", func() error { _, err := s.Timeseries(ctx, tenantA, from, end, time.Minute); return err }},
		{"Timeseries24h/step=1h", func() error { _, err := s.Timeseries(ctx, tenantA, from, end, time.Hour); return err }},
		{"TopTools24h", func() error { _, err := s.TopTools(ctx, tenantA, from, end, 10); return err }},
		{"TopUsers24h", func() error { _, err := s.TopUsers(ctx, tenantA, from, end, 10); return err }},
		{"TopClients24h", func() error { _, err := s.TopClients(ctx, tenantA, from, end, 10); return err }},
		{"Spans/newest", func() error { _, err := s.Spans(ctx, tenantA, telemetry.SpanFilter{}); return err }},
		{"Spans/errors", func() error { _, err := s.Spans(ctx, tenantA, telemetry.SpanFilter{ErrorsOnly: true}); return err }},
		{"Spans/user", func() error { _, err := s.Spans(ctx, tenantA, telemetry.SpanFilter{User: "user-0042"}); return err }},
		{"Trace24h", func() error { _, err := s.Trace(ctx, tenantA, traceID(1), from, end); return err }},
		{"Trace10m", func() error {
			_, err := s.Trace(ctx, tenantA, traceID(1), end.Add(-5*time.Minute), end.Add(5*time.Minute))
			return err
		}},
	} {
		b.Run(q.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for range b.N {
				start := time.Now()
				if err := q.run(); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			p95 := lat[min(len(lat)-1, int(float64(len(lat))*0.95))]
			b.ReportMetric(float64(p95)/float64(time.Millisecond), "p95-ms")
		})
	}
}
