package postgres

import (
	"encoding/json"
	"fmt"
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

// list encodes a string list as a JSON array; nil and empty both become "[]".
func list(ss []string) string {
	if len(ss) == 0 {
		return "[]"
	}
	b, err := json.Marshal(ss)
	if err != nil { // cannot happen for []string
		panic(fmt.Sprintf("postgres: encode string list: %v", err))
	}
	return string(b)
}

// fromList decodes a JSON array column. An empty list comes back as a
// non-nil empty slice, so callers that marshal it to JSON get [] not null.
func fromList(s string) ([]string, error) {
	if s == "" || s == "[]" {
		return []string{}, nil
	}
	var ss []string
	if err := json.Unmarshal([]byte(s), &ss); err != nil {
		return nil, fmt.Errorf("decode string list %q: %w", s, err)
	}
	if ss == nil {
		ss = []string{}
	}
	return ss, nil
}

// scanner is what pgx.Row and pgx.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}
