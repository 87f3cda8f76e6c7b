// Package postgres is the [store.Store] for running several platform
// replicas against one PostgreSQL database.
//
// Every operation that must be atomic (code redemption, first use of a
// refresh token, revocation with its feed entries, consent merging) is one
// statement or one transaction in the database, never an in-process lock,
// so it holds across replicas. The schema and its encoding are those of the
// SQLite store: times as UTC unix milliseconds, string lists as JSON arrays.
package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

// Store is a [store.Store] backed by a PostgreSQL connection pool. It is
// safe for concurrent use, by any number of Stores in any number of
// processes on one database; create it with [Open], release it with [Store.Close].
type Store struct {
	pool *pgxpool.Pool
}

var _ store.Store = (*Store)(nil)

// Open connects to the PostgreSQL database at url (postgres://… or
// postgresql://…, any parameter pgx accepts, e.g. search_path=myschema) and
// applies pending schema migrations. Replicas starting together migrate
// once: migrations run under an advisory lock. Errors never quote url, which
// may carry a password.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: parse URL: %w", redactParseError(err))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open: connect: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	return &Store{pool: pool}, nil
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close waits for queries in flight and closes every connection. The store
// must not be used afterwards.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// maxTxAttempts bounds how often [Store.inTx] runs a transaction that
// PostgreSQL aborted to break a deadlock.
const maxTxAttempts = 3

// inTx runs fn in a transaction, again (up to maxTxAttempts in all) when
// PostgreSQL aborted it to break a deadlock or a serialization conflict.
// Transactions that lock several token rows (a refresh revoking what an
// earlier use issued, a family revocation) can deadlock with one another
// when they meet the same rows in another order; PostgreSQL then cancels
// one, and running it again is correct because it changed nothing. fn must
// set everything it returns afresh on each run.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := pgx.BeginFunc(ctx, s.pool, fn)
		if err == nil || attempt == maxTxAttempts || !retryable(err) {
			return err
		}
	}
}
