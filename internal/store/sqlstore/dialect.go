package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
)

// Dialect is everything the SQL databases the store runs on do differently.
// The zero value is plain SQL with ? placeholders, no row locks, no retries
// and no driver error classification; package sqlite and package postgres
// each fill one in.
type Dialect struct {
	// Name starts every error the store returns ("sqlite: …", "postgres: …").
	Name string

	// NumberedParams rebinds the ? placeholders the queries are written with
	// to $1, $2, … (PostgreSQL), once, when the store is built.
	NumberedParams bool

	// LockRows ends the SELECTs that read a row the transaction then
	// changes on its strength (a refresh token to rotate, a code to issue
	// from, a consent to merge): " FOR UPDATE" where concurrent
	// transactions run side by side, so they queue on the row. Empty where
	// write transactions already run one at a time (SQLite's single writer).
	LockRows string

	// LockFeed, when not empty, runs in a revoking transaction before it
	// appends to the revocation feed, and must hold other appenders off
	// until it commits, so feed sequence numbers become visible in order
	// (see [Store.revokeTx]). Not needed where write transactions run one at
	// a time.
	LockFeed string

	// LockMigrations, when not empty, runs first in the migrations
	// transaction and must hold other processes' migrations off until it
	// commits (PostgreSQL: an advisory lock). SQLite's write transactions
	// (BEGIN IMMEDIATE) already exclude each other.
	LockMigrations string

	// RepeatRevocation repeats a revoking UPDATE until it revokes nothing
	// more. Needed where a statement does not see rows inserted by a
	// transaction it waited for (PostgreSQL's READ COMMITTED snapshot; see
	// [Store.revokeTx]); pointless where writers run one at a time.
	RepeatRevocation bool

	// PrepareLookups prepares the hot lookups (server by slug, token, user,
	// client) once, on the read pool. Where the driver already caches
	// prepared statements per connection (pgx), going through database/sql's
	// *sql.Stmt only adds a lock and a search per call.
	PrepareLookups bool

	// DetachLookups runs the hot lookups without their context's
	// cancellation (after checking it is not done yet), which saves
	// database/sql and the driver a watcher goroutine per query. Only for
	// an in-process database, whose primary-key probes end in microseconds:
	// a lookup over a network must stay cancellable.
	DetachLookups bool

	// QueryRow, when not nil, runs the single-row queries made outside a
	// transaction (the hot lookups that are not prepared, a code's
	// redemption, a consent, a session) on db through the driver's own
	// interface, for speed: database/sql costs each query a goroutine
	// watching its context and a conversion of every column to a
	// driver.Value. It must honour ctx, and the Row's error for a missing row
	// must match sql.ErrNoRows under errors.Is.
	QueryRow func(ctx context.Context, db *sql.DB, query string, args ...any) Row

	// SerialWrites says write transactions run one at a time (SQLite's
	// single writer), so the rows a transaction inserts get ids above every
	// id before it. The telemetry writer then learns which spans of a batch
	// it inserted from the count of rows inserted, reading their keys back
	// (the rows above the id it started from) only when some were stored
	// before; elsewhere each insert RETURNs the keys it inserted, which
	// costs SQLite a third of the insert.
	SerialWrites bool

	// DataVersion, when not empty (with SerialWrites), is a query whose
	// one number changes whenever another connection commits to the
	// database (SQLite: PRAGMA data_version). The telemetry writer then
	// keeps the rollup rows it wrote last in memory, reading them back
	// from the database only when someone else wrote in between.
	DataVersion string

	// ArrayParams says the database takes a whole column of values as one
	// array parameter and unnests it (PostgreSQL): the telemetry writer then
	// sends a batch's rows in one statement with one array per column,
	// instead of statements of rows of placeholders, each a round trip and
	// thousands of parameters to parse.
	ArrayParams bool

	// ByteOrder follows a text expression in an ORDER BY so that it sorts
	// in byte order, as SQLite's default BINARY collation and Go do, not
	// by the database's locale (PostgreSQL: COLLATE "C"): top lists break
	// ties the same on every backend.
	ByteOrder string

	// InJSONList follows a column name to test it against the strings of
	// a JSON array given as its one placeholder: a list of any length in a
	// single prepared statement (the telemetry writer reads the rollup rows
	// a batch touches this way). It must let the database probe the index
	// once per value, not evaluate the list once per row.
	InJSONList string

	// TelemetryTx, when not empty, runs first in every telemetry write
	// transaction: it may trade durability against a crash of the database
	// server (never against one of the platform's process) for speed, as
	// the telemetry data's own rules allow (PostgreSQL: SET LOCAL
	// synchronous_commit = off, the counterpart of the SQLite telemetry
	// file's synchronous=NORMAL).
	TelemetryTx string

	// LockTenant, when not empty, runs in a telemetry write transaction
	// before it reads the rollup rows of a tenant (its one placeholder is
	// the server id) and must hold other transactions' rollup updates of
	// that tenant off until it commits: the writer merges histograms in Go,
	// a read-modify-write that concurrent writers (several replicas) would
	// otherwise lose. Transactions take their tenants' locks in order, so
	// they cannot deadlock on them. Not needed where write transactions run
	// one at a time.
	LockTenant string

	// Classify says which constraint a driver error reports violated, if any.
	Classify func(error) Violation

	// Retryable reports whether the database aborted a transaction to break a
	// deadlock or a serialization conflict, so that running it again may
	// succeed. Nil: never.
	Retryable func(error) bool
}

// Violation is a constraint a write broke, as [Dialect.Classify] reports it.
type Violation int

// Violations the store contract gives a meaning.
const (
	// NoViolation: the error is not a constraint violation the contract names.
	NoViolation Violation = iota
	// UniqueViolation: a UNIQUE or PRIMARY KEY constraint (store.ErrConflict).
	UniqueViolation
	// ForeignKeyViolation: a reference to a row that does not exist, which
	// in this schema is always a server (store.ErrNotFound).
	ForeignKeyViolation
)

// rebind rewrites the ? placeholders of q for the dialect. The queries hold
// no ? anywhere else (no string literal or operator uses one).
func (d Dialect) rebind(q string) string {
	if !d.NumberedParams {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for _, r := range q {
		if r != '?' {
			b.WriteRune(r)
			continue
		}
		n++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}

func (d Dialect) classify(err error) Violation {
	if d.Classify == nil {
		return NoViolation
	}
	return d.Classify(err)
}

func (d Dialect) retryable(err error) bool {
	return d.Retryable != nil && d.Retryable(err)
}
