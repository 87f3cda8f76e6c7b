package scope_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/mcp-obs/mcp-obs/internal/scope"
	"github.com/mcp-obs/mcp-obs/internal/testkit"
)

// FuzzParseScopes checks the scope rule (the SDK's reading of introspection
// answers, RequiredScopes and RequireToolScopes): no empty scope, no repeat,
// no delimiter inside a scope; Parse(Join(Parse(s))) == Parse(s); a list read
// with ParseList reads as the string does; and it equals the reference
// reading (testkit.SplitScopes), so every reading of a scope string, the
// SDK's and the platform's, agrees with it.
func FuzzParseScopes(f *testing.F) {
	for _, s := range []string{
		"", "  , ,", "read write", "read,write", "read, write", "  read  ,,write ", "read\twrite\nadmin",
		"write read write", "b a c", "read", "https://api.example.com/read offline_access", "read\r\nwrite",
		"a\vb", "a\u00a0b", "a\u2028b", `"read"`, `re\ad`, "read\x00write", "\xff\xfe", strings.Repeat("s ", 50),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := scope.Parse(s)
		if len(got) == 0 && got != nil {
			t.Fatalf("Parse(%q) is empty but not nil: no scopes has one representation", s)
		}
		for i, sc := range got {
			if sc == "" || strings.ContainsAny(sc, testkit.ScopeDelimiters) || slices.Contains(got[:i], sc) {
				t.Fatalf("Parse(%q) = %q: scope %q is empty, holds a delimiter or repeats", s, got, sc)
			}
		}
		if again := scope.Parse(scope.Join(got)); !slices.Equal(again, got) {
			t.Fatalf("round trip: Parse(%q) = %q, read again %q", s, got, again)
		}
		if ref := testkit.SplitScopes(s, nil); !slices.Equal(got, ref) {
			t.Fatalf("Parse(%q) = %q, the platform's reading gives %q", s, got, ref)
		}
		half := len(s) / 2
		if list := scope.ParseList([]string{s[:half], s[half:]}); !slices.Equal(list, scope.Parse(s[:half]+" "+s[half:])) {
			t.Fatalf("ParseList(%q, %q) = %q", s[:half], s[half:], list)
		}
	})
}
