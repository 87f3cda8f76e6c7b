package web

import (
	"net/http"
)

// contentSecurityPolicy allows the page's own stylesheet and images and
// nothing else. It deliberately has no form-action directive: the consent
// form's POST is answered with a redirect to the OAuth client's redirect URI
// (another origin, or a private-use scheme such as cursor://), and browsers
// apply form-action to that redirect too, which would break every sign-in.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'"

// setSecurityHeaders sets the headers every HTML answer carries.
func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

// SecurityHeaders wraps h so that every response carries the platform's
// security headers: a strict Content-Security-Policy with frame-ancestors
// 'none', X-Frame-Options DENY, X-Content-Type-Options nosniff and
// Referrer-Policy no-referrer.
//
// It also sets Cache-Control: no-store, because the pages it wraps show who is
// signed in and carry CSRF tokens; a handler that serves something cacheable
// overrides it with its own Cache-Control.
func SecurityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w.Header())
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// CrossOriginProtection wraps h with net/http's [http.CrossOriginProtection]:
// state-changing requests (POST and the like) that a browser marks as coming
// from another origin (Sec-Fetch-Site, or an Origin that does not match Host)
// are refused with a 403 error page before h runs. It backs up the CSRF token
// of [CSRFToken] on every HTML form.
//
// Use it only on the platform's own pages (sign-in, sign-up, consent). It must
// not wrap endpoints that browsers call cross-origin on purpose, such as the
// token, registration or revocation endpoints used by browser-based MCP clients.
func CrossOriginProtection(h http.Handler) http.Handler {
	p := http.NewCrossOriginProtection()
	p.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		RenderError(w, http.StatusForbidden, "Request refused",
			"This form was sent from another site. Go back to the page you started from and try again.")
	}))
	return p.Handler(h)
}
