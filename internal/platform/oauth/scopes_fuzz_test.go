package oauth

import (
	"slices"
	"strings"
	"testing"

	"github.com/mcp-obs/mcp-obs/internal/platform/servers"
	"github.com/mcp-obs/mcp-obs/internal/testkit"
)

// scopeSeeds are the scope strings of the package's tests plus tricky ones:
// every delimiter, repeats, quotes, non-ASCII spaces and invalid UTF-8.
var scopeSeeds = []string{
	"", "read", "read write", "read,write", "read, write", "  read   write  ", "read write read",
	"read write admin", "https://api.example.com/read offline_access", "read\twrite\nadmin\r",
	",,,", " , ", "a\vb", "a\fb", "a\u00a0b", "a\u2028b", "a\u3000b", "\"read\"", `re\ad`,
	"read\x00write", "\xff\xfe", "read \xffwrite", "openid profile email", strings.Repeat("s ", 50),
}

// FuzzParseScopes checks the authorization endpoint's and the refresh grant's
// scope reading: no empty scope, no repeat, no delimiter inside a scope; a
// parsed list joined and parsed again is the same list (what the platform
// stores is what it reads back); it equals the reference reading shared with
// the SDK (testkit.SplitScopes), so both sides of introspection read a scope
// string alike; and it agrees with servers.ParseScopes, the operator's
// --scopes reading, wherever that one is defined the same (no CR or LF).
func FuzzParseScopes(f *testing.F) {
	for _, s := range scopeSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := parseScopes(s)
		for i, sc := range got {
			if sc == "" {
				t.Fatalf("parseScopes(%q) has an empty scope: %q", s, got)
			}
			if strings.ContainsAny(sc, testkit.ScopeDelimiters) {
				t.Fatalf("parseScopes(%q) has a delimiter inside scope %q", s, sc)
			}
			if slices.Contains(got[:i], sc) {
				t.Fatalf("parseScopes(%q) repeats %q: %q", s, sc, got)
			}
		}
		if again := parseScopes(joinScopes(got)); !slices.Equal(again, got) {
			t.Fatalf("round trip: parseScopes(%q) = %q, but parsing its join %q gives %q", s, got, joinScopes(got), again)
		}
		if ref := testkit.SplitScopes(s, nil); !slices.Equal(got, ref) {
			t.Fatalf("parseScopes(%q) = %q, reference reading %q", s, got, ref)
		}
		if !strings.ContainsAny(s, "\r\n") {
			if op := servers.ParseScopes(s); !slices.Equal(got, op) {
				t.Fatalf("parseScopes(%q) = %q but servers.ParseScopes = %q", s, got, op)
			}
		}
		if !subset(got, got) || (len(got) > 0 && subset(append(slices.Clone(got), "\x00not-a-scope"), got)) {
			t.Fatalf("subset is wrong on %q", got)
		}
	})
}
