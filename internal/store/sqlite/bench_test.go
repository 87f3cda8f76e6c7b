package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/store/storetest"
)

// BenchmarkStore runs the store benchmarks every backend shares (see
// storetest.Bench) on a fresh SQLite file.
func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) store.Store {
		s, err := Open(b.Context(), filepath.Join(b.TempDir(), "db.sqlite"))
		if err != nil {
			b.Fatal(err)
		}
		return s
	})
}
