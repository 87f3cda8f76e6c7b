package mcpobs

import "net/http"

// CORS values for every endpoint the SDK serves. Browser-based MCP clients
// (the MCP Inspector, web IDEs) must be able to send the bearer token and the
// MCP headers, and to read the challenge and the session id.
const (
	corsAllowMethods  = "GET, POST, DELETE, OPTIONS"
	corsAllowHeaders  = "Authorization, Content-Type, Accept, Mcp-Session-Id, Mcp-Protocol-Version, Mcp-Method, Mcp-Name, Last-Event-ID"
	corsExposeHeaders = "WWW-Authenticate, Mcp-Session-Id"
	corsMaxAge        = "86400"
)

// withCORS sets the CORS headers and answers preflight (OPTIONS) requests
// itself, without authentication: a preflight never carries credentials.
// Any origin is allowed: the endpoints use bearer tokens, never cookies.
func withCORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !setCORS(w, r) {
			next.ServeHTTP(w, r)
		}
	})
}

// setCORS sets the CORS headers of withCORS and reports whether it answered
// the request, a preflight.
func setCORS(w http.ResponseWriter, r *http.Request) (answered bool) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
	if r.Method != http.MethodOptions {
		return false
	}
	preflight(w, r)
	return true
}

// preflight answers a CORS preflight (OPTIONS) request.
func preflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", corsAllowMethods)
	// Protocol 2026-07-28 adds per-request Mcp-Param-{Name} headers whose
	// names no fixed list can hold: allow what the preflight asks for on
	// top of the known ones.
	allow := corsAllowHeaders
	if asked := r.Header.Get("Access-Control-Request-Headers"); asked != "" {
		allow += ", " + asked
	}
	h.Add("Vary", "Access-Control-Request-Headers")
	h.Set("Access-Control-Allow-Headers", allow)
	h.Set("Access-Control-Max-Age", corsMaxAge)
	w.WriteHeader(http.StatusNoContent)
}
