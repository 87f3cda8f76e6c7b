package netaddr

import (
	"net/netip"
	"testing"
)

func TestNetwork_IPv4ByAddressIPv6By64(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"192.0.2.7", "192.0.2.7/32"},
		{"::ffff:192.0.2.7", "192.0.2.7/32"},
		{"2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"::1", "::/64"},
	} {
		got, ok := Network(netip.MustParseAddr(tc.in))
		if !ok || got.String() != tc.want {
			t.Errorf("Network(%s) = %s, %v; want %s", tc.in, got, ok, tc.want)
		}
	}
	if _, ok := Network(netip.Addr{}); ok {
		t.Error("the zero Addr has a network")
	}
}

func TestKey_GroupsIPv6By64AndKeepsIPv4AndNonAddresses(t *testing.T) {
	tests := []struct{ in, want string }{
		{"203.0.113.7", "203.0.113.7"},
		{"::ffff:203.0.113.7", "203.0.113.7"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"not-an-ip", "not-an-ip"},
		{"", ""},
		{"203.0.113.7:443", "203.0.113.7:443"}, // a host:port is not an address
	}
	for _, tt := range tests {
		if got := Key(tt.in); got != tt.want {
			t.Errorf("Key(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// The string key and the prefix key agree: a limit keyed by one and a cap
// keyed by the other count the same clients together.
func TestKey_AgreesWithNetwork(t *testing.T) {
	for _, in := range []string{"192.0.2.7", "::ffff:192.0.2.7", "2001:db8::1", "2001:db8::2", "2001:db8:0:1::1"} {
		for _, other := range []string{"192.0.2.7", "::ffff:192.0.2.7", "2001:db8::1", "2001:db8::2", "2001:db8:0:1::1"} {
			a, _ := Network(netip.MustParseAddr(in))
			b, _ := Network(netip.MustParseAddr(other))
			if (Key(in) == Key(other)) != (a == b) {
				t.Errorf("Key(%s)==Key(%s) is %v but Network equality is %v", in, other, Key(in) == Key(other), a == b)
			}
		}
	}
}
