// Package columns holds the column encodings the SQL stores share, so that
// SQLite and PostgreSQL databases hold the same values for the same rows.
package columns

import (
	"encoding/json"
	"fmt"
)

// List encodes a string list as a JSON array; nil and empty both become "[]".
func List(ss []string) string {
	if len(ss) == 0 {
		return "[]"
	}
	b, err := json.Marshal(ss)
	if err != nil { // cannot happen for []string
		panic(fmt.Sprintf("store: encode string list: %v", err))
	}
	return string(b)
}

// FromList decodes a JSON array column. An empty list comes back as a
// non-nil empty slice, so callers that marshal it to JSON get [] not null.
func FromList(s string) ([]string, error) {
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
