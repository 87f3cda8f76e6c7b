package account

import (
	"net/url"
	"strings"
)

// maxReturnTo bounds the length of an accepted return_to; authorization
// requests are long but not this long.
const maxReturnTo = 4096

// safeReturnTo returns raw if it is a safe place to send the browser after
// signing in to the tenant whose pages live under tenantPath, and "" otherwise.
//
// Safe means a path on this platform under the tenant's own prefix: no scheme
// or host, no protocol-relative "//", no backslashes (browsers read "/\" as
// "//"), no control characters (browsers drop tabs and newlines, which can
// turn "/\t/evil" into "//evil"), and no "." or ".." segments, plain or
// percent-encoded (checked on both the raw and the decoded path), that would climb out of the tenant's prefix. The query is
// left alone: an authorization request carries URLs in it.
func safeReturnTo(tenantPath, raw string) string {
	if raw == "" || len(raw) > maxReturnTo || !strings.HasPrefix(raw, tenantPath) {
		return ""
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c == 0x7f {
			return ""
		}
	}
	rawPath, _, _ := strings.Cut(raw, "?")
	rawPath, _, _ = strings.Cut(rawPath, "#")
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return ""
	}
	for _, p := range []string{rawPath, u.Path} {
		if !strings.HasPrefix(p, tenantPath) || strings.Contains(p, "//") || strings.Contains(p, `\`) {
			return ""
		}
		for seg := range strings.SplitSeq(p, "/") {
			if seg == "." || seg == ".." {
				return ""
			}
		}
	}
	return raw
}
