package account

import "testing"

func TestSafeReturnTo_OnlyPathsUnderTheTenant(t *testing.T) {
	const tp = "/t/acme/"
	tests := []struct {
		in   string
		safe bool
	}{
		{"/t/acme/oauth/authorize?client_id=x&redirect_uri=http://127.0.0.1:1/cb", true},
		{"/t/acme/signin", true},
		{"/t/acme/oauth/authorize?redirect_uri=cursor%3A%2F%2Fx%2Fcb", true},
		{"", false},
		{"https://evil.example", false},
		{"http:/t/acme/", false},
		{"//evil.example", false},
		{"///evil.example", false},
		{`/\evil`, false},
		{`/t/acme/\\evil`, false},
		{"/t/acme/%5C%5Cevil", false},
		{"/t/other/", false},
		{"/t/acmeevil/", false},
		{"/t/acme", false},
		{"/t/acme/../other/", false},
		{"/t/acme/./x", false},
		{"/t/acme/%2E%2E/other/", false},
		{"/t/acme/%2e./other/", false},
		{"/t/acme//evil.example", false},
		{"/t/acme/%2F%2Fevil.example", false},
		{"/t/acme/\n/x", false},
		{"/t/acme/ x", false},
		{"/t/acme/x\x7f", false},
		{"javascript:alert(1)", false},
		{" /t/acme/", false},
		{"/t/acme/" + string(make([]byte, maxReturnTo)), false},
	}
	for _, tt := range tests {
		got := safeReturnTo(tp, tt.in)
		if tt.safe && got != tt.in {
			t.Errorf("safeReturnTo(%q) = %q, want it kept", tt.in, got)
		}
		if !tt.safe && got != "" {
			t.Errorf("safeReturnTo(%q) = %q, want it refused", tt.in, got)
		}
	}
}

func TestSafeReturnTo_BasePathPrefix(t *testing.T) {
	// A platform served under /auth has tenant paths /auth/t/{slug}/.
	if got := safeReturnTo("/auth/t/acme/", "/auth/t/acme/oauth/authorize?x=1"); got == "" {
		t.Errorf("path under a base-path tenant refused")
	}
	if got := safeReturnTo("/auth/t/acme/", "/t/acme/oauth/authorize"); got != "" {
		t.Errorf("path outside the base path accepted")
	}
}
