package endpoints

import "testing"

func TestParse(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"http://localhost:3000", "http://localhost:3000", true},
		{"https://auth.example.com/", "https://auth.example.com", true},
		{"https://example.com/auth/", "", false},
		{"localhost:3000", "", false},
		{"ftp://example.com", "", false},
		{"https://example.com?x=1", "", false},
		{"https://user:pw@example.com", "", false},
		{"http:///nohost", "", false},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if (err == nil) != tt.ok || string(got) != tt.want {
			t.Errorf("Parse(%q) = %q, %v; want %q ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestURLs_BuiltFromTheBaseOnly(t *testing.T) {
	b := Base("https://auth.example.com")
	tests := []struct{ got, want string }{
		{b.Issuer("acme"), "https://auth.example.com/t/acme"},
		{b.AuthServerMetadata("acme"), "https://auth.example.com/.well-known/oauth-authorization-server/t/acme"},
		{b.Authorize("acme"), "https://auth.example.com/t/acme/oauth/authorize"},
		{b.ClientConfiguration("acme", "a b"), "https://auth.example.com/t/acme/oauth/register/a%20b"},
		{b.ServerConfig("acme"), "https://auth.example.com/api/v1/servers/acme/config"},
		{b.TenantPath("acme"), "/t/acme/"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	if !b.Secure() || Base("http://localhost:3000").Secure() {
		t.Error("Secure must follow the scheme")
	}
}
