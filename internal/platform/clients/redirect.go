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
//   - It is visible ASCII, as RFC 3986 URIs are (other characters are
//     percent-encoded), and so is the host it decodes to (punycode for
//     international names): the consent page shows that host, and a
//     right-to-left override or a look-alike character in it would show
//     the user another host than the one receiving the code.
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
	if strings.ContainsFunc(uri, notVisibleASCII) {
		return errors.New("must be visible ASCII: no spaces, control or non-ASCII characters (percent-encode them)")
	}
	u, err := url.Parse(uri)
	if err != nil {
		return fmt.Errorf("not a valid URI: %w", err)
	}
	if strings.ContainsFunc(u.Host, notVisibleASCII) {
		return errors.New("the host must be visible ASCII once decoded (use punycode for international names)")
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
// run time. The scheme and the loopback host must be spelled as registered
// (localhost does not match 127.0.0.1), and the path and query must be
// identical as written. Private-use schemes and https match only exactly.
func RedirectURIAllowed(registered []string, requested string) bool {
	for _, r := range registered {
		if r == requested {
			return true
		}
	}
	if ValidateRedirectURI(requested) != nil {
		return false
	}
	reqHead, reqRest, ok := cutLoopbackPort(requested)
	if !ok {
		return false
	}
	for _, r := range registered {
		if head, rest, ok := cutLoopbackPort(r); ok && head == reqHead && rest == reqRest {
			return true
		}
	}
	return false
}

// cutLoopbackPort splits an http loopback redirect URI, as written, into
// "scheme://host" and what follows the port (path and query), so that two
// URIs can be compared byte for byte but for the port. ok is false for any
// other URI.
func cutLoopbackPort(uri string) (head, rest string, ok bool) {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "http" || u.User != nil || !isLoopbackHost(u.Hostname()) {
		return "", "", false
	}
	scheme, after, _ := strings.Cut(uri, "://")
	authority := after
	if i := strings.IndexAny(after, "/?"); i >= 0 {
		authority, rest = after[:i], after[i:]
	}
	host := authority
	if i := strings.LastIndexByte(authority, ':'); i >= 0 && !strings.Contains(authority[i:], "]") {
		host = authority[:i]
	}
	return scheme + "://" + host, rest, true
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

// notVisibleASCII reports characters that have no place in a URI as sent:
// spaces, control characters and anything outside ASCII (RFC 3986 §2).
func notVisibleASCII(r rune) bool {
	return r <= ' ' || r >= 0x7f
}
