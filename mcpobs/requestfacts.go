package mcpobs

import (
	"net"
	"net/http"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// requestFacts is what the HTTP layer knows about one request to the MCP
// endpoint and the MCP layer cannot see: when it arrived, from which address,
// over which HTTP version, and the JSON-RPC id in its body.
//
// A span needs both layers. [Integration.Middleware] sees the HTTP request;
// the MCP receiving middleware ([Integration.TelemetryMiddleware]) sees the
// decoded method, parameters, session and result, but runs on the official
// SDK's goroutine with a context of its own. The facts cross over in the
// auth.TokenInfo the SDK already carries from the HTTP request to each of its
// MCP requests (identity.go), so the body is decoded once, by the SDK, and
// the span can start when the request arrived.
type requestFacts struct {
	arrived       time.Time
	clientAddress string
	httpVersion   string
	scan          idScanner
	body          idScanningBody // r.Body, scanned for the id as the SDK reads it
}

// newRequestFacts records the facts of r, which arrived at arrived, and makes
// r's body (if it has one) feed the id scanner. One allocation.
func newRequestFacts(r *http.Request, arrived time.Time) *requestFacts {
	f := &requestFacts{arrived: arrived, clientAddress: clientAddress(r.RemoteAddr), httpVersion: httpVersion(r)}
	if r.Body != nil && r.Body != http.NoBody {
		f.body = idScanningBody{ReadCloser: r.Body, scan: &f.scan}
		r.Body = &f.body
	}
	return f
}

// requestID is the JSON-RPC id of the request's body, if it held a single
// message with one. Read it only once the body has been read.
func (f *requestFacts) requestID() (string, bool) {
	if f == nil {
		return "", false
	}
	return f.scan.requestID()
}

// clientAddress is the IP address of a request's peer (http.Request's
// RemoteAddr without the port). Forwarded headers are not read: whoever
// sends them is not vouched for.
func clientAddress(remoteAddr string) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}

// httpVersion is network.protocol.version for r: "1.1", "2", ...
func httpVersion(r *http.Request) string {
	switch {
	case r.ProtoMajor == 1 && r.ProtoMinor == 1:
		return "1.1"
	case r.ProtoMajor == 2:
		return "2"
	case r.ProtoMajor == 1 && r.ProtoMinor == 0:
		return "1.0"
	case r.ProtoMajor == 3:
		return "3"
	}
	return ""
}

// requestFactsKey is the key of a request's *requestFacts in
// auth.TokenInfo.Extra.
const requestFactsKey = "mcpobs.request"

// requestFactsOf returns the facts Integration.Middleware recorded for the
// HTTP request that carried req, or nil.
func requestFactsOf(req mcp.Request) *requestFacts {
	extra := req.GetExtra()
	if extra == nil || extra.TokenInfo == nil {
		return nil
	}
	f, _ := extra.TokenInfo.Extra[requestFactsKey].(*requestFacts)
	return f
}
