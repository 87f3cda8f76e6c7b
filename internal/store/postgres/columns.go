package postgres

import (
	"time"
)

// Column encodings shared by every table, identical to the SQLite store's:
// times are unix milliseconds in UTC with NULL for the zero time, string
// lists are JSON arrays, durations are milliseconds.

// millis encodes t for a time column; the zero time becomes NULL.
func millis(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	ms := t.UnixMilli()
	return &ms
}

// fromMillis decodes a time column; NULL becomes the zero time.
func fromMillis(ms *int64) time.Time {
	if ms == nil {
		return time.Time{}
	}
	return time.UnixMilli(*ms).UTC()
}

// scanner is what pgx.Row and pgx.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}
