package clients

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// maxURILength bounds every URI a client registers or publishes. Browsers and
// proxies handle far longer URLs, but nothing legitimate needs more, and the
// bound keeps stored rows and consent pages small.
const maxURILength = 2048

// ValidateRedirectURI checks a redirect URI offered at registration: absolute,
// no fragment; https, or http on a loopback host, or a private-use scheme
// (reverse-domain, e.g. cursor://anysphere.cursor-mcp/oauth/callback).
//
// The rules, following OAuth 2.1 and RFC 8252 (OAuth for native apps):
//   - The URI is absolute, at most 2048 bytes, and has neither a fragment
//     (RFC 6749 §3.1.2) nor user information (which only serves to disguise
//     the real host, as in https://trusted.example@evil.example/).
//   - https needs a host.
//   - http is allowed only on a loopback host spelled exactly 127.0.0.1,
//     [::1] or localhost (RFC 8252 §7.3 and §8.3): the redirect never leaves
//     the user's machine. http://evil.example/cb is refused.
//   - Any other scheme is taken as a private-use scheme of a native app
//     (RFC 8252 §7.1) and allowed, except schemes a browser would run or
//     resolve itself rather than hand to an app: javascript, data, file,
//     vbscript, about, blob, filesystem, view-source, ftp, ws and wss.
//     RFC 8252 asks for reverse-domain names such as com.example.app, but
//     deployed MCP clients register schemes without a dot (vscode://,
//     claude://), so a dot is not required. Private-use redirects are only
//     ever matched exactly, see [RedirectURIAllowed]. The scheme characters
//     themselves are checked by net/url (RFC 3986 §3.1).
func ValidateRedirectURI(uri string) error {
	if uri == "" {
		return errors.New("empty redirect URI")
	}
	if len(uri) > maxURILength {
		return fmt.Errorf("longer than %d bytes", maxURILength)
	}
	if strings.Contains(uri, "#") {
		return errors.New("must not contain a fragment")
	}
	if strings.ContainsFunc(uri, isSpaceOrControl) {
		return errors.New("must not contain spaces or control characters")
	}
	u, err := url.Parse(uri)
	if err != nil {
		return fmt.Errorf("not a valid URI: %w", err)
	}
	if u.Scheme == "" {
		return errors.New("must be an absolute URI")
	}
	if u.User != nil {
		return errors.New("must not contain user information")
	}
	switch u.Scheme {
	case "https":
		if u.Opaque != "" || u.Hostname() == "" {
			return errors.New("https redirect URI needs a host")
		}
		return nil
	case "http":
		if u.Opaque != "" || !isLoopbackHost(u.Hostname()) {
			return errors.New("http is allowed only for loopback redirects (127.0.0.1, [::1] or localhost); use https")
		}
		return nil
	}
	if forbiddenScheme(u.Scheme) {
		return fmt.Errorf("scheme %q is not allowed for redirects", u.Scheme)
	}
	if u.Opaque == "" && u.Host == "" && u.Path == "" {
		return errors.New("private-use scheme redirect URI needs a path")
	}
	return nil
}

// RedirectURIAllowed reports whether requested may be used with a client that
// registered the given redirect URIs: an exact match, or a loopback redirect
// (127.0.0.1, [::1], localhost over http) equal but for the port (RFC 8252 §7.3).
//
// Comparison is by exact string, never case-folded or normalised, except that a
// loopback redirect may carry any port: native apps bind an ephemeral port at
// run time. The loopback host must be spelled as registered (localhost does not
// match 127.0.0.1), and the path and query must be identical. Private-use
// schemes and https match only exactly.
func RedirectURIAllowed(registered []string, requested string) bool {
	for _, r := range registered {
		if r == requested {
			return true
		}
	}
	if ValidateRedirectURI(requested) != nil {
		return false
	}
	req, err := url.Parse(requested)
	if err != nil || req.Scheme != "http" || !isLoopbackHost(req.Hostname()) {
		return false
	}
	for _, r := range registered {
		reg, err := url.Parse(r)
		if err != nil || reg.Scheme != "http" || reg.User != nil || !isLoopbackHost(reg.Hostname()) {
			continue
		}
		if reg.Hostname() == req.Hostname() &&
			reg.EscapedPath() == req.EscapedPath() &&
			reg.RawQuery == req.RawQuery &&
			reg.ForceQuery == req.ForceQuery {
			return true
		}
	}
	return false
}

// IsLoopbackRedirect reports whether uri is an http redirect to this machine,
// so the consent page can warn that the app receiving the code runs locally.
func IsLoopbackRedirect(uri string) bool {
	u, err := url.Parse(uri)
	return err == nil && u.Scheme == "http" && isLoopbackHost(u.Hostname())
}

// isLoopbackHost reports whether host (without brackets or port) is one of the
// loopback spellings RFC 8252 allows for http redirects.
func isLoopbackHost(host string) bool {
	return host == "127.0.0.1" || host == "::1" || host == "localhost"
}

// forbiddenScheme reports whether a non-http(s) scheme is one a browser handles
// itself, so that it cannot be an app's private-use scheme.
func forbiddenScheme(scheme string) bool {
	switch scheme {
	case "javascript", "data", "file", "vbscript", "about", "blob", "filesystem", "view-source", "ftp", "ws", "wss":
		return true
	}
	return false
}

// isSpaceOrControl reports characters that have no place in a URI as sent.
func isSpaceOrControl(r rune) bool {
	return r <= ' ' || r == 0x7f
}
