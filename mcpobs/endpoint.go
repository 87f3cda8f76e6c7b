package mcpobs

import (
	"net/http"
	"slices"
)

// notReadyDescription answers a request that needs the platform's
// configuration before [Integration.Initialize] has fetched it.
const notReadyDescription = "this server has not reached the authorization platform yet; retry shortly"

// tenantHandlerFunc serves a request with the configuration Initialize
// learned from the platform.
type tenantHandlerFunc func(w http.ResponseWriter, r *http.Request, st *tenantState)

// withTenant hands h the configuration Initialize learned from the platform,
// read once so the request sees one consistent version. Until Initialize has
// succeeded it answers 503 temporarily_unavailable with Retry-After: nobody
// is at fault, and the client tries again (a 401 would send it to sign in
// for nothing).
func (s *Integration) withTenant(h tenantHandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := s.loaded()
		if st == nil {
			writeUnavailable(w, notReadyDescription)
			return
		}
		h(w, r, st)
	})
}

// allowMethods passes on requests whose method is one of methods and answers
// the others 405 with Allow: allow, naming the first method ("use GET").
// CORS preflights never get here: withCORS answers them.
func allowMethods(allow string, methods ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !slices.Contains(methods, r.Method) {
				w.Header().Set("Allow", allow)
				writeJSONError(w, http.StatusMethodNotAllowed, "invalid_request", "use "+methods[0])
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
