package oauth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcp-obs/mcp-obs/internal/secret"
)

// readTokenForm must accept and refuse exactly what parseForm does, and
// read the same token and client credentials.
func TestReadTokenForm_SameVerdictsAsParseForm(t *testing.T) {
	tok := secret.New(secret.PrefixAccessToken)
	tests := []struct {
		name, query, ctype, body string
	}{
		{"token", "", "application/x-www-form-urlencoded", "token=" + tok},
		{"charset", "", "application/x-www-form-urlencoded; charset=utf-8", "token=" + tok + "&token_type_hint=access_token"},
		{"other content type", "", "application/json", `{"token":"x"}`},
		{"escaped token", "", "application/x-www-form-urlencoded", "token=a%2Bb+c"},
		{"escaped key", "", "application/x-www-form-urlencoded", "to%6Ben=" + tok},
		{"two tokens", "", "application/x-www-form-urlencoded", "token=a&token=b"},
		{"empty token", "", "application/x-www-form-urlencoded", "token="},
		{"no token", "", "application/x-www-form-urlencoded", "x=1"},
		{"bad escape in token", "", "application/x-www-form-urlencoded", "token=%zz"},
		{"bad escape elsewhere", "", "application/x-www-form-urlencoded", "token=a&x=%4"},
		{"bad escape in key", "", "application/x-www-form-urlencoded", "%g1=a&token=b"},
		{"semicolon", "", "application/x-www-form-urlencoded", "token=a;b"},
		{"bad query", "a=%zz", "application/x-www-form-urlencoded", "token=a"},
		{"good query", "a=b", "application/x-www-form-urlencoded", "token=a"},
		{"client in form", "", "application/x-www-form-urlencoded", "token=a&client_id=c%20d&client_secret=s"},
		{"client twice", "", "application/x-www-form-urlencoded", "token=a&client_id=c&client_id=d"},
		{"empty pairs", "", "application/x-www-form-urlencoded", "&&token=a&&"},
		{"too large", "", "application/x-www-form-urlencoded", "token=a&x=" + strings.Repeat("y", maxFormBytes)},
		{"too many parameters", "", "application/x-www-form-urlencoded", "token=a" + strings.Repeat("&", maxFormParams)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := func() *http.Request {
				r := httptest.NewRequest(http.MethodPost, "/t/x/oauth/introspect?"+tt.query, strings.NewReader(tt.body))
				if tt.query == "" {
					r.URL.RawQuery = ""
				}
				r.Header.Set("Content-Type", tt.ctype)
				return r
			}
			old := req()
			oldErr := parseForm(httptest.NewRecorder(), old)
			got, err := readTokenForm(req())
			if (err != nil) != (oldErr != nil) {
				t.Fatalf("err = %v, parseForm's = %v", err, oldErr)
			}
			if err != nil {
				return
			}
			p := params{v: old.PostForm}
			raw := p.get("token")
			refused, oldRefused := got.tokens != 1 || got.tokenEmpty, raw == "" || p.dup != ""
			if got.tokens != len(old.PostForm["token"]) || refused != oldRefused {
				t.Fatalf("tokens %d refused %v, want %d %v", got.tokens, refused, len(old.PostForm["token"]), oldRefused)
			}
			if raw != "" && got.token != secret.Sum(raw) {
				t.Fatal("the token's hash differs")
			}
			for _, k := range []string{"client_id", "client_secret"} {
				if strings.Join(got.client[k], ",") != strings.Join(old.PostForm[k], ",") {
					t.Fatalf("%s = %q, want %q", k, got.client[k], old.PostForm[k])
				}
			}
		})
	}
}
