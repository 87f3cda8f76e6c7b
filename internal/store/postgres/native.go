package postgres

import (
	"context"
	"database/sql"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/mcp-obs/mcp-obs/internal/store/sqlstore"
)

// queryRow is the dialect's [sqlstore.Dialect.QueryRow]: it runs a
// single-row query on one of db's connections through pgx itself. pgx
// watches the context with context.AfterFunc, where database/sql would start
// a goroutine per query, and scans each column straight into its
// destination, where pgx's database/sql driver first converts every column
// to a driver.Value (allocating a function per column for the purpose).
// Measured by the store benchmarks, this keeps the introspection lookups as
// cheap as they were when the store used pgx alone.
func queryRow(ctx context.Context, db *sql.DB, query string, args ...any) sqlstore.Row {
	return nativeRow{ctx: ctx, db: db, query: query, args: args}
}

// nativeRow runs its query when scanned, like *sql.Row.
type nativeRow struct {
	ctx   context.Context
	db    *sql.DB
	query string
	args  []any
}

// Scan runs the query and scans its first row into dest. pgx's error for
// no row matches sql.ErrNoRows under errors.Is.
func (r nativeRow) Scan(dest ...any) error {
	conn, err := r.db.Conn(r.ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(driverConn any) error {
		return driverConn.(*stdlib.Conn).Conn().QueryRow(r.ctx, r.query, r.args...).Scan(dest...)
	})
}
