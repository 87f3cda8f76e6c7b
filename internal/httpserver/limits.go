// Package httpserver holds what the platform (`mcp-obs serve`) and the SDK's
// [mcpobs.Server.Run] share about serving HTTP to untrusted clients: read
// deadlines that do not kill event streams, an idle timeout, and caps on
// connections per client address and in total that refuse cleanly.
//
// The policy, in one place so that both servers keep it:
//
//   - Headers must arrive within ReadHeaderTimeout (http.Server does this).
//   - A request body must arrive within BodyTimeout. The deadline is set per
//     request with http.ResponseController.SetReadDeadline only when the
//     request has a body, and cleared as soon as the body has been read to
//     its end, so that long-lived responses (the revocation feed, MCP event
//     streams, a tool call answered as a stream) never run under it: a read
//     deadline that fires while net/http reads the connection in the
//     background cancels the request context (golang/go#70834). Go 1.26's
//     net/http happens to clear the deadline itself when a body ends, which
//     would make http.Server.ReadTimeout safe for streams too; it is still
//     not used, because it would also count the headers into the body's
//     budget and rely on that internal detail.
//   - No write deadline either, for the same reason: streams write for hours.
//   - Connections beyond MaxConnsPerAddr from one client address, or beyond
//     MaxConns in total, are accepted, answered "503 Service Unavailable"
//     with Retry-After and Connection: close, and closed. A client is told
//     why, instead of hanging in the listen backlog or seeing a reset; the
//     process keeps file descriptors and memory for the clients it serves.
//
// [mcpobs.Server.Run]: https://pkg.go.dev/github.com/mcp-obs/mcp-obs/mcpobs#Server.Run
package httpserver

import (
	"net/netip"
	"slices"
	"time"
)

// Defaults. The connection caps are sized so that one address cannot hold
// more than a small share of the server, and the total stays well below the
// process's open-file limit (see [DefaultMaxConns]).
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultBodyTimeout       = 30 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
	// DefaultMaxConnsPerAddr leaves room for a browser's six parallel
	// connections per origin times a few dozen people behind one NAT, or an
	// MCP server's introspection pool and revocation feed, while keeping one
	// hostile address to a small fraction of [DefaultMaxConns].
	DefaultMaxConnsPerAddr = 128
	// maxConnsCeiling bounds the automatic total: each open HTTP/1.1
	// connection costs a goroutine and two 4 KiB buffers (about 20 KiB
	// idle, more while a request is served), so 4096 connections are about
	// 100 MB at most, which a small instance can afford.
	maxConnsCeiling = 4096
	// fdReserveShare: one part in fdReserveShare of the open-file limit is
	// kept out of the automatic total for what else the process opens:
	// database files and connections, outgoing HTTP (introspection, client
	// metadata documents), logs, refusals in flight.
	fdReserveShare = 4
)

// Limits bounds what clients can hold of a server. The zero value of each
// field means its default; a negative value turns that limit off.
type Limits struct {
	// ReadHeaderTimeout is how long a client has to send the request line
	// and headers, from the moment it connects or starts a new request on a
	// kept-alive connection. Default 10s.
	ReadHeaderTimeout time.Duration
	// BodyTimeout is how long a client has to send a request body, counted
	// from when the handler starts. Requests without a body have none, so
	// long-lived responses to them are unaffected; the deadline is lifted
	// once the body has been read. Default 30s.
	BodyTimeout time.Duration
	// IdleTimeout closes a kept-alive connection that has no request for
	// this long. Default 2 minutes.
	IdleTimeout time.Duration
	// MaxConns caps open connections in total. Default [DefaultMaxConns].
	MaxConns int
	// MaxConnsPerAddr caps open connections from one client address (IPv4
	// address, or IPv6 /64, since one IPv6 host usually holds a whole /64).
	// Default 128, with loopback peers exempt: a reverse proxy on the same
	// host carries every client, and local development is one address. Set
	// explicitly, it applies to every address not in Exempt, loopback too.
	MaxConnsPerAddr int
	// Exempt are networks whose connections count only toward MaxConns:
	// the reverse proxies in front of the server, through which every
	// client arrives from one address.
	Exempt []netip.Prefix
}

// resolve returns l as the server applies it: every zero field replaced by
// its default (and loopback added to Exempt when MaxConnsPerAddr is the
// default), every negative field set to zero, meaning off. The result is not
// a configuration: resolving it again would turn "off" into defaults.
func (l Limits) resolve() Limits {
	l.ReadHeaderTimeout = orDefault(l.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	l.BodyTimeout = orDefault(l.BodyTimeout, DefaultBodyTimeout)
	l.IdleTimeout = orDefault(l.IdleTimeout, DefaultIdleTimeout)
	l.MaxConns = orDefault(l.MaxConns, DefaultMaxConns())
	if l.MaxConnsPerAddr == 0 {
		l.Exempt = append(slices.Clip(l.Exempt), loopback...)
	}
	l.MaxConnsPerAddr = orDefault(l.MaxConnsPerAddr, DefaultMaxConnsPerAddr)
	return l
}

// loopback are the peers the default per-address cap leaves alone.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

func orDefault[T int | time.Duration](v, def T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// DefaultMaxConns is the total connection cap used when none is configured:
// three quarters of the process's open-file limit, at most 4096. The quarter
// kept back is for the database, outgoing connections and logs, so that
// reaching the cap never makes the process run out of descriptors (at which
// point accept fails and every client hangs). Go raises the soft open-file
// limit to the hard limit at start-up, so a typical Linux host (hard limit
// 4096 to 1048576; containers usually 1048576) gets 3072 or 4096; a host
// still at 1024 gets 768.
func DefaultMaxConns() int { return maxConnsFor(openFileLimit()) }

// maxConnsFor is DefaultMaxConns for an open-file limit of nofile (0 when
// unknown or unlimited).
func maxConnsFor(nofile int) int {
	if nofile <= 0 {
		return maxConnsCeiling
	}
	return max(min(nofile-nofile/fdReserveShare, maxConnsCeiling), 1)
}
