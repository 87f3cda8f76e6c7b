// Package postgres is the [store.Store] for running several platform
// replicas against one PostgreSQL database. It is a configuration of the SQL
// core in package sqlstore, through pgx's database/sql driver: the pool, the
// migrations and the [sqlstore.Dialect] of PostgreSQL.
//
// Every operation that must be atomic (code redemption, first use of a
// refresh token, revocation with its feed entries, consent merging) is one
// statement or one transaction in the database, never an in-process lock,
// so it holds across replicas: rows read to be changed are locked (SELECT …
// FOR UPDATE), feed appends are serialised by a table lock, migrations by an
// advisory lock, and transactions PostgreSQL aborts to break a deadlock run
// again. The schema and its encoding are those of the SQLite store: times
// as UTC unix milliseconds, string lists as JSON arrays.
//
// Telemetry lives in the same database, in tables of its own with their own
// migrations (telemetry_migrations): [Store] is both a [store.Store] and a
// [store.Telemetry]. Replicas writing rollups of one tenant queue on a
// per-tenant advisory lock, and telemetry transactions commit
// asynchronously (synchronous_commit off), authorization data never.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/store/sqlstore"
)

// migrationFiles holds the schema, one file per version, named NNNN_what.sql.
// Files are append-only: a released migration is never edited, a change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// telemetryMigrationFiles holds the telemetry schema (spans, rollups,
// metric points), versioned apart from the main schema in
// telemetry_migrations, though in the same database. Append-only too.
//
//go:embed telemetry_migrations/*.sql
var telemetryMigrationFiles embed.FS

// migrationLockKey is the advisory lock (an arbitrary constant, "mcpobs" in
// ASCII) that serializes migrations between processes opening one database.
const migrationLockKey int64 = 0x6d63706f6273

// tenantLockClass is the first key of the advisory locks that serialize
// one tenant's rollup updates across replicas ("tele" in ASCII).
const tenantLockClass int32 = 0x74656c65

// dialect is how PostgreSQL differs from plain SQL, for the core.
var dialect = sqlstore.Dialect{
	Name:           "postgres",
	NumberedParams: true,
	LockRows:       " FOR UPDATE",
	// See sqlstore's revokeTx: feed sequence numbers must become visible in order.
	LockFeed:         `LOCK TABLE revocations IN EXCLUSIVE MODE`,
	LockMigrations:   fmt.Sprintf(`SELECT pg_advisory_xact_lock(%d)`, migrationLockKey),
	RepeatRevocation: true,
	ArrayParams:      true,
	ByteOrder:        ` COLLATE "C"`,
	// ANY(ARRAY(…)) computes the list once (an InitPlan); IN (SELECT …)
	// was planned as a nested loop evaluating it for every row.
	InJSONList: ` = ANY(ARRAY(SELECT json_array_elements_text(CAST(? AS json))))`,
	// A telemetry commit returns before its WAL reaches the disk: a crash
	// of the PostgreSQL server (not of the platform, whose kill -9 loses
	// nothing committed) may lose the last fraction of a second of
	// telemetry, never authorization data, whose transactions keep the
	// server's synchronous_commit.
	TelemetryTx: `SET LOCAL synchronous_commit = off`,
	// Two-key form: a constant class ("tele") and the hash of the server
	// id. Two tenants whose ids hash alike merely queue behind each other.
	LockTenant: fmt.Sprintf(`SELECT pg_advisory_xact_lock(%d, hashtext(?))`, tenantLockClass),
	QueryRow:   queryRow,
	Classify:   classify,
	Retryable:  retryable,
}

// Store is a [store.Store] and a [store.Telemetry] backed by one
// PostgreSQL connection pool: telemetry lives in the same database, in
// tables of its own. It is safe for concurrent use, by any number of Stores
// in any number of processes on one database; create it with [Open],
// release it with [Store.Close].
type Store struct {
	*sqlstore.Store
	*sqlstore.TelemetryStore
	db *sql.DB
}

var (
	_ store.Store     = (*Store)(nil)
	_ store.Telemetry = (*Store)(nil)
)

// Open connects to the PostgreSQL database at url (postgres://… or
// postgresql://…, any parameter pgx accepts, e.g. search_path=myschema, and
// pgxpool's pool_max_conns, pool_max_conn_lifetime and
// pool_max_conn_idle_time, which size the pool) and applies pending schema
// migrations. Replicas starting together migrate once: migrations run under
// an advisory lock. Errors never quote url, which may carry a password.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: parse URL: %w", redactParseError(err))
	}
	db := stdlib.OpenDB(*cfg.ConnConfig)
	// The pool keeps as many connections as pgxpool would, and keeps them
	// idle rather than closing all but two (database/sql's default): a new
	// connection costs a handshake, and each carries pgx's cache of prepared
	// statements.
	db.SetMaxOpenConns(int(cfg.MaxConns))
	db.SetMaxIdleConns(int(cfg.MaxConns))
	db.SetConnMaxLifetime(cfg.MaxConnLifetime)
	db.SetConnMaxIdleTime(cfg.MaxConnIdleTime)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: open: connect: %w", err)
	}
	core, err := openCore(ctx, db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	tel, err := openTelemetryCore(ctx, db)
	if err != nil {
		core.Close() // closes db
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	return &Store{Store: core, TelemetryStore: tel, db: db}, nil
}

// openTelemetryCore migrates the telemetry tables and builds the telemetry
// core on the same pool.
func openTelemetryCore(ctx context.Context, db *sql.DB) (*sqlstore.TelemetryStore, error) {
	migrations, err := fs.Sub(telemetryMigrationFiles, "telemetry_migrations")
	if err != nil {
		return nil, fmt.Errorf("telemetry migrations: %w", err)
	}
	return sqlstore.OpenTelemetry(ctx, sqlstore.TelemetryConfig{Dialect: dialect, Writer: db, Reader: db, Migrations: migrations})
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.Store.Ping(ctx) }

// Close releases the pool, after the queries in flight. The store must not
// be used afterwards.
func (s *Store) Close() error {
	return errors.Join(s.TelemetryStore.Close(), s.Store.Close())
}

// openCore migrates the database and builds the SQL core on the pool.
func openCore(ctx context.Context, db *sql.DB) (*sqlstore.Store, error) {
	migrations, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return sqlstore.Open(ctx, sqlstore.Config{Dialect: dialect, Writer: db, Reader: db, Migrations: migrations})
}
