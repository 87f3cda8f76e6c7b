package main

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/store/postgres"
	"github.com/mcp-obs/mcp-obs/internal/store/sqlite"
)

// defaultDB is the embedded SQLite database used when --db is not given.
var defaultDB = "sqlite:" + filepath.Join("mcp-obs-data", "mcp-obs.db")

// openStore opens the database a --db value names: "sqlite:PATH" (or a bare
// path), or a PostgreSQL URL "postgres://…" / "postgresql://…" that several
// platform replicas can share.
func openStore(ctx context.Context, dsn string) (store.Store, error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		st, err := postgres.Open(ctx, dsn)
		if err != nil {
			return nil, fmt.Errorf("open database %s: %w", redactDSN(dsn), err)
		}
		return st, nil
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

// redactDSN hides the password of a database URL, in its user info or in a
// password query parameter, so the URL can be logged and shown in errors.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" || u.Opaque != "" {
		if strings.Contains(dsn, "@") || strings.Contains(dsn, "password") {
			return "(database URL hidden: it could not be parsed and may hold a password)"
		}
		return dsn
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
