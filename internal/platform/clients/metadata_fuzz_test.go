package clients

import (
	"slices"
	"strings"
	"testing"

	"github.com/mcp-obs/mcp-obs/internal/testkit"
)

// FuzzSupportedScopes checks the registration's scope reading
// (supportedScopes): it keeps only the server's scopes, each once, in the
// order the client gave them, and joined and read again they are the same.
// On every string it agrees with the reading the platform's OAuth endpoints
// and the SDK share (testkit.SplitScopes), filtered to the server's scopes:
// since the platform's scope readings became one (package scope), other
// Unicode spaces no longer split a registration's scope.
func FuzzSupportedScopes(f *testing.F) {
	for _, s := range []string{
		"", "read", "read write", "read,write", "write read write", "read admin openid profile", " , ,",
		"read\twrite\nadmin", "read\u00a0write", "read\u2028write", "read\vwrite", "files:read", "READ",
		"\"read\"", "read\x00", "\xffread", "https://api.example.com/read write",
	} {
		f.Add(s)
	}
	serverScopes := []string{"read", "write", "files:read", "https://api.example.com/read"}
	f.Fuzz(func(t *testing.T, scope string) {
		got := supportedScopes(serverScopes, scope)
		for i, s := range got {
			if !slices.Contains(serverScopes, s) || slices.Contains(got[:i], s) {
				t.Fatalf("supportedScopes(%q) = %q: %q is not the server's or repeated", scope, got, s)
			}
		}
		if again := supportedScopes(serverScopes, strings.Join(got, " ")); !slices.Equal(again, got) {
			t.Fatalf("supportedScopes(%q) = %q, but read again %q", scope, got, again)
		}
		onlyServers := func(in []string) []string {
			return slices.DeleteFunc(slices.Clone(in), func(s string) bool { return !slices.Contains(serverScopes, s) })
		}
		if ref := onlyServers(testkit.SplitScopes(scope, nil)); !slices.Equal(got, ref) {
			t.Fatalf("supportedScopes(%q) = %q, the shared reading gives %q", scope, got, ref)
		}
	})
}
