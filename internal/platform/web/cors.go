package web

import "net/http"

// CORS lets browser-based MCP clients (the MCP Inspector, web apps) call a
// public OAuth endpoint from any origin. No cookie ever authenticates the
// endpoints it wraps (they are anonymous, or take credentials in headers or
// the body), so a wildcard origin grants a page nothing a plain HTTP client
// lacks. Never wrap the cookie-authenticated pages with it.
func CORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Expose-Headers", "WWW-Authenticate, Retry-After")
		next.ServeHTTP(w, r)
	})
}

// Preflight answers a CORS preflight for an endpoint allowing methods.
func Preflight(methods string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Methods", methods)
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, MCP-Protocol-Version")
		h.Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
	}
}
