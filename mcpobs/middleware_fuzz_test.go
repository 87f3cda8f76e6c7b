package mcpobs

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"golang.org/x/net/http/httpguts"
)

// rfc6750Credentials is an RFC 6750 §2.1 Authorization header: the Bearer
// scheme (case-insensitive), spaces, a b64token.
var rfc6750Credentials = regexp.MustCompile(`^(?i:bearer) +([A-Za-z0-9\-._~+/]+=*)$`)

// FuzzBearerToken checks the reading of the Authorization header (bearerToken).
// A token it returns is never empty and holds no whitespace, and comes only
// from the Bearer scheme, in any ASCII case; every RFC 6750 header is read,
// with its token. And it reads every header exactly as the official SDK's
// auth.RequireBearerToken does, which the middleware hands the request to
// after its own check: were they to differ, one token would be checked and
// another one reach the MCP server.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{
		"Bearer abc", "bearer abc", "BEARER abc", "bEaReR abc", "Bearer  abc", "Bearer", "Bearer ", "Bearer a b",
		"Basic abc", "Bearerabc", " Bearer abc ", "Bearer\tabc", "Bearer\u00a0abc", "Bearer abc\u2028", "Beärer x",
		"Bearer mcpobs_at_abc-DEF_123", "Bearer a+/b==", "Bearer\u0085x", "Bearer x\u3000", "Bearer \xff\xfe",
		"Bearer, abc", "Bearer abc, Basic def", "DPoP abc", "Bearer=abc", "", "  ", "\u212aearer abc",
	} {
		f.Add(s)
	}
	var sdkToken string
	var sdkPassed bool
	official := auth.RequireBearerToken(func(_ context.Context, token string, _ *http.Request) (*auth.TokenInfo, error) {
		sdkToken = token
		return &auth.TokenInfo{Expiration: time.Now().Add(time.Hour)}, nil
	}, nil)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { sdkPassed = true }))
	f.Fuzz(func(t *testing.T, header string) {
		if !httpguts.ValidHeaderFieldValue(header) {
			return // net/http refuses such a header before any handler runs
		}
		r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
		r.Header.Set("Authorization", header)
		token, ok := bearerToken(r)

		sdkToken, sdkPassed = "", false
		official.ServeHTTP(httptest.NewRecorder(), r)
		if ok != sdkPassed || token != sdkToken {
			t.Fatalf("header %q: bearerToken = %q, %v but the official SDK reads %q, %v", header, token, ok, sdkToken, sdkPassed)
		}

		if m := rfc6750Credentials.FindStringSubmatch(header); m != nil && (!ok || token != m[1]) {
			t.Fatalf("header %q is RFC 6750 credentials for %q, bearerToken = %q, %v", header, m[1], token, ok)
		}
		if !ok {
			if token != "" {
				t.Fatalf("header %q: not ok but token %q", header, token)
			}
			return
		}
		if token == "" || strings.ContainsFunc(token, unicode.IsSpace) {
			t.Fatalf("header %q: token %q is empty or holds whitespace", header, token)
		}
		scheme := strings.TrimLeftFunc(header, unicode.IsSpace)
		if len(scheme) < 7 || !isBearerASCII(scheme[:6]) {
			t.Fatalf("header %q: read a token, but the scheme is not Bearer", header)
		}
		if next, _ := utf8.DecodeRuneInString(scheme[6:]); !unicode.IsSpace(next) {
			t.Fatalf("header %q: read a token, but nothing separates it from the scheme", header)
		}
		if !strings.HasSuffix(strings.TrimRightFunc(header, unicode.IsSpace), token) {
			t.Fatalf("header %q: token %q is not what follows the scheme", header, token)
		}
	})
}

// isBearerASCII reports whether s is "bearer" in any ASCII case.
func isBearerASCII(s string) bool {
	const want = "bearer"
	if len(s) != len(want) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != want[i] {
			return false
		}
	}
	return true
}
