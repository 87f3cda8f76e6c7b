package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Column encodings shared by every table and every database, so SQLite and
// PostgreSQL hold the same values for the same rows: times are unix
// milliseconds in UTC with NULL for the zero time, string lists are JSON
// arrays, durations are milliseconds, flags are booleans.

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

// list encodes a string list as a JSON array; nil and empty both become "[]".
func list(ss []string) string {
	if len(ss) == 0 {
		return "[]"
	}
	b, err := json.Marshal(ss)
	if err != nil { // cannot happen for []string
		panic(fmt.Sprintf("store: encode string list: %v", err))
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
