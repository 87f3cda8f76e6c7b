package mcpobs

import (
	"time"

	"github.com/mcp-obs/mcp-obs/internal/httpserver"
)

// Limits bounds what HTTP clients can hold of the server [Server.Run] serves, so
// that clients which connect and stall, or open connections by the
// thousand, cannot exhaust the process's file descriptors and memory. The
// zero value of each field is its default, which suits most servers; a
// negative value turns that limit off.
//
// Long-lived responses are not cut by these limits: the body deadline is set
// only on requests that have a body and lifted once the body is read, and
// there is no write deadline, so GET /mcp event streams and tool calls
// answered as event streams stay open.
//
// # Serving the handler yourself
//
// The limits apply to [Server.Run]. When you serve [Server.Handler], or [Integration.Mount]
// and [Integration.Middleware] on your own mux, configure your http.Server the same
// way:
//
//   - ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute;
//   - no ReadTimeout and no WriteTimeout if you serve event streams (GET
//     /mcp, streamed answers): a write deadline ends them, and a whole-request
//     read deadline lumps headers and body into one budget;
//   - a body deadline per request, in a middleware: when r.Body is not
//     http.NoBody, call http.NewResponseController(w).SetReadDeadline(
//     time.Now().Add(30*time.Second)) before serving, and SetReadDeadline(
//     time.Time{}) once the body has been read to io.EOF;
//   - a cap on connections in total and per client address on the listener,
//     below the process's open-file limit, that answers 503 rather than
//     leaving clients in the backlog.
//
// With your own streamable handler, also set
// [github.com/modelcontextprotocol/go-sdk/mcp.StreamableHTTPOptions].SessionTimeout,
// or sessions live until the process ends (see [Options.SessionIdleTimeout]).
type Limits struct {
	// ReadHeaderTimeout is how long a client has to send a request's
	// headers. Default 10 seconds.
	ReadHeaderTimeout time.Duration
	// BodyTimeout is how long a client has to send a request body once its
	// headers are in; a client that promises a body and stalls is
	// disconnected. Requests without a body have no such deadline. Default
	// 30 seconds.
	BodyTimeout time.Duration
	// IdleTimeout closes a kept-alive connection with no request for this
	// long. Default 2 minutes.
	IdleTimeout time.Duration
	// MaxConns caps open connections in total. Connections over the cap are
	// answered "503 Service Unavailable" with Retry-After and closed.
	// Default: three quarters of the process's open-file limit, at most 4096.
	MaxConns int
	// MaxConnsPerAddr caps open connections from one client address (an
	// IPv4 address or an IPv6 /64), answered like MaxConns. Default 128,
	// with loopback peers exempt (a reverse proxy on the same host, local
	// development); set explicitly, it applies to loopback too. Behind a
	// reverse proxy on another host every client shares the proxy's
	// address: raise it, or turn it off with a negative value and limit
	// clients at the proxy.
	MaxConnsPerAddr int
}

// internal returns the limits in the form the shared server code reads.
func (l Limits) internal() httpserver.Limits {
	return httpserver.Limits{
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		BodyTimeout:       l.BodyTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxConns:          l.MaxConns,
		MaxConnsPerAddr:   l.MaxConnsPerAddr,
	}
}
