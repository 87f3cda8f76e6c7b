package oauth

import (
	"slices"
	"strings"

	"github.com/mcp-obs/mcp-obs/internal/platform/web"
)

// parseScopes splits a scope parameter. RFC 6749 delimits scopes with spaces;
// some clients send commas, which are tolerated. Duplicates are dropped and
// the order of first appearance is kept. The parameter is the client's to
// choose and may be as long as a request line, so repeats are found with a
// set: comparing each scope with every earlier one would cost minutes of CPU
// for one long request.
func parseScopes(s string) []string {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' || r == '\n' || r == '\r' })
	var out []string
	seen := make(map[string]struct{}, len(fields))
	for _, f := range fields {
		if _, dup := seen[f]; !dup {
			seen[f] = struct{}{}
			out = append(out, f)
		}
	}
	return out
}

// joinScopes renders scopes the way RFC 6749 sends them: space-delimited.
func joinScopes(scopes []string) string { return strings.Join(scopes, " ") }

// subset reports whether every scope in want is in have.
func subset(want, have []string) bool {
	for _, s := range want {
		if !slices.Contains(have, s) {
			return false
		}
	}
	return true
}

// describeScope is the consent-page wording of one scope: friendly text for
// the conventional ones, "Access <scope>" for the rest.
func describeScope(s string) string {
	switch s {
	case "read":
		return "Read your data"
	case "write":
		return "Create, change and delete your data"
	case "admin":
		return "Administer your account, with full access"
	}
	return "Access " + s
}

// describeScopes is the consent page's list of what the client asks for.
func describeScopes(scopes []string) []web.Scope {
	out := make([]web.Scope, 0, len(scopes))
	for _, s := range scopes {
		out = append(out, web.Scope{Name: s, Description: describeScope(s)})
	}
	return out
}
