package sqlite

import (
	"database/sql"
	"time"
)

// Column encodings shared by every table: times are unix milliseconds in UTC
// with NULL for the zero time, string lists are JSON arrays, durations are
// milliseconds.

// millis encodes t for a time column; the zero time becomes NULL.
func millis(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// fromMillis decodes a time column; NULL becomes the zero time.
func fromMillis(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.UnixMilli(n.Int64).UTC()
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}
