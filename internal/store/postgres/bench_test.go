package postgres_test

import (
	"testing"

	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/store/postgres/pgtest"
	"github.com/mcp-obs/mcp-obs/internal/store/storetest"
)

// BenchmarkStore runs the store benchmarks every backend shares on fresh
// schemas of the test server (see package pgtest); see storetest.Bench.
func BenchmarkStore(b *testing.B) { storetest.Bench(b, openFresh) }

// BenchmarkTelemetry runs the telemetry benchmarks every backend shares
// on fresh schemas; see storetest.BenchTelemetry.
func BenchmarkTelemetry(b *testing.B) {
	storetest.BenchTelemetry(b, func(tb testing.TB) store.Telemetry {
		s := open(tb, pgtest.FreshSchema(tb))
		tb.Cleanup(func() { s.Close() })
		return s
	})
}
