package forwarded

import (
	"encoding/base64"
	"testing"
)

func TestCredentials_RoundTripWhateverTheCharacters(t *testing.T) {
	for _, c := range []struct{ id, secret string }{
		{"mcp_acme_rs", "mcpobs_sk_abc"},
		{"id:with:colons", "secret:with:colons"},
		{"id with spaces+plus", "100%+/=?&"},
		{"ünïcode", "sécret"},
	} {
		v := Credentials(c.id, c.secret)
		id, secret, ok := ParseCredentials(v)
		if !ok || id != c.id || secret != c.secret {
			t.Errorf("ParseCredentials(Credentials(%q, %q)) = %q, %q, %v", c.id, c.secret, id, secret, ok)
		}
	}
}

func TestParseCredentials_RefusesAnythingButBasicWithIDAndSecret(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, v := range []string{
		"",
		"Basic",
		"Basic ",
		"Bearer " + b64("id:secret"),
		"Basic not-base64!",
		"Basic " + b64("no-colon"),
		"Basic " + b64(":secret"),
		"Basic " + b64("id:"),
		"Basic " + b64("id%zz:secret"),
		"Basic " + b64("id:secret%"),
	} {
		if id, secret, ok := ParseCredentials(v); ok {
			t.Errorf("ParseCredentials(%q) = %q, %q, true; want refused", v, id, secret)
		}
	}
	if id, secret, ok := ParseCredentials("basic " + b64("id:secret")); !ok || id != "id" || secret != "secret" {
		t.Errorf("the scheme is case-insensitive: got %q, %q, %v", id, secret, ok)
	}
}

func TestClientAddress_IPOfRemoteAddrOrNothing(t *testing.T) {
	for _, tt := range []struct {
		remote, want string
		ok           bool
	}{
		{"192.0.2.7:5123", "192.0.2.7", true},
		{"[2001:db8::1]:443", "2001:db8::1", true},
		{"[::ffff:192.0.2.7]:443", "192.0.2.7", true},
		{"[fe80::1%eth0]:443", "fe80::1", true},
		{"@", "", false},
		{"", "", false},
		{"192.0.2.7", "", false},
	} {
		got, ok := ClientAddress(tt.remote)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ClientAddress(%q) = %q, %v; want %q, %v", tt.remote, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseClientAddress_OnlyABareAddress(t *testing.T) {
	for _, tt := range []struct {
		v, want string
	}{
		{"192.0.2.7", "192.0.2.7"},
		{"2001:db8::1", "2001:db8::1"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
	} {
		if a, ok := ParseClientAddress(tt.v); !ok || a.String() != tt.want {
			t.Errorf("ParseClientAddress(%q) = %v, %v; want %s", tt.v, a, ok, tt.want)
		}
	}
	for _, v := range []string{"", "unknown", "192.0.2.7:5123", "[2001:db8::1]", "192.0.2.7, 198.51.100.1", "fe80::1%eth0", " 192.0.2.7"} {
		if a, ok := ParseClientAddress(v); ok {
			t.Errorf("ParseClientAddress(%q) = %v; want refused", v, a)
		}
	}
}
