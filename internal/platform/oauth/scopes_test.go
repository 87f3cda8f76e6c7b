package oauth

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParseScopes_SpaceDelimitedWithCommasTolerated(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"read", []string{"read"}},
		{"read write", []string{"read", "write"}},
		{"read,write", []string{"read", "write"}},
		{"read, write", []string{"read", "write"}},
		{"  read   write  ", []string{"read", "write"}},
		{"read write read", []string{"read", "write"}},
	}
	for _, tt := range tests {
		if got := parseScopes(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("parseScopes(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDescribeScopes_FriendlyDefaultsElseAccessScope(t *testing.T) {
	got := describeScopes([]string{"read", "write", "admin", "tickets"})
	for i, s := range got {
		if s.Description == "" {
			t.Errorf("scope %q has no description", s.Name)
		}
		if i < 3 && s.Description == "Access "+s.Name {
			t.Errorf("scope %q should have a friendly description", s.Name)
		}
	}
	if got[3].Description != "Access tickets" {
		t.Errorf("unknown scope described as %q, want %q", got[3].Description, "Access tickets")
	}
}

// distinctScopes returns a scope string of about n bytes naming every scope
// once ("0 1 2 … ff0 ff1 …"), and how many scopes it names.
func distinctScopes(n int) (string, int) {
	var b strings.Builder
	count := 0
	for b.Len() < n {
		b.WriteString(strconv.FormatInt(int64(count), 16))
		b.WriteByte(' ')
		count++
	}
	return b.String(), count
}

// A scope parameter is the client's to choose and reaches parseScopes before
// any scope is checked: through the authorization endpoint it can be as long
// as a request line (1 MiB by default). Dropping repeats by comparing each
// scope with every earlier one costs quadratic work: about two CPU minutes
// for 1 MiB, hours for the input here, so on such a parser this test does not
// finish. It asserts no time, only the answer.
func TestParseScopes_MegabytesOfDistinctScopesTakeLinearWork(t *testing.T) {
	s, n := distinctScopes(4 << 20)
	got := parseScopes(s)
	if len(got) != n || got[0] != "0" || got[n-1] != strconv.FormatInt(int64(n-1), 16) {
		t.Fatalf("parseScopes of %d distinct scopes gave %d", n, len(got))
	}
	if again := parseScopes(s + " " + s); len(again) != n {
		t.Fatalf("parseScopes of %d scopes each given twice gave %d", n, len(again))
	}
}
