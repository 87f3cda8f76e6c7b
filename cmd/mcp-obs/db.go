package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/mcp-obs/mcp-obs/internal/cliname"
	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/store/postgres"
	"github.com/mcp-obs/mcp-obs/internal/store/sqlite"
)

// defaultDB is the embedded SQLite database used when --db is not given.
var defaultDB = "sqlite:" + filepath.Join("mcp-obs-data", "mcp-obs.db")

// openMode says whether opening a SQLite database that does not exist
// creates it.
type openMode int

const (
	// existingDB is for the admin commands: they work on the database a
	// platform serves, so a missing one is a mistake (run from another
	// folder, a typo in --db) and creating an empty one would hide it.
	existingDB openMode = iota
	// createDB is for serve and demo, which create the database they run on
	// and say where.
	createDB
)

// openStore opens the database a --db value names: "sqlite:PATH" (or a bare
// path), or a PostgreSQL URL "postgres://…" / "postgresql://…" that several
// platform replicas can share. created is the absolute path of a SQLite
// database this call created, "" when it existed (or is PostgreSQL, whose
// schema the migrations create in a database that must exist).
func openStore(ctx context.Context, dsn string, mode openMode) (st store.Store, created string, err error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		st, err := postgres.Open(ctx, dsn)
		if err != nil {
			return nil, "", fmt.Errorf("open database %s: %w", redactDSN(dsn), err)
		}
		return st, "", nil
	}
	path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "//")
	if path == "" {
		return nil, "", fmt.Errorf("--db: empty path; use sqlite:PATH, e.g. %s", defaultDB)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	_, statErr := os.Stat(path)
	missing := errors.Is(statErr, fs.ErrNotExist)
	if missing && mode == existingDB {
		if filepath.IsAbs(path) {
			return nil, "", fmt.Errorf("no database at %s (--db %s): `%[3]s serve` and `%[3]s demo` create the database; "+
				"point --db at the one they use", abs, dsn, cliname.Command)
		}
		wd, _ := os.Getwd()
		return nil, "", fmt.Errorf("no database at %s (--db %s, relative to the folder %s): run this command in the folder where "+
			"`%[4]s serve` or `%[4]s demo` ran (they create the database), or point --db at the one they use",
			abs, dsn, wd, cliname.Command)
	}
	sqliteStore, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, "", fmt.Errorf("open database %s: %w", path, err)
	}
	if missing {
		created = abs
	}
	return sqliteStore, created, nil
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

// databases are a platform's two stores, opened together by openDatabases.
type databases struct {
	store     store.Store
	telemetry store.Telemetry
	created   string // the SQLite file openStore created, if it did
}

// openDatabases opens dsn as openStore does, and its telemetry store;
// closeAll closes both.
func openDatabases(ctx context.Context, dsn string, mode openMode) (db databases, closeAll func(), err error) {
	st, created, err := openStore(ctx, dsn, mode)
	if err != nil {
		return databases{}, nil, err
	}
	tel, closeTelemetry, err := openTelemetry(ctx, st)
	if err != nil {
		st.Close()
		return databases{}, nil, err
	}
	return databases{store: st, telemetry: tel, created: created}, func() { closeTelemetry(); st.Close() }, nil
}

// openTelemetry opens the telemetry store that goes with st, the database
// dsn names: on PostgreSQL the same database (st itself), on SQLite a file
// of its own beside the main one ([sqlite.TelemetryPath]), so span batches
// never make sign-in or token issuance wait. The returned close function
// releases what this call opened (nothing on PostgreSQL: st.Close does).
func openTelemetry(ctx context.Context, st store.Store) (store.Telemetry, func() error, error) {
	switch s := st.(type) {
	case *postgres.Store:
		return s, func() error { return nil }, nil
	case *sqlite.Store:
		path := sqlite.TelemetryPath(s.Path())
		ts, err := sqlite.OpenTelemetry(ctx, path)
		if err != nil {
			return nil, nil, fmt.Errorf("open telemetry database %s: %w", path, err)
		}
		return ts, ts.Close, nil
	}
	return nil, nil, fmt.Errorf("open telemetry: no telemetry store for a %T database", st)
}
