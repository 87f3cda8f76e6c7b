package web

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/mcp-obs/mcp-obs/internal/forwarded"
	"github.com/mcp-obs/mcp-obs/internal/platform/clientauth"
	"github.com/mcp-obs/mcp-obs/internal/platform/ratelimit"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// ClientAddr finds the address a request comes from, which per-address limits
// (sign-in throttling, registration rate limits) are keyed on.
//
// The zero value uses only the connection's address and ignores forwarded
// headers, since anyone can forge them. Behind a reverse proxy every request
// would then share the proxy's address, and one client exhausting a limit
// would lock out everyone: list the proxies in Trusted so that their
// X-Forwarded-For entries are believed.
type ClientAddr struct {
	// Trusted are the networks of the reverse proxies in front of the
	// platform. When the connection comes from one of them, the client is
	// the rightmost X-Forwarded-For entry that is not itself trusted: each
	// trusted proxy must append the address it received the request from
	// (nginx: $proxy_add_x_forwarded_for), so entries left of that one may be
	// forged by the client and are never used. If every entry is trusted, the
	// leftmost is the client.
	//
	// Only X-Forwarded-For is read, not the RFC 7239 Forwarded header:
	// reading both would let a client forge whichever one the proxy does not
	// write.
	Trusted []netip.Prefix
}

// IP is the client address of r, without a port.
func (c ClientAddr) IP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if len(c.Trusted) == 0 {
		return host
	}
	peer, ok := parseHop(host)
	if !ok || !c.trusts(peer) {
		return host
	}
	// Walk the hops from the nearest one back: header lines in reverse
	// order, and the comma-separated entries of each line from the right.
	client := host
	lines := r.Header.Values("X-Forwarded-For")
	for i := len(lines) - 1; i >= 0; i-- {
		rest := lines[i]
		for rest != "" {
			entry := rest
			if j := strings.LastIndexByte(rest, ','); j >= 0 {
				entry, rest = rest[j+1:], rest[:j]
			} else {
				rest = ""
			}
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			addr, ok := parseHop(entry)
			if !ok {
				// A trusted hop reported something that is not an address
				// ("unknown", or a forged value it passed on): the nearest
				// hop we can name stands in for the client, so that varying
				// the garbage cannot buy fresh budgets.
				return client
			}
			client = addr.String()
			if !c.trusts(addr) {
				return client
			}
		}
	}
	return client
}

// TenantClient is the client of a request addressed to one tenant, as
// [ClientAddr.ForTenant] finds it.
type TenantClient struct {
	// IP is the client's address, without port.
	IP string
	// ForwardedBy is the ID of the tenant whose resource server vouched for
	// IP, or "" when IP is the request's own client address ([ClientAddr.IP]).
	ForwardedBy string
}

// Key is what per-address limits count this client under: its address (IPv6
// by /64, see ratelimit.IPKey), and for a forwarded address also the tenant
// that vouched for it. A tenant's resource server is trusted about its own
// clients only, so the budgets it can name are its tenant's alone: it cannot
// spend another tenant's, nor the platform-wide budget of an address.
func (c TenantClient) Key() string {
	if c.ForwardedBy == "" {
		return ratelimit.IPKey(c.IP)
	}
	return "tenant:" + c.ForwardedBy + ":" + ratelimit.IPKey(c.IP)
}

// ForTenant finds the client of a request addressed to srv's endpoints that
// an MCP server may proxy (client registration; later, token and
// revocation), which per-address limits must key on.
//
// A request proxied by srv's MCP server comes from that server's address,
// shared by all its users. The SDK's proxy therefore names the end client
// in the forwarded.ClientHeader header (MCP-Obs-Forwarded-For) and proves it
// is srv's resource server with srv's credentials in
// forwarded.ResourceServerHeader (MCP-Obs-Resource-Server). That address is
// believed only when both headers appear exactly once, the address is a bare
// IP and the credentials are srv's own: another tenant's credentials, wrong
// or missing ones, or anything malformed, and the headers are ignored, so the
// answer is [ClientAddr.IP] as for any request. Nothing is logged here, the
// secret least of all.
func (c ClientAddr) ForTenant(r *http.Request, srv *store.Server) TenantClient {
	own := TenantClient{IP: c.IP(r)}
	addrs, creds := r.Header.Values(forwarded.ClientHeader), r.Header.Values(forwarded.ResourceServerHeader)
	if len(addrs) != 1 || len(creds) != 1 {
		return own
	}
	addr, ok := forwarded.ParseClientAddress(addrs[0])
	if !ok {
		return own
	}
	id, secret, ok := clientauth.ParseBasic(creds[0])
	if !ok || !clientauth.IsResourceServer(srv, clientauth.Credentials{ID: id, Secret: secret}) {
		return own
	}
	return TenantClient{IP: addr.String(), ForwardedBy: srv.ID}
}

// trusts reports whether addr is one of the trusted proxies.
func (c ClientAddr) trusts(addr netip.Addr) bool {
	addr = addr.Unmap().WithZone("")
	for _, p := range c.Trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// parseHop parses one hop's address as proxies write it: "192.0.2.7",
// "2001:db8::1", or with a port ("192.0.2.7:5000", "[2001:db8::1]:5000"),
// or bracketed without a port ("[2001:db8::1]").
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a, true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr(), true
	}
	if inner, ok := strings.CutPrefix(s, "["); ok {
		if inner, ok := strings.CutSuffix(inner, "]"); ok {
			if a, err := netip.ParseAddr(inner); err == nil && a.Is6() {
				return a, true
			}
		}
	}
	return netip.Addr{}, false
}

// ParseTrustedProxies parses an operator's list of trusted proxies for
// [ClientAddr.Trusted]: CIDR prefixes or single addresses, separated by commas
// or spaces ("10.0.0.0/8, 127.0.0.1"). An empty list trusts no proxy. The
// error names the first entry that is neither.
func ParseTrustedProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		if p, err := netip.ParsePrefix(item); err == nil {
			out = append(out, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(item); err == nil && a.Zone() == "" {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		return nil, fmt.Errorf("%q is not a CIDR prefix (such as 10.0.0.0/8) or an IP address", item)
	}
	return out, nil
}
