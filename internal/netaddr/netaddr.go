// Package netaddr keys client addresses for per-client limits. The platform's
// rate limits, the SDK's budget of unknown tokens and the connection caps of
// both servers count "one client" the same way, by this one rule.
//
// An IPv4 address is a client of its own. An IPv6 address counts as its /64
// network, because one host commonly holds a whole /64 (SLAAC, privacy
// addresses) and could otherwise rotate addresses to escape any per-address
// limit. An IPv4 address mapped into IPv6 (::ffff:a.b.c.d, as a dual-stack
// listener reports it) is the IPv4 client, and IPv6 zones are ignored.
package netaddr

import "net/netip"

// Network returns the network ip is counted in: ip/32 for IPv4 (also when
// mapped into IPv6), the /64 of an IPv6 address, without its zone. ok is
// false for the zero Addr.
func Network(ip netip.Addr) (p netip.Prefix, ok bool) {
	if !ip.IsValid() {
		return netip.Prefix{}, false
	}
	ip = ip.Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, err := ip.Prefix(bits)
	return p, err == nil
}

// Key is [Network] as a string, for maps and limiters keyed by string: the
// bare address for IPv4 ("203.0.113.7"), the /64 in CIDR notation for IPv6
// ("2001:db8:1:2::/64"). A string that is not an IP address is returned
// unchanged, so that it still keys something stable.
func Key(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	p, ok := Network(addr)
	if !ok {
		return ip
	}
	if p.Addr().Is4() {
		return p.Addr().String()
	}
	return p.String()
}
