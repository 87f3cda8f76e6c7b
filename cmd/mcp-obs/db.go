package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/store/sqlite"
)

// defaultDB is the embedded SQLite database used when --db is not given.
var defaultDB = "sqlite:" + filepath.Join("mcp-obs-data", "mcp-obs.db")

// openStore opens the database a --db value names: "sqlite:PATH" (or a bare path).
func openStore(ctx context.Context, dsn string) (store.Store, error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return nil, fmt.Errorf("--db %s: PostgreSQL storage is not available in this build yet; use sqlite:PATH", redactDSN(dsn))
	case strings.HasPrefix(dsn, "sqlite:"):
		dsn = strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "//")
	}
	if dsn == "" {
		return nil, fmt.Errorf("--db: empty path; use sqlite:PATH, e.g. %s", defaultDB)
	}
	st, err := sqlite.Open(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", dsn, err)
	}
	return st, nil
}

// redactDSN hides a password in a database URL.
func redactDSN(dsn string) string {
	if at := strings.LastIndex(dsn, "@"); at > 0 {
		if i := strings.Index(dsn, "://"); i > 0 && i+3 < at {
			return dsn[:i+3] + "…" + dsn[at:]
		}
	}
	return dsn
}
