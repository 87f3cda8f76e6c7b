package clients

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// fetchTimeout bounds a whole metadata document fetch: connection, TLS,
// headers and body. An authorization request waits for it.
const fetchTimeout = 5 * time.Second

// errForbiddenAddress is returned by the dial guard for addresses inside
// private, loopback or otherwise special networks.
var errForbiddenAddress = errors.New("address is not publicly routable")

// newGuardedClient returns the HTTP client that fetches metadata documents.
// The client ID is a URL chosen by whoever starts an authorization, so the
// fetch is a classic server-side request forgery vector: without guards
// anyone could make the platform request http://169.254.169.254/ or an admin
// port on its own network.
//
// The guard runs in net.Dialer.Control, on the IP address actually being
// connected to after name resolution. Checking a hostname before the request
// would not do: DNS can answer differently a moment later (DNS rebinding).
// Proxies from the environment are ignored (the guard would check the proxy's
// address, not the target's), and redirects are not followed, so a public
// URL cannot bounce the fetch elsewhere. In dev mode every address is allowed.
func newGuardedClient(dev bool) *http.Client {
	guard := dialGuard{allowPrivate: dev}
	dialer := &net.Dialer{Timeout: fetchTimeout, Control: guard.control}
	transport := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    fetchTimeout,
		ResponseHeaderTimeout:  fetchTimeout,
		MaxResponseHeaderBytes: 16 << 10,
		MaxIdleConns:           16,
		IdleConnTimeout:        30 * time.Second,
	}
	return &http.Client{Transport: transport, Timeout: fetchTimeout, CheckRedirect: refuseRedirects}
}

// refuseRedirects makes an http.Client return a redirect response as it is
// instead of following it.
func refuseRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// dialGuard vets every address a guarded client connects to.
type dialGuard struct {
	allowPrivate bool
}

// control is a net.Dialer.Control function: it runs after resolution, just
// before each connection attempt, with the literal IP address and port.
func (g dialGuard) control(network, address string, _ syscall.RawConn) error {
	if network != "tcp4" && network != "tcp6" {
		return fmt.Errorf("dial %s %s: only TCP is allowed", network, address)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dial %s: %w", address, err)
	}
	if !g.allowPrivate && !isPublicAddress(ap.Addr()) {
		return fmt.Errorf("dial %s: %w", address, errForbiddenAddress)
	}
	return nil
}

// isPublicAddress reports whether ip is a globally routable unicast address.
// Refused: loopback, private (RFC 1918, IPv6 ULA), link-local (including the
// cloud metadata address 169.254.169.254), multicast, unspecified, carrier-
// grade NAT (100.64.0.0/10), the other IANA special-purpose blocks that never
// lead to a public web server, and IPv6 forms that embed an IPv4 address
// (IPv4-mapped, NAT64, 6to4) when the embedded address is itself refused.
func isPublicAddress(ip netip.Addr) bool {
	ip = ip.WithZone("").Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return false
	}
	for _, p := range specialPurposePrefixes() {
		if p.Contains(ip) {
			return false
		}
	}
	if ip.Is6() {
		b := ip.As16()
		switch {
		case netip.MustParsePrefix("64:ff9b::/96").Contains(ip): // NAT64, RFC 6052
			return isPublicAddress(netip.AddrFrom4([4]byte(b[12:16])))
		case netip.MustParsePrefix("2002::/16").Contains(ip): // 6to4, RFC 3056
			return isPublicAddress(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	return true
}

// specialPurposePrefixes lists IANA special-purpose blocks not already covered
// by the netip.Addr predicates used in isPublicAddress.
func specialPurposePrefixes() []netip.Prefix {
	return []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
		netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT, RFC 6598
		netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
		netip.MustParsePrefix("192.0.2.0/24"),    // documentation
		netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
		netip.MustParsePrefix("198.51.100.0/24"), // documentation
		netip.MustParsePrefix("203.0.113.0/24"),  // documentation
		netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and broadcast
		netip.MustParsePrefix("::/96"),           // deprecated IPv4-compatible
		netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64, RFC 8215
		netip.MustParsePrefix("100::/64"),        // discard-only
		netip.MustParsePrefix("2001::/23"),       // IETF protocol assignments (Teredo, ORCHID, benchmarking)
		netip.MustParsePrefix("2001:db8::/32"),   // documentation
		netip.MustParsePrefix("fec0::/10"),       // deprecated site-local
	}
}
