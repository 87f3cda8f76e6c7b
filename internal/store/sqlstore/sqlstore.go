// Package sqlstore is the one SQL implementation of [store.Store], on
// database/sql. Package sqlite and package postgres are thin configurations
// of it: each opens its connection pools, embeds its migrations and fills in
// a [Dialect] for what its database does differently (placeholders, row and
// table locks, retries, error codes).
//
// Every rule of the contract that needs atomicity (code redemption, first
// use of a refresh token, revocation with its feed entries, consent
// merging) is one statement or one transaction in the database, never an
// in-process lock, so it holds across processes sharing the database.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

// Config is what [Open] builds a store from.
type Config struct {
	// Dialect says how the database differs from plain SQL.
	Dialect Dialect
	// Writer carries every write and every transaction. SQLite gives it
	// exactly one connection, so writers queue in Go, one at a time.
	Writer *sql.DB
	// Reader carries the reads that need no transaction; it may be Writer.
	Reader *sql.DB
	// Migrations holds the schema, one file per version named
	// NNNN_what.sql at its root (see [Open]).
	Migrations fs.FS
}

// Row is one row of a query's result: what *sql.Row, *sql.Rows and
// pgx.Row have in common.
type Row interface {
	Scan(dest ...any) error
}

// Store is a [store.Store] on one SQL database. It is safe for concurrent
// use, by any number of Stores in any number of processes on one database.
type Store struct {
	d       Dialect
	write   *sql.DB
	read    *sql.DB
	q       *queries
	lookups [numLookups]*sql.Stmt // prepared hot lookups; nil unless Dialect.PrepareLookups
}

var _ store.Store = (*Store)(nil)

// Open applies the pending migrations of cfg.Migrations to the database
// and returns a store on it. Migrations are append-only: a released file is
// never edited, a change is a new file. On success the store owns both
// pools and closes them in [Store.Close]; on failure the caller still owns them.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := migrate(ctx, cfg.Writer, cfg.Dialect, cfg.Migrations, mainMigrations); err != nil {
		return nil, err
	}
	s := &Store{d: cfg.Dialect, write: cfg.Writer, read: cfg.Reader, q: newQueries(cfg.Dialect)}
	if s.d.PrepareLookups {
		for i, q := range s.q.lookups {
			st, err := s.read.PrepareContext(ctx, q)
			if err != nil {
				s.closeLookups()
				return nil, fmt.Errorf("prepare %q: %w", q, err)
			}
			s.lookups[i] = st
		}
	}
	return s, nil
}

// Ping reports whether the database answers, on both pools.
func (s *Store) Ping(ctx context.Context) error {
	if s.read == s.write {
		return s.wrap("ping", s.write.PingContext(ctx))
	}
	if err := s.write.PingContext(ctx); err != nil {
		return s.wrap("ping writer", err)
	}
	return s.wrap("ping reader", s.read.PingContext(ctx))
}

// Close releases the prepared statements and every connection, after the
// queries in flight. The store must not be used afterwards.
func (s *Store) Close() error {
	errs := []error{s.closeLookups()}
	if s.read != s.write {
		if err := s.read.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close reader: %w", err))
		}
	}
	if err := s.write.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close writer: %w", err))
	}
	return errors.Join(errs...)
}

func (s *Store) closeLookups() error {
	var errs []error
	for i, st := range s.lookups {
		if st != nil {
			errs = append(errs, st.Close())
			s.lookups[i] = nil
		}
	}
	return errors.Join(errs...)
}

// lookupRow runs one of the hot lookups: prepared, and under a context
// without cancellation, where the dialect asks for either (see
// [Dialect.PrepareLookups] and [Dialect.DetachLookups]; the latter halved
// the CPU cost of SQLite's primary-key probes, measured by the
// Introspection benchmark). A context already done fails before the query.
func (s *Store) lookupRow(ctx context.Context, l lookup, args ...any) (Row, error) {
	if s.d.DetachLookups {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ctx = context.WithoutCancel(ctx)
	}
	if st := s.lookups[l]; st != nil {
		return st.QueryRowContext(ctx, args...), nil
	}
	return s.queryRow(ctx, s.read, s.q.lookups[l], args...), nil
}

// queryRow runs a single-row query outside a transaction on db, through
// [Dialect.QueryRow] where the dialect has one.
func (s *Store) queryRow(ctx context.Context, db *sql.DB, query string, args ...any) Row {
	if s.d.QueryRow != nil {
		return s.d.QueryRow(ctx, db, query, args...)
	}
	return db.QueryRowContext(ctx, query, args...)
}

// maxTxAttempts bounds how often [Store.inTx] runs a transaction that the
// database aborted to break a deadlock.
const maxTxAttempts = 3

// inTx runs fn in a write transaction and commits it, again (up to
// maxTxAttempts in all) when the database aborted it to break a deadlock or
// a serialization conflict ([Dialect.Retryable]). Transactions that lock
// several token rows (a refresh revoking what an earlier use issued, a
// family revocation) can deadlock with one another when they meet the same
// rows in another order; PostgreSQL then cancels one, and running it again
// is correct because it changed nothing. fn must set everything it returns
// afresh on each run.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	return inTx(ctx, s.write, s.d, fn)
}

// inTx is [Store.inTx] on any pool and dialect.
func inTx(ctx context.Context, db *sql.DB, d Dialect, fn func(*sql.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := runTx(ctx, db, fn)
		if err == nil || attempt == maxTxAttempts || !d.retryable(err) {
			return err
		}
	}
}

func runTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
