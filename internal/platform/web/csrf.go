package web

import (
	"crypto/subtle"
	"net/http"

	"github.com/mcp-obs/mcp-obs/internal/secret"
)

// CSRF protection is a double-submit cookie: the page sets a random value in
// an HttpOnly cookie and repeats it in a hidden form field; another site can
// make the browser send the cookie but cannot read it to fill in the field.
const (
	// CSRFCookieName is the cookie that holds the CSRF token.
	CSRFCookieName = "mcpobs_csrf"
	// CSRFFieldName is the hidden form field that repeats the CSRF token.
	CSRFFieldName = "csrf_token"
)

// wellFormedCSRF reports whether v looks like a token CSRFToken made (a
// secret.New("") value), so a cookie planted with an odd value is replaced
// rather than reused.
func wellFormedCSRF(v string) bool { return secret.WellFormed(v, "") }

// CSRFToken returns the CSRF token to embed as the hidden form field
// "csrf_token", setting the CSRF cookie (scoped to cookiePath) when absent.
//
// The cookie is HttpOnly and SameSite=Lax, and Secure when secure is true
// (the platform is served over https). cookiePath is the tenant path
// (endpoints.Base.TenantPath) so that tenants do not share tokens.
func CSRFToken(w http.ResponseWriter, r *http.Request, cookiePath string, secure bool) string {
	for _, c := range r.CookiesNamed(CSRFCookieName) {
		if wellFormedCSRF(c.Value) {
			return c.Value
		}
	}
	tok := secret.New("")
	http.SetCookie(w, &http.Cookie{
		Name:     CSRFCookieName,
		Value:    tok,
		Path:     cookiePath,
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteLaxMode,
	})
	return tok
}

// CSRFValid reports whether a parsed POST form's "csrf_token" matches the
// request's CSRF cookie, compared in constant time. Missing either is invalid.
//
// Only the request body counts, never the URL query, where a token would leak
// into logs. When the browser sends several CSRF cookies (from different
// paths) a match with any of them is enough.
func CSRFValid(r *http.Request) bool {
	field := r.PostFormValue(CSRFFieldName)
	if field == "" {
		return false
	}
	ok := false
	for _, c := range r.CookiesNamed(CSRFCookieName) {
		if c.Value != "" && subtle.ConstantTimeCompare([]byte(c.Value), []byte(field)) == 1 {
			ok = true
		}
	}
	return ok
}
