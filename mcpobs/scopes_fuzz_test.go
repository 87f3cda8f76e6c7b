package mcpobs

import (
	"slices"
	"strings"
	"testing"

	"github.com/mcp-obs/mcp-obs/internal/platform/servers"
	"github.com/mcp-obs/mcp-obs/internal/testkit"
)

// FuzzParseScopes checks the SDK's scope reading (of introspection answers,
// RequiredScopes and RequireToolScopes): no empty scope, no repeat, no
// delimiter inside a scope; parse(join(parse(s))) == parse(s); a list split
// with splitScopeList reads as the string does; and it equals the reading the
// platform's OAuth endpoints share (testkit.SplitScopes), so the SDK and the
// platform read every scope string alike, and servers.ParseScopes where that
// one is defined the same (no CR or LF).
func FuzzParseScopes(f *testing.F) {
	for _, s := range []string{
		"", "  , ,", "read write", "read,write", "read, write", "  read  ,,write ", "read\twrite\nadmin",
		"write read write", "b a c", "read", "https://api.example.com/read offline_access", "read\r\nwrite",
		"a\vb", "a\u00a0b", "a\u2028b", `"read"`, `re\ad`, "read\x00write", "\xff\xfe", strings.Repeat("s ", 50),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := parseScopes(s)
		if len(got) == 0 && got != nil {
			t.Fatalf("parseScopes(%q) is empty but not nil: no scopes has one representation", s)
		}
		for i, sc := range got {
			if sc == "" || strings.ContainsAny(sc, testkit.ScopeDelimiters) || slices.Contains(got[:i], sc) {
				t.Fatalf("parseScopes(%q) = %q: scope %q is empty, holds a delimiter or repeats", s, got, sc)
			}
		}
		if again := parseScopes(strings.Join(got, " ")); !slices.Equal(again, got) {
			t.Fatalf("round trip: parseScopes(%q) = %q, read again %q", s, got, again)
		}
		if ref := testkit.SplitScopes(s, nil); !slices.Equal(got, ref) {
			t.Fatalf("parseScopes(%q) = %q, the platform's reading gives %q", s, got, ref)
		}
		if !strings.ContainsAny(s, "\r\n") {
			if op := servers.ParseScopes(s); !slices.Equal(got, op) {
				t.Fatalf("parseScopes(%q) = %q but servers.ParseScopes = %q", s, got, op)
			}
		}
		half := len(s) / 2
		if list := splitScopeList([]string{s[:half], s[half:]}); !slices.Equal(list, parseScopes(s[:half]+" "+s[half:])) {
			t.Fatalf("splitScopeList(%q, %q) = %q", s[:half], s[half:], list)
		}
	})
}
