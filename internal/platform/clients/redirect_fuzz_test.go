package clients

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The redirect URI rules of ValidateRedirectURI and RedirectURIAllowed,
// written again as regular expressions over the URI as sent, so that the fuzz
// targets compare two independent readings of the documented rules.
var (
	// refScheme is an RFC 3986 scheme followed by its colon.
	refScheme = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.\-]*):`)
	// refLoopback is an http redirect to one of the three loopback spellings,
	// any port (or none), then the rest: scheme, host and rest are captured.
	refLoopback = regexp.MustCompile(`^((?i:http))://(127\.0\.0\.1|\[::1\]|localhost)(?::[0-9]*)?([/?].*)?$`)
	// refHTTPS captures the authority of an https URI; refPort is the port at
	// the end of an authority.
	refHTTPS = regexp.MustCompile(`^(?i:https)://([^/?]*)`)
	refPort  = regexp.MustCompile(`:[0-9]*$`)
	// The shapes every registrable redirect has: each must be accepted.
	wellFormed = []*regexp.Regexp{
		regexp.MustCompile(`^https://[a-z0-9]([a-z0-9.-]{0,60}[a-z0-9])?(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?(\?[A-Za-z0-9._~=&-]*)?$`),
		regexp.MustCompile(`^http://(127\.0\.0\.1|\[::1\]|localhost)(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?(\?[A-Za-z0-9._~=&-]*)?$`),
		regexp.MustCompile(`^[a-z][a-z0-9+.-]{0,30}:(//[a-z0-9.-]+)?/?[A-Za-z0-9._~-][A-Za-z0-9._~/-]*$`),
	}
)

// privateUseShape is the index of the private-use shape in wellFormed.
const privateUseShape = 2

// browserSchemes are the schemes a browser runs or resolves itself, never an
// app's private-use scheme.
var browserSchemes = []string{"javascript", "data", "file", "vbscript", "about", "blob", "filesystem", "view-source", "ftp", "ws", "wss"}

// checkRedirectRules fails t when ValidateRedirectURI's verdict on uri breaks
// the documented rules: an accepted URI is at most 2048 bytes of visible
// ASCII without fragment or user information; http only to a loopback host
// spelled 127.0.0.1, [::1] or localhost; https with a host; any other scheme
// not one a browser handles itself. And a URI of the usual shapes is accepted.
func checkRedirectRules(t *testing.T, uri string) {
	t.Helper()
	err := ValidateRedirectURI(uri)
	if err != nil {
		if len(uri) <= maxURILength {
			for i, re := range wellFormed {
				if !re.MatchString(uri) {
					continue
				}
				scheme := refScheme.FindStringSubmatch(uri)[1]
				if i == privateUseShape && (scheme == "http" || scheme == "https" || slices.Contains(browserSchemes, scheme)) {
					continue
				}
				{
					t.Fatalf("ValidateRedirectURI(%q) = %v, but it is a well-formed redirect URI", uri, err)
				}
			}
		}
		return
	}
	fail := func(why string) { t.Fatalf("ValidateRedirectURI(%q) accepted it, but %s", uri, why) }
	if len(uri) > maxURILength {
		fail("it is longer than 2048 bytes")
	}
	for i := 0; i < len(uri); i++ {
		if uri[i] <= ' ' || uri[i] >= 0x7f {
			fail("it has a byte that is not visible ASCII")
		}
	}
	if strings.Contains(uri, "#") {
		fail("it has a fragment")
	}
	m := refScheme.FindStringSubmatch(uri)
	if m == nil {
		fail("it has no scheme")
	}
	scheme := strings.ToLower(m[1])
	rest := uri[len(m[0]):]
	if authority, ok := strings.CutPrefix(rest, "//"); ok {
		if i := strings.IndexAny(authority, "/?"); i >= 0 {
			authority = authority[:i]
		}
		if strings.Contains(authority, "@") {
			fail("its authority has user information")
		}
	}
	switch {
	case scheme == "http":
		if !refLoopback.MatchString(uri) {
			fail("it is http to a host that is not a loopback spelling")
		}
	case scheme == "https":
		a := refHTTPS.FindStringSubmatch(uri)
		if a == nil || refPort.ReplaceAllString(a[1], "") == "" {
			fail("it is https without a host")
		}
	case slices.Contains(browserSchemes, scheme):
		fail("its scheme is one a browser handles itself")
	case rest == "":
		fail("it is a private-use scheme with nothing after it")
	}
	// What the consent page shows of it is as plain as the URI itself.
	if u, err := url.Parse(uri); err != nil || strings.ContainsFunc(u.Host, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
		fail("its host reads as something else on the consent page: " + u.Host)
	}
}

