package ingestkeys

import (
	"strings"
	"testing"

	"github.com/mcp-obs/mcp-obs/internal/secret"
)

func TestParseID_TakesOnlyTheExactShape(t *testing.T) {
	id := "0123456789abcdef"
	good := secret.New(secret.PrefixIngestKey + id + "_")
	if got, ok := ParseID(good); !ok || got != id {
		t.Fatalf("ParseID(good) = %q, %v", got, ok)
	}
	flip := func(s string, i int) string {
		c := byte('A')
		if s[i] == 'A' {
			c = 'B'
		}
		return s[:i] + string(c) + s[i+1:]
	}
	for _, tc := range []struct{ name, v string }{
		{"empty", ""},
		{"another prefix", strings.Replace(good, secret.PrefixIngestKey, secret.PrefixAccessToken, 1)},
		{"uppercase id", strings.Replace(good, id, strings.ToUpper(id), 1)},
		{"id changed (checksum covers it)", strings.Replace(good, id, "fedcba9876543210", 1)},
		{"secret changed", flip(good, len(good)-10)},
		{"truncated", good[:len(good)-1]},
		{"extended", good + "A"},
		{"no separator", good[:26] + "-" + good[27:]},
		{"an access token", secret.New(secret.PrefixAccessToken)},
	} {
		if _, ok := ParseID(tc.v); ok {
			t.Errorf("%s: %q parsed", tc.name, tc.v)
		}
	}
}

func TestValidateName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{{"", true}, {"ci", true}, {"staging – eu", true}, {strings.Repeat("x", MaxNameLen+1), false}, {"a\nb", false}, {"\xff", false}} {
		if err := validateName(tc.name); (err == nil) != tc.ok {
			t.Errorf("validateName(%q) = %v", tc.name, err)
		}
	}
}
