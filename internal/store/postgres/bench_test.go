package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/store/postgres/pgtest"
	"github.com/mcp-obs/mcp-obs/internal/store/storetest"
)

// BenchmarkStore runs the store benchmarks every backend shares on fresh
// schemas of the test server (see package pgtest); see storetest.Bench.
func BenchmarkStore(b *testing.B) { storetest.Bench(b, openFresh) }

// BenchmarkTelemetry runs the telemetry benchmarks every backend shares
// on fresh schemas; see storetest.BenchTelemetry. After seeding the query
// benchmarks' million spans it runs ANALYZE, as autovacuum does within a
// minute of such a load: without statistics the planner may sort a whole
// tenant's spans for a filtered span list.
func BenchmarkTelemetry(b *testing.B) {
	urls := map[store.Telemetry]string{}
	storetest.BenchTelemetry(b, func(tb testing.TB) store.Telemetry {
		u := pgtest.FreshSchema(tb)
		s := open(tb, u)
		tb.Cleanup(func() { s.Close() })
		urls[s] = u
		return s
	}, func(tb testing.TB, s store.Telemetry) {
		conn, err := pgx.Connect(tb.Context(), urls[s])
		if err != nil {
			tb.Fatal(err)
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(tb.Context(), `ANALYZE`); err != nil {
			tb.Fatal(err)
		}
	})
}
