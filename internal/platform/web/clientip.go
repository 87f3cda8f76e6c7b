package web

import (
	"net"
	"net/http"
)

// ClientIP is the remote address of the request without the port. Forwarded
// headers are ignored: they are trivially forged.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
