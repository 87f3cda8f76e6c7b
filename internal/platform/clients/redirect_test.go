package clients

import (
	"strings"
	"testing"
)

func TestValidateRedirectURI(t *testing.T) {
	tests := []struct {
		uri string
		ok  bool
	}{
		{"https://app.example/cb", true},
		{"https://app.example:8443/cb?x=1", true},
		{"https://claude.ai/api/mcp/auth_callback", true},
		{"http://localhost/cb", true},
		{"http://localhost:6274/oauth/callback", true},
		{"http://127.0.0.1:33418", true},
		{"http://[::1]:8080/cb", true},
		{"https://localhost/cb", true},
		{"cursor://anysphere.cursor-mcp/oauth/callback", true},
		{"com.example.app:/oauth2redirect", true},
		{"vscode://vscode.github-authentication/did-authenticate", true},
		{"myapp:callback", true},

		{"", false},
		{"http://evil.example/cb", false},
		{"http://localhost.evil.com/cb", false},
		{"http://127.0.0.1.nip.io/cb", false},
		{"http://127.0.0.2/cb", false},
		{"http://LOCALHOST/cb", false},
		{"http://[::1%25eth0]/cb", false},
		{"http://localhost@evil.example/cb", false},
		{"https://trusted.example@evil.example/cb", false},
		{"https://user:pass@app.example/cb", false},
		{"https://app.example/cb#frag", false},
		{"https://app.example/cb#", false},
		{"https:///cb", false},
		{"https:app.example/cb", false},
		{"/relative/cb", false},
		{"app.example/cb", false},
		{"https://app.example/c b", false},
		{"https://app.example/cb\n", false},
		{"javascript:alert(1)", false},
		{"JavaScript:alert(1)", false},
		{"data:text/html,<script>alert(1)</script>", false},
		{"file:///etc/passwd", false},
		{"vbscript:msgbox", false},
		{"about:blank", false},
		{"blob:https://app.example/uuid", false},
		{"myapp:", false},
		{"https://app.example/" + strings.Repeat("a", 2048), false},
	}
	for _, tt := range tests {
		err := ValidateRedirectURI(tt.uri)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateRedirectURI(%q) = %v, want ok=%v", tt.uri, err, tt.ok)
		}
	}
}

func TestRedirectURIAllowed(t *testing.T) {
	tests := []struct {
		name       string
		registered []string
		requested  string
		want       bool
	}{
		{"exact https", []string{"https://app.example/cb"}, "https://app.example/cb", true},
		{"exact among several", []string{"https://a.example/cb", "https://app.example/cb"}, "https://app.example/cb", true},
		{"exact private-use", []string{"cursor://anysphere.cursor-mcp/oauth/callback"}, "cursor://anysphere.cursor-mcp/oauth/callback", true},
		{"loopback ip any port", []string{"http://127.0.0.1/cb"}, "http://127.0.0.1:53682/cb", true},
		{"loopback registered with port, other port", []string{"http://127.0.0.1:3000/cb"}, "http://127.0.0.1:4000/cb", true},
		{"loopback port dropped", []string{"http://localhost:3000/cb"}, "http://localhost/cb", true},
		{"localhost any port", []string{"http://localhost/callback"}, "http://localhost:6274/callback", true},
		{"ipv6 loopback any port", []string{"http://[::1]/cb"}, "http://[::1]:8080/cb", true},
		{"loopback same query", []string{"http://127.0.0.1/cb?a=1"}, "http://127.0.0.1:9/cb?a=1", true},

		{"nothing registered", nil, "https://app.example/cb", false},
		{"https other path", []string{"https://app.example/cb"}, "https://app.example/cb2", false},
		{"https other port", []string{"https://app.example/cb"}, "https://app.example:8443/cb", false},
		{"https path case", []string{"https://app.example/CB"}, "https://app.example/cb", false},
		{"https host case", []string{"https://app.example/cb"}, "https://APP.example/cb", false},
		{"https added query", []string{"https://app.example/cb"}, "https://app.example/cb?x=1", false},
		{"https trailing slash", []string{"https://app.example/cb"}, "https://app.example/cb/", false},
		{"private-use other path", []string{"cursor://anysphere.cursor-mcp/oauth/callback"}, "cursor://anysphere.cursor-mcp/oauth/other", false},
		{"private-use with port", []string{"cursor://anysphere.cursor-mcp/oauth/callback"}, "cursor://anysphere.cursor-mcp:1/oauth/callback", false},
		{"private-use other host", []string{"cursor://anysphere.cursor-mcp/oauth/callback"}, "cursor://evil/oauth/callback", false},
		{"loopback other host name", []string{"http://localhost/cb"}, "http://127.0.0.1:8080/cb", false},
		{"loopback other ip spelling", []string{"http://127.0.0.1/cb"}, "http://[::1]:8080/cb", false},
		{"loopback other path", []string{"http://127.0.0.1/cb"}, "http://127.0.0.1:8080/other", false},
		{"loopback path case", []string{"http://127.0.0.1/cb"}, "http://127.0.0.1:8080/CB", false},
		{"loopback path escaped", []string{"http://127.0.0.1/a/b"}, "http://127.0.0.1:8080/a%2Fb", false},
		{"loopback other query", []string{"http://127.0.0.1/cb?a=1"}, "http://127.0.0.1:8080/cb?a=2", false},
		{"loopback added query", []string{"http://127.0.0.1/cb"}, "http://127.0.0.1:8080/cb?next=https://evil", false},
		{"loopback empty query", []string{"http://127.0.0.1/cb"}, "http://127.0.0.1:8080/cb?", false},
		{"loopback fragment", []string{"http://127.0.0.1/cb"}, "http://127.0.0.1:8080/cb#x", false},
		{"https registered, http requested", []string{"https://localhost/cb"}, "http://localhost:8080/cb", false},
		{"http registered, https requested", []string{"http://localhost/cb"}, "https://localhost:8080/cb", false},
		{"localhost suffix", []string{"http://localhost/cb"}, "http://localhost.evil.com/cb", false},
		{"localhost suffix with port", []string{"http://localhost/cb"}, "http://localhost.evil.com:80/cb", false},
		{"userinfo trick", []string{"http://localhost/cb"}, "http://localhost:80@evil.example/cb", false},
		{"userinfo on loopback", []string{"http://localhost/cb"}, "http://user@localhost:80/cb", false},
		{"userinfo spoofed host", []string{"http://127.0.0.1/cb"}, "http://127.0.0.1@evil.example:8080/cb", false},
		{"backslash trick", []string{"http://localhost/cb"}, `http://localhost:80\@evil.example/cb`, false},
		{"ipv6 zone", []string{"http://[::1]/cb"}, "http://[::1%25lo]:8080/cb", false},
		{"non-numeric port", []string{"http://localhost/cb"}, "http://localhost:abc/cb", false},
		{"remote http registered never widens", []string{"http://evil.example/cb"}, "http://evil.example:8080/cb", false},
	}
	for _, tt := range tests {
		if got := RedirectURIAllowed(tt.registered, tt.requested); got != tt.want {
			t.Errorf("%s: RedirectURIAllowed(%q, %q) = %v, want %v", tt.name, tt.registered, tt.requested, got, tt.want)
		}
	}
}

