package oauth

import (
	"slices"
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
