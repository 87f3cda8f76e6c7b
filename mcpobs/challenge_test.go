package mcpobs

import (
	"testing"

	"golang.org/x/net/http/httpguts"
)

// Challenge values come partly from the platform (the tenant's default
// scopes) and from configuration. Whatever they hold, the WWW-Authenticate
// header stays a valid header value with well-formed quoted strings (RFC
// 9110 §5.5 and §5.6.4): quotes, backslashes and control characters are
// dropped, so nothing breaks out of a parameter or makes clients refuse the
// whole answer.
func TestBearerChallenge_ValuesCannotBreakTheHeader(t *testing.T) {
	for _, value := range []string{"read\x00write", "read\r\nX-Injected: 1", "re\"ad", `re\ad`, "read\x7f", "read\twrite \u202e"} {
		got := bearerChallenge("error", "invalid_token", "scope", value)
		if !httpguts.ValidHeaderFieldValue(got) || !rfc6750Challenge.MatchString(got) {
			t.Errorf("bearerChallenge(scope=%q) = %q: not a valid, well-formed header value", value, got)
		}
	}
	if got, want := bearerChallenge("scope", "read write", "resource_metadata", "http://x/y"), `Bearer scope="read write", resource_metadata="http://x/y"`; got != want {
		t.Errorf("bearerChallenge = %q, want %q", got, want)
	}
}
