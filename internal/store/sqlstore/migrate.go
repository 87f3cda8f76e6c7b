package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"time"
)

// migration is one versioned schema change.
type migration struct {
	version int64
	name    string
	sql     string
}

var migrationName = regexp.MustCompile(`^(\d{4})_[a-z0-9_]+\.sql$`)

// loadMigrations returns the migrations at the root of fsys in version
// order, checking that versions start at 1 and have no gaps or duplicates.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration %q: name must look like 0001_what.sql", e.Name())
		}
		v, _ := strconv.ParseInt(m[1], 10, 64)
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %q: %w", e.Name(), err)
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != int64(i+1) {
			return nil, fmt.Errorf("migration %q: version %d out of sequence, want %d", m.name, m.version, i+1)
		}
	}
	return ms, nil
}

// migrate applies every migration the database has not recorded, together
// with their rows in the table named table (schema_migrations for the main
// schema, telemetry_migrations for the telemetry schema, which on PostgreSQL
// shares the database), in one write transaction that first
// shuts other processes' migrations out ([Dialect.LockMigrations], or
// SQLite's BEGIN IMMEDIATE). Processes opening one database together
// therefore queue: the first applies the migrations, the others then find
// them recorded. Both databases' DDL is transactional, so a failed
// migration leaves the schema as it was.
func migrate(ctx context.Context, db *sql.DB, d Dialect, fsys fs.FS, table string) error {
	ms, err := loadMigrations(fsys)
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: begin: %w", err)
	}
	defer tx.Rollback()
	if d.LockMigrations != "" {
		if _, err := tx.ExecContext(ctx, d.LockMigrations); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+table+` (
    version    BIGINT NOT NULL PRIMARY KEY,
    name       TEXT   NOT NULL,
    applied_at BIGINT NOT NULL
)`); err != nil {
		return fmt.Errorf("migrate: create %s: %w", table, err)
	}
	var newest int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM `+table).Scan(&newest); err != nil {
		return fmt.Errorf("migrate: read schema version: %w", err)
	}
	if newest > int64(len(ms)) {
		return fmt.Errorf("database schema version %d is newer than this binary knows (%d): upgrade mcp-obs", newest, len(ms))
	}
	record := d.rebind(`INSERT INTO ` + table + ` (version, name, applied_at) VALUES (?, ?, ?)`)
	for _, m := range ms[newest:] {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, record, m.version, m.name, time.Now().UnixMilli()); err != nil {
			return fmt.Errorf("migration %s: record: %w", m.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}

// The tables recording applied migrations, one per schema.
const (
	mainMigrations      = "schema_migrations"
	telemetryMigrations = "telemetry_migrations"
)
