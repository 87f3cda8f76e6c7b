// Package forwarded is the wire format by which an MCP server's OAuth proxies
// (package mcpobs) tell the platform which end client a proxied request comes
// from, and prove that they are the tenant's resource server. Both sides use
// this package, so the format is written once.
//
// A client that treats the MCP origin as its authorization server sends
// /register, /token and /revoke to the MCP server, which forwards them. The
// platform then sees the MCP server's address, and a per-address limit keyed
// on it would make all of that server's users share one budget. So the proxy
// adds two headers:
//
//	MCP-Obs-Forwarded-For: 203.0.113.7
//	MCP-Obs-Resource-Server: Basic base64(urlencode(client_id) ":" urlencode(client_secret))
//
// The first is the address the MCP server received the request from; the
// second carries the MCP server's resource-server credentials, encoded like
// HTTP Basic client authentication (RFC 6749 §2.3.1), so the platform reads
// them with the one reading of client credentials it has
// (clientauth.ParseBasic). They are separate from Authorization, which
// belongs to the client (client_secret_basic). The platform believes the
// address only when the credentials are those of the tenant the request is
// addressed to; the proxy removes any copies of both headers that the client
// sent.
package forwarded

import (
	"encoding/base64"
	"net/netip"
	"net/url"
)

// Header names. Hyphens, not underscores, so that common reverse proxies
// (nginx drops headers with underscores) pass them on.
const (
	// ClientHeader carries the end client's IP address, without port.
	ClientHeader = "MCP-Obs-Forwarded-For"
	// ResourceServerHeader carries the resource-server credentials that
	// vouch for ClientHeader.
	ResourceServerHeader = "MCP-Obs-Resource-Server"
)

// ClientAddress is the ClientHeader value for a request whose RemoteAddr is
// remoteAddr ("192.0.2.7:5123", "[2001:db8::1]:443"): the IP address in its
// canonical text form, IPv4-mapped IPv6 addresses as IPv4 and without zone.
// ok is false when remoteAddr names no IP address (a Unix socket).
func ClientAddress(remoteAddr string) (addr string, ok bool) {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return "", false
	}
	return ap.Addr().Unmap().WithZone("").String(), true
}

// ParseClientAddress reads a ClientHeader value. Only a bare IP address
// (no port, brackets, zone or list) is accepted: anything else is not what
// the proxy writes.
func ParseClientAddress(v string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(v)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// Credentials is the ResourceServerHeader value for a resource server's
// client id and secret: "Basic " and the standard base64 of the
// form-urlencoded id, a colon and the form-urlencoded secret.
func Credentials(clientID, clientSecret string) string {
	raw := url.QueryEscape(clientID) + ":" + url.QueryEscape(clientSecret)
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(raw))
}