// refLoopbackSame reports whether a and b are http loopback redirects equal
// byte for byte but for the port.
func refLoopbackSame(a, b string) bool {
	ma, mb := refLoopback.FindStringSubmatch(a), refLoopback.FindStringSubmatch(b)
	return ma != nil && mb != nil && ma[1] == mb[1] && ma[2] == mb[2] && ma[3] == mb[3]
}

// redirectSeeds are the URIs of the package's tests plus tricky spellings.
var redirectSeeds = []string{
	"https://app.example/cb", "https://app.example:8443/cb?x=1", "https://claude.ai/api/mcp/auth_callback",
	"http://localhost/cb", "http://localhost:6274/oauth/callback", "http://127.0.0.1:33418", "http://[::1]:8080/cb",
	"https://localhost/cb", "cursor://anysphere.cursor-mcp/oauth/callback", "com.example.app:/oauth2redirect",
	"vscode://vscode.github-authentication/did-authenticate", "myapp:callback", "", "http://evil.example/cb",
	"http://localhost.evil.com/cb", "http://127.0.0.1.nip.io/cb", "http://127.0.0.2/cb", "http://LOCALHOST/cb",
	"http://[::1%25eth0]/cb", "http://localhost@evil.example/cb", "https://trusted.example@evil.example/cb",
	"https://user:pass@app.example/cb", "https://app.example/cb#frag", "https://app.example/cb#", "https:///cb",
	"https:app.example/cb", "/relative/cb", "app.example/cb", "https://app.example/c b", "https://app.example/cb\n",
	"javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,<script>alert(1)</script>", "file:///etc/passwd",
	"about:blank", "blob:https://app.example/uuid", "myapp:", "http://127.0.0.1/cb?a=1", "http://127.0.0.1:9/cb?",
	"http://127.0.0.1:8080/a%2Fb", `http://localhost:80\@evil.example/cb`, "http://localhost:abc/cb",
	"HTTP://127.0.0.1:5/cb", "HTTPS://APP.example/cb", "http://localhost:/cb", "http://127.0.0.1/a%22b", `http://127.0.0.1/a"b`,
	"https://\u202eelgoog.com/cb", "https://%E2%80%AEelgoog.com/cb", "https://exämple.example/cb", "https://app.example/\u2028",
	"https://:443/cb", "https://[::1]:8080/cb", "myapp://host@evil/cb", "ws://localhost/cb",
}

// FuzzRedirectURI checks ValidateRedirectURI on two URIs against the
// documented rules (checkRedirectRules), and RedirectURIAllowed on the
// second given the first (when valid, as every registered URI is) and two
// common registrations: the requested URI is allowed if and only if it is
// registered exactly, or it is a valid http loopback redirect equal to a
// registered one byte for byte but for the port. https and private-use
// schemes therefore match only exactly.
func FuzzRedirectURI(f *testing.F) {
	for i, s := range redirectSeeds {
		f.Add(s, redirectSeeds[(i*7+3)%len(redirectSeeds)])
		f.Add(s, s)
	}
	pairs := [][2]string{
		{"http://127.0.0.1/cb", "http://127.0.0.1:53682/cb"}, {"http://127.0.0.1:3000/cb", "http://127.0.0.1:4000/cb"},
		{"http://localhost:3000/cb", "http://localhost/cb"}, {"http://[::1]/cb", "http://[::1]:8080/cb"},
		{"http://127.0.0.1/cb?a=1", "http://127.0.0.1:9/cb?a=1"}, {"http://127.0.0.1/a/b", "http://127.0.0.1:8080/a%2Fb"},
		{"http://localhost/cb", "http://127.0.0.1:8080/cb"}, {"http://127.0.0.1/cb", "http://127.0.0.1:8080/cb?"},
		{"http://127.0.0.1/cb", "HTTP://127.0.0.1:8080/cb"}, {"http://127.0.0.1/a%22b", `http://127.0.0.1:5/a"b`},
		{"https://app.example/cb", "https://app.example:8443/cb"}, {"cursor://a.b/cb", "cursor://a.b:1/cb"},
	}
	for _, p := range pairs {
		f.Add(p[0], p[1])
	}
	common := []string{"http://localhost:6274/oauth/callback", "cursor://anysphere.cursor-mcp/oauth/callback"}
	f.Fuzz(func(t *testing.T, registered, requested string) {
		checkRedirectRules(t, registered)
		checkRedirectRules(t, requested)
		regs := slices.Clone(common)
		if ValidateRedirectURI(registered) == nil {
			regs = append(regs, registered)
		}
		got := RedirectURIAllowed(regs, requested)
		want := slices.Contains(regs, requested)
		if !want && ValidateRedirectURI(requested) == nil {
			for _, r := range regs {
				want = want || refLoopbackSame(r, requested)
			}
		}
		if got != want {
			t.Fatalf("RedirectURIAllowed(%q, %q) = %v, the documented rules say %v", regs, requested, got, want)
		}
	})
}