func TestIsLoopbackRedirect(t *testing.T) {
	for uri, want := range map[string]bool{
		"http://127.0.0.1:8080/cb":      true,
		"http://localhost/cb":           true,
		"http://[::1]/cb":               true,
		"https://localhost/cb":          false,
		"http://localhost.evil.com/cb":  false,
		"cursor://anysphere.cursor-mcp": false,
	} {
		if got := IsLoopbackRedirect(uri); got != want {
			t.Errorf("IsLoopbackRedirect(%q) = %v, want %v", uri, got, want)
		}
	}
}

// The consent page names the host a redirect URI sends the code to. A URI is
// ASCII (RFC 3986); a host with a right-to-left override or another invisible
// or look-alike character, raw or percent-encoded, would show the user a
// different host than the one receiving the code, so only visible ASCII is
// accepted, in the URI and in the host it decodes to.
func TestValidateRedirectURI_OnlyVisibleASCIISoTheConsentPageShowsTheRealHost(t *testing.T) {
	for _, uri := range []string{
		"https://\u202eelgoog.com/cb",
		"https://%E2%80%AEelgoog.com/cb",
		"https://%C3%A9xample.example/cb",
		"https://exämple.example/cb",
		"https://app.example/cb\u2028",
		"https://app.example/cb\u0085",
		"https://app.example/\u00a0cb",
		"cursor://anysphere.cursor-mcp/callback\u200b",
		"http://localhost/cb\x7f",
	} {
		if err := ValidateRedirectURI(uri); err == nil {
			t.Errorf("ValidateRedirectURI(%q) accepted it", uri)
		}
	}
	for _, uri := range []string{"https://app.example/caf%C3%A9", "https://xn--exmple-cua.example/cb"} {
		if err := ValidateRedirectURI(uri); err != nil {
			t.Errorf("ValidateRedirectURI(%q) = %v: percent-encoded paths and punycode hosts are plain ASCII", uri, err)
		}
	}
}

// A loopback redirect may differ from the registered one in its port only:
// the rest is compared as written, with no case folding of the scheme and no
// re-escaping of the path (RFC 8252 §7.3 and the exact matching of OAuth 2.1).
func TestRedirectURIAllowed_LoopbackComparesTheURIAsWrittenButThePort(t *testing.T) {
	tests := []struct {
		registered, requested string
		want                  bool
	}{
		{"http://127.0.0.1/cb", "HTTP://127.0.0.1:8080/cb", false},
		{"HTTP://127.0.0.1/cb", "http://127.0.0.1:8080/cb", false},
		{"HTTP://127.0.0.1/cb", "HTTP://127.0.0.1:8080/cb", true},
		{"http://127.0.0.1/a%22b", `http://127.0.0.1:5/a"b`, false},
		{`http://127.0.0.1/a"b`, "http://127.0.0.1:5/a%22b", false},
		{"http://127.0.0.1/a%2fb", "http://127.0.0.1:5/a%2Fb", false},
		{"http://127.0.0.1/caf%C3%A9", "http://127.0.0.1:5/caf%C3%A9", true},
		{"http://[::1]:1/cb?x=%41", "http://[::1]:2/cb?x=A", false},
		{"http://localhost:/cb", "http://localhost:7/cb", true},
	}
	for _, tt := range tests {
		if got := RedirectURIAllowed([]string{tt.registered}, tt.requested); got != tt.want {
			t.Errorf("RedirectURIAllowed([%q], %q) = %v, want %v", tt.registered, tt.requested, got, tt.want)
		}
	}
}
