package oauth

import "testing"

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
