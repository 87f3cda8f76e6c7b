// Package testdb opens the real databases tests run on. It is apart from
// package testkit so that tests that need no database (the scope parser's
// fuzz target, say) do not build the SQLite driver.
package testdb

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/mcp-obs/mcp-obs/internal/store/sqlite"
)

// SQLite opens a fresh SQLite database in a folder of its own, closed when
// the test ends.
func SQLite(tb testing.TB) *sqlite.Store {
	tb.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "db.sqlite"))
	if err != nil {
		tb.Fatalf("open SQLite store: %v", err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}
