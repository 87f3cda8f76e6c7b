package sqlite

import (
	"testing"

	"github.com/mcp-obs/mcp-obs/internal/store/storetest"
)

// BenchmarkStore runs the store benchmarks every backend shares on fresh
// SQLite files; see storetest.Bench.
func BenchmarkStore(b *testing.B) { storetest.Bench(b, openFresh) }

// BenchmarkTelemetry runs the telemetry benchmarks every backend shares
// on fresh telemetry files; see storetest.BenchTelemetry.
func BenchmarkTelemetry(b *testing.B) { storetest.BenchTelemetry(b, openTelemetryFresh) }
