// Package sqlite is the embedded [store.Store] of the platform: one SQLite
// file, no server to run, no cgo (it uses the pure-Go modernc.org/sqlite).
// It is a configuration of the SQL core in package sqlstore: the pools, the
// migrations and the [sqlstore.Dialect] of SQLite.
//
// The file is opened twice. A writer pool of exactly one connection carries
// every write, so writers queue in Go instead of fighting over SQLite's lock
// and read-modify-write transactions (BEGIN IMMEDIATE) never deadlock; for
// the same reason the store needs no row locks. A reader pool of several
// connections serves reads concurrently, which WAL mode allows alongside
// the writer. The hot-path lookups (server by slug, token, user, client) are
// prepared once at [Open] and run without their context's cancellation.
//
// Telemetry (spans, rollups, metric points) is a second file,
// [TelemetryFile] beside the main one ([TelemetryPath]), opened by
// [OpenTelemetry] with its own writer and readers and its own migrations,
// so span batches never queue in front of sign-in or token issuance, and
// committed with synchronous=NORMAL where authorization data keeps FULL.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/store/sqlstore"
)

// migrationFiles holds the schema, one file per version, named NNNN_what.sql.
// Files are append-only: a released migration is never edited, a change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// dialect is how SQLite differs from plain SQL, for the core: ? placeholders,
// one writer at a time (so no row, table or migration locks, and a
// revocation sees every row in one pass), and in-process lookups worth
// preparing and not worth cancelling.
var dialect = sqlstore.Dialect{
	Name:           "sqlite",
	PrepareLookups: true,
	DetachLookups:  true,
	SerialWrites:   true,
	DataVersion:    `PRAGMA data_version`,
	InJSONList:     ` IN (SELECT value FROM json_each(?))`,
	Classify:       classify,
}

// busyTimeoutMillis is how long a connection waits for another process's lock
// (an admin command, a second platform process) before giving up with SQLITE_BUSY.
const busyTimeoutMillis = 10000

// Store is a [store.Store] backed by one SQLite file. It is safe for
// concurrent use; create it with [Open] and release it with [Store.Close].
type Store struct {
	*sqlstore.Store
	path   string
	writer *sql.DB // exactly one connection; every write goes through it
	reader *sql.DB // several read-only connections
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the SQLite database at path, creating its
// parent directory, switching it to WAL mode and applying any pending schema
// migrations. path must be a file path: ":memory:" and "file:" URIs are
// refused because the writer and reader pools must share one file.
func Open(ctx context.Context, path string) (*Store, error) {
	writer, reader, err := openPools(ctx, path, dsn)
	if err != nil {
		return nil, err
	}
	core, err := openCore(ctx, writer, reader)
	if err != nil {
		reader.Close()
		writer.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	return &Store{Store: core, path: path, writer: writer, reader: reader}, nil
}

// openPools checks path, creates the file owner-only if needed, and opens
// its writer pool (one connection, WAL) and reader pool, with the data
// source names connString gives.
func openPools(ctx context.Context, path string, connString func(path string, readOnly bool) string) (writer, reader *sql.DB, err error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") || strings.ContainsAny(path, "?#") {
		return nil, nil, fmt.Errorf("sqlite: open %q: want a plain file path (no :memory:, file: URI, '?' or '#')", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, nil, fmt.Errorf("sqlite: open %q: create parent directory: %w", path, err)
	}
	if err := createPrivate(path); err != nil {
		return nil, nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}

	writer, err = sql.Open("sqlite", connString(path, false))
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	if err := checkWritable(ctx, writer); err != nil {
		writer.Close()
		return nil, nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	reader, err = sql.Open("sqlite", connString(path, true))
	if err != nil {
		writer.Close()
		return nil, nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	reader.SetMaxOpenConns(n)
	reader.SetMaxIdleConns(n) // keep every connection: reopening one costs far more than a query
	reader.SetConnMaxLifetime(0)
	reader.SetConnMaxIdleTime(0)
	if err := reader.PingContext(ctx); err != nil {
		reader.Close()
		writer.Close()
		return nil, nil, fmt.Errorf("sqlite: open %q: reader: %w", path, err)
	}
	return writer, reader, nil
}

// openCore migrates the database and builds the SQL core on the two pools.
func openCore(ctx context.Context, writer, reader *sql.DB) (*sqlstore.Store, error) {
	migrations, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return sqlstore.Open(ctx, sqlstore.Config{Dialect: dialect, Writer: writer, Reader: reader, Migrations: migrations})
}

// dsn builds the driver's data source name. Pragmas run on every new
// connection; busy_timeout runs first so the others cannot fail on a lock.
// Writer transactions begin IMMEDIATE: they take the write lock up front,
// so a read-then-write transaction never fails halfway on an upgrade.
//
// The writer runs with synchronous=FULL: every commit syncs the WAL before
// it returns, so a token, code or revocation the platform has acknowledged
// survives a power loss or an operating-system crash. NORMAL would sync only
// at checkpoints, and such a crash could roll back the last commits: issued
// tokens the client holds would become unknown, and revocations the
// resource servers were told about would come undone. (A killed process
// loses nothing either way: committed WAL frames are in the OS page cache.)
func dsn(path string, readOnly bool) string {
	return connString(path, readOnly, nil, []string{"synchronous(FULL)"})
}

// connString is a data source name in the manner of [dsn], with pragmas of
// the connections (readers and writer) and of the writer alone. The
// writer's run before it switches to WAL, so a page_size among them takes
// effect on a new file.
func connString(path string, readOnly bool, pragmas, writerPragmas []string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMillis))
	q.Add("_pragma", "foreign_keys(1)")
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		for _, p := range writerPragmas {
			q.Add("_pragma", p)
		}
		q.Add("_pragma", "journal_mode(WAL)")
		q.Set("_txlock", "immediate")
	}
	return path + "?" + q.Encode()
}

// createPrivate creates the database file readable by its owner only, if it
// does not exist yet. The file holds password hashes, and SQLite gives its
// -wal and -shm files the same permissions as the database.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create database file: %w", err)
	}
	return f.Close()
}

// checkWritable makes SQLite actually open (and if needed create) the file
// and confirms WAL mode took effect, so a bad path fails at Open rather than
// at the first write.
func checkWritable(ctx context.Context, db *sql.DB) error {
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("open database file: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %q, want wal (is the file on a filesystem without shared memory?)", mode)
	}
	return nil
}

// Path returns the database file the store was opened on.
func (s *Store) Path() string { return s.path }

// Close lets SQLite refresh its query-planner statistics, then releases
// every connection. The store must not be used afterwards.
func (s *Store) Close() error {
	var errs []error
	if _, err := s.writer.Exec("PRAGMA optimize"); err != nil {
		errs = append(errs, fmt.Errorf("optimize: %w", err))
	}
	errs = append(errs, s.Store.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close %q: %w", s.path, err)
	}
	return nil
}
