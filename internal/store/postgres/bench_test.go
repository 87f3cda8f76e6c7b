package postgres_test

import (
	"testing"

	"github.com/mcp-obs/mcp-obs/internal/store/storetest"
)

// BenchmarkStore runs the store benchmarks every backend shares on fresh
// schemas of the test server (see package pgtest); see storetest.Bench.
func BenchmarkStore(b *testing.B) { storetest.Bench(b, openFresh) }
