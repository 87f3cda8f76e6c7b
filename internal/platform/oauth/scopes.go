package oauth

// Scope strings are read, written and compared by the one scope rule of
// package scope, the SDK's too: scope.Parse, scope.Join, scope.Subset and
// scope.Missing.

import "github.com/mcp-obs/mcp-obs/internal/platform/web"

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
