package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/store/sqlstore"
)

// telemetryMigrationFiles holds the telemetry schema, versioned apart from
// the main schema (it lives in another file). Append-only, like migrations/.
//
//go:embed telemetry_migrations/*.sql
var telemetryMigrationFiles embed.FS

// TelemetryFile is the telemetry database's file name. It sits beside the
// main database: [TelemetryPath] of mcp-obs-data/mcp-obs.db is
// mcp-obs-data/telemetry.db.
const TelemetryFile = "telemetry.db"

// TelemetryPath returns where the telemetry database of the main database
// at mainPath lives: [TelemetryFile] in the same directory.
func TelemetryPath(mainPath string) string {
	return filepath.Join(filepath.Dir(mainPath), TelemetryFile)
}

// TelemetryStore is a [store.Telemetry] in its own SQLite file, with its
// own writer connection and reader pool, so span batches never make
// sign-in or token issuance wait: they queue behind each other, not behind
// (or in front of) the main database's writes. Create it with
// [OpenTelemetry]; release it with [TelemetryStore.Close].
type TelemetryStore struct {
	*sqlstore.TelemetryStore
	path   string
	writer *sql.DB
	reader *sql.DB
}

var _ store.Telemetry = (*TelemetryStore)(nil)

// OpenTelemetry opens (creating if needed, with its directory) the
// telemetry database at path, in WAL mode, and applies its pending
// migrations. The path rules are [Open]'s.
//
// The writer commits with synchronous=NORMAL, where the main database uses
// FULL: in WAL mode a killed process still loses nothing committed (so a
// 200 from the receiver still means the spans are safe from kill -9), and
// only a power loss or an operating-system crash may roll back the last
// commits, of telemetry only, never of tokens. In exchange a commit does
// not wait for the disk, which is what lets small batches flow at full
// speed.
func OpenTelemetry(ctx context.Context, path string) (*TelemetryStore, error) {
	writer, reader, err := openPools(ctx, path, telemetryDSN)
	if err != nil {
		return nil, err
	}
	core, err := openTelemetryCore(ctx, writer, reader, 0)
	if err != nil {
		reader.Close()
		writer.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	return &TelemetryStore{TelemetryStore: core, path: path, writer: writer, reader: reader}, nil
}

// openTelemetryCore migrates the telemetry database and builds the SQL
// core on the two pools; purgeChunk 0 is the core's default.
func openTelemetryCore(ctx context.Context, writer, reader *sql.DB, purgeChunk int) (*sqlstore.TelemetryStore, error) {
	migrations, err := fs.Sub(telemetryMigrationFiles, "telemetry_migrations")
	if err != nil {
		return nil, fmt.Errorf("telemetry migrations: %w", err)
	}
	return sqlstore.OpenTelemetry(ctx, sqlstore.TelemetryConfig{Dialect: dialect, Writer: writer, Reader: reader,
		Migrations: migrations, PurgeChunk: purgeChunk})
}

// telemetryDSN is the telemetry database's data source name: [dsn]'s, but
// with synchronous=NORMAL (see [OpenTelemetry]), a larger page cache for
// the writer (64 MiB: the tail of the span index and the rollup rows a
// batch touches stay in memory between batches) and readers (16 MiB each),
// temporary data, such as the statement journal of a multi-row insert,
// kept in memory rather than in a temporary file, and a checkpoint every
// 1,000 pages (about 4 MB of WAL), SQLite's default, stated because it was
// measured: a checkpoint ends with an fsync of the telemetry file, and on a
// journaling file system a token commit's fsync of the main database can
// wait for it. At 10,000 pages the token endpoint's p99 rose from 3 ms to
// 20 ms while ingest ran at full speed, at 100,000 to 127 ms; at 1,000 it
// rises as much as for any other work on the same cores, for a few percent
// of ingest throughput (internal/bench/interference).
func telemetryDSN(path string, readOnly bool) string {
	if readOnly {
		return connString(path, true, []string{"temp_store(MEMORY)", "cache_size(-16384)"}, nil)
	}
	return connString(path, false, []string{"temp_store(MEMORY)"}, []string{"synchronous(NORMAL)", "cache_size(-65536)", "wal_autocheckpoint(1000)"})
}

// Path returns the database file the store was opened on.
func (s *TelemetryStore) Path() string { return s.path }

// Close lets SQLite refresh its query-planner statistics, then releases
// the statements and every connection. The store must not be used afterwards.
func (s *TelemetryStore) Close() error {
	var errs []error
	if _, err := s.writer.Exec("PRAGMA optimize"); err != nil {
		errs = append(errs, fmt.Errorf("optimize: %w", err))
	}
	errs = append(errs, s.TelemetryStore.Close())
	if err := s.reader.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close reader: %w", err))
	}
	if err := s.writer.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close writer: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close %q: %w", s.path, err)
	}
	return nil
}
