package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

// TelemetryConfig is what [OpenTelemetry] builds a telemetry store from.
type TelemetryConfig struct {
	// Dialect says how the database differs from plain SQL.
	Dialect Dialect
	// Writer carries every write. SQLite gives it exactly one connection
	// (its own, not the main database's), so span batches queue in Go and
	// never wait behind, or hold up, sign-in and token issuance.
	Writer *sql.DB
	// Reader carries the queries; it may be Writer.
	Reader *sql.DB
	// Migrations holds the telemetry schema, one file per version named
	// NNNN_what.sql, applied and recorded (in telemetry_migrations) apart
	// from the main schema's. Append-only, like the main schema's.
	Migrations fs.FS
	// PurgeChunk bounds the rows one purge transaction deletes; 0 means
	// DefaultPurgeChunk.
	PurgeChunk int
}

// DefaultPurgeChunk is how many rows one purge transaction deletes at most:
// a few milliseconds of work, so an ingest batch behind it barely waits.
const DefaultPurgeChunk = 5000

// TelemetryStore is a [store.Telemetry] on one SQL database: spans, their
// rollups, and metric points. It is safe for concurrent use, by any number
// of TelemetryStores in any number of processes on one database.
//
// The pools belong to the caller, who closes them after [TelemetryStore.Close].
type TelemetryStore struct {
	d          Dialect
	write      *sql.DB
	read       *sql.DB
	q          *telemetryQueries
	purgeChunk int
	cache      *rollupCache // nil unless the dialect allows one (see rollupCache)
}

var _ store.Telemetry = (*TelemetryStore)(nil)

// OpenTelemetry applies the pending telemetry migrations and returns a
// telemetry store on the pools. With [Dialect.PrepareLookups] the write
// statements are prepared once, on the writer.
func OpenTelemetry(ctx context.Context, cfg TelemetryConfig) (*TelemetryStore, error) {
	if err := migrate(ctx, cfg.Writer, cfg.Dialect, cfg.Migrations, telemetryMigrations); err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	t := &TelemetryStore{d: cfg.Dialect, write: cfg.Writer, read: cfg.Reader, q: newTelemetryQueries(cfg.Dialect), purgeChunk: cfg.PurgeChunk}
	if t.purgeChunk <= 0 {
		t.purgeChunk = DefaultPurgeChunk
	}
	if cfg.Dialect.SerialWrites && cfg.Dialect.DataVersion != "" {
		t.cache = newRollupCache()
	}
	if cfg.Dialect.PrepareLookups {
		if err := t.q.prepare(ctx, cfg.Writer); err != nil {
			t.q.close()
			return nil, fmt.Errorf("telemetry: %w", err)
		}
	}
	return t, nil
}

// Ping reports whether the database answers, on both pools.
func (t *TelemetryStore) Ping(ctx context.Context) error {
	if err := t.write.PingContext(ctx); err != nil {
		return t.fail("ping writer", err)
	}
	return t.fail("ping reader", t.read.PingContext(ctx))
}

// Close releases the prepared statements. The pools stay open.
func (t *TelemetryStore) Close() error {
	return t.q.close()
}

// inTx runs fn in a write transaction (see [Store.inTx]), after the
// dialect's [Dialect.TelemetryTx].
func (t *TelemetryStore) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	if t.d.TelemetryTx == "" {
		return inTx(ctx, t.write, t.d, fn)
	}
	return inTx(ctx, t.write, t.d, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, t.d.TelemetryTx); err != nil {
			return err
		}
		return fn(tx)
	})
}

// fail gives err the dialect's name and the operation; nil stays nil.
func (t *TelemetryStore) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %s: %w", t.d.Name, op, err)
}

// execer is a statement bound to a transaction.
type execer interface {
	ExecContext(ctx context.Context, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, args ...any) (*sql.Rows, error)
}

// txStmt binds a statement of the store to tx: the prepared statement if
// it was prepared, else its text.
func txStmt(ctx context.Context, tx *sql.Tx, s *statement) execer {
	if s.prepared != nil {
		return tx.StmtContext(ctx, s.prepared)
	}
	return textStmt{tx: tx, text: s.text}
}

// textStmt runs a statement's text in a transaction, where the driver
// caches prepared statements itself (pgx).
type textStmt struct {
	tx   *sql.Tx
	text string
}

func (s textStmt) ExecContext(ctx context.Context, args ...any) (sql.Result, error) {
	return s.tx.ExecContext(ctx, s.text, args...)
}

func (s textStmt) QueryContext(ctx context.Context, args ...any) (*sql.Rows, error) {
	return s.tx.QueryContext(ctx, s.text, args...)
}

// statement is one SQL statement of the telemetry store, prepared on the
// writer where the dialect asks for it.
type statement struct {
	text     string
	prepared *sql.Stmt
}

func (s *statement) prepare(ctx context.Context, db *sql.DB) error {
	st, err := db.PrepareContext(ctx, s.text)
	if err != nil {
		return fmt.Errorf("prepare %.80q: %w", s.text, err)
	}
	s.prepared = st
	return nil
}

func (s *statement) close() error {
	if s.prepared == nil {
		return nil
	}
	err := s.prepared.Close()
	s.prepared = nil
	return err
}
