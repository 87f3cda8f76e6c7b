package postgres_test

import (
	"testing"

	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/store/postgres"
	"github.com/mcp-obs/mcp-obs/internal/store/postgres/pgtest"
	"github.com/mcp-obs/mcp-obs/internal/store/storetest"
)

// BenchmarkStore runs the store benchmarks every backend shares (see
// storetest.Bench) on a fresh schema of the test server (see package pgtest).
func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) store.Store {
		s, err := postgres.Open(b.Context(), pgtest.FreshSchema(b))
		if err != nil {
			b.Fatal(err)
		}
		return s
	})
}
