package forwarded

import "testing"

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
