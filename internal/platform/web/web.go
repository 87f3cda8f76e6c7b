// Package web holds what every HTML page and JSON answer of the platform
// shares: the page layout and templates, security headers, CSRF protection,
// JSON and OAuth error responses, and the client address used for throttling.
package web

import (
	"net/http"
)

// SecurityHeaders wraps h so that every response carries the platform's
// security headers: a strict Content-Security-Policy with frame-ancestors
// 'none', X-Frame-Options DENY, X-Content-Type-Options nosniff and
// Referrer-Policy no-referrer.
func SecurityHeaders(h http.Handler) http.Handler { panic("unimplemented") }

// WriteJSON writes v as JSON with the status code.
func WriteJSON(w http.ResponseWriter, status int, v any) { panic("unimplemented") }

// WriteOAuthError writes an RFC 6749 §5.2 error body
// {"error": code, "error_description": description} with Cache-Control: no-store.
func WriteOAuthError(w http.ResponseWriter, status int, code, description string) {
	panic("unimplemented")
}

// CSRFToken returns the CSRF token to embed as the hidden form field
// "csrf_token", setting the CSRF cookie (scoped to cookiePath) when absent.
func CSRFToken(w http.ResponseWriter, r *http.Request, cookiePath string, secure bool) string {
	panic("unimplemented")
}

// CSRFValid reports whether a parsed POST form's "csrf_token" matches the
// request's CSRF cookie, compared in constant time. Missing either is invalid.
func CSRFValid(r *http.Request) bool { panic("unimplemented") }

// ClientIP is the remote address of the request without the port. Forwarded
// headers are ignored: they are trivially forged.
func ClientIP(r *http.Request) string { panic("unimplemented") }

// RenderError renders a full HTML error page. It never redirects: it is what
// an authorization request with an invalid client or redirect URI gets.
func RenderError(w http.ResponseWriter, status int, title, message string) { panic("unimplemented") }

// Scope is one scope line on the consent page.
type Scope struct {
	Name        string
	Description string
}

// ConsentPage is what the consent screen shows and posts back.
type ConsentPage struct {
	ServerName   string
	ClientName   string
	ClientURI    string
	RedirectHost string // host (and port) of the redirect URI
	Loopback     bool   // redirect goes to this machine: show a warning
	UserEmail    string
	Scopes       []Scope
	Action       string            // form action (the authorize endpoint path)
	CSRFToken    string            // hidden field csrf_token
	Hidden       map[string]string // authorization request parameters, reposted as hidden fields
	SignOutURL   string
}

// RenderConsent renders the consent page. Its form POSTs to Action with the
// hidden fields, csrf_token, and a submit button named "decision" whose value is
// "approve" or "deny".
func RenderConsent(w http.ResponseWriter, p ConsentPage) { panic("unimplemented") }
