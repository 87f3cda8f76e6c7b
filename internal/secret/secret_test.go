package secret

import (
	"strings"
	"testing"
)

func TestNew_PrefixedAndUnique(t *testing.T) {
	a, b := New(PrefixAccessToken), New(PrefixAccessToken)
	if !strings.HasPrefix(a, PrefixAccessToken) || len(a) != len(PrefixAccessToken)+43 {
		t.Fatalf("New = %q, want prefix and 43 base64url characters", a)
	}
	if a == b {
		t.Fatal("two calls returned the same secret")
	}
}

func TestMatches(t *testing.T) {
	s := New(PrefixClientSecret)
	tests := []struct {
		name string
		in   string
		hash string
		want bool
	}{
		{"same", s, Hash(s), true},
		{"other", s + "x", Hash(s), false},
		{"empty hash never matches", "", "", false},
	}
	for _, tt := range tests {
		if got := Matches(tt.in, tt.hash); got != tt.want {
			t.Errorf("%s: Matches = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestRedact_NeverRevealsSecret(t *testing.T) {
	for _, s := range []string{New(PrefixAccessToken), New(PrefixServerSecret), "plain-secret-value-123456"} {
		r := Redact(s)
		if len(r) >= len(s)/2 || strings.Contains(s, strings.TrimSuffix(r, "…")+s[len(r):]) {
			t.Errorf("Redact(%q) = %q reveals too much", s, r)
		}
	}
}
