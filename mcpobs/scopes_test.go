package mcpobs

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParseScopes_AcceptsSpacesAndCommasDropsEmptiesAndDuplicates(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty gives nil", "", nil},
		{"blank gives nil", "  , ,", nil},
		{"space delimited (RFC 6749)", "read write", []string{"read", "write"}},
		{"comma delimited (seed platform)", "read,write", []string{"read", "write"}},
		{"comma and space", "read, write", []string{"read", "write"}},
		{"repeated delimiters", "  read  ,,write ", []string{"read", "write"}},
		{"tabs and newlines", "read\twrite\nadmin", []string{"read", "write", "admin"}},
		{"duplicates dropped, first kept", "write read write", []string{"write", "read"}},
		{"order kept", "b a c", []string{"b", "a", "c"}},
		{"single", "read", []string{"read"}},
		{"uri-like scopes kept whole", "https://api.example.com/read offline_access", []string{"https://api.example.com/read", "offline_access"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseScopes(tt.in)
			if !slices.Equal(got, tt.want) || (tt.want == nil) != (got == nil) {
				t.Errorf("parseScopes(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}

// The SDK reads scope strings from the platform's introspection answers and
// from its own configuration: repeats are dropped with a set, so a long
// string takes linear work. Comparing each scope with every earlier one would
// take hours here, so on such a parser this test does not finish; it asserts
// no time, only the answer.
func TestParseScopes_MegabytesOfDistinctScopesTakeLinearWork(t *testing.T) {
	var b strings.Builder
	n := 0
	for ; b.Len() < 4<<20; n++ {
		b.WriteString(strconv.FormatInt(int64(n), 16))
		b.WriteByte(' ')
	}
	if got := parseScopes(b.String() + b.String()); len(got) != n {
		t.Fatalf("parseScopes of %d distinct scopes, each given twice, gave %d", n, len(got))
	}
}
