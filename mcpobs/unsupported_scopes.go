package mcpobs

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/mcp-obs/mcp-obs/internal/scope"
)

// warnUnsupportedScopes logs a warning when the server needs a scope the
// tenant does not list in scopes_supported. The platform refuses to grant
// such a scope (authorize answers invalid_scope), so a required scope makes
// every request fail and a tool scope makes the tool uncallable: better said
// once at start-up than discovered by a user. required are the server-wide
// scopes to check (nil when only tools changed), tools the tool scopes.
//
// A tenant that announces no scopes_supported at all is not checked: there is
// nothing to compare with.
func (s *Integration) warnUnsupportedScopes(tc *tenantConfig, required []string, tools map[string][]string) {
	if len(tc.ScopesSupported) == 0 {
		return
	}
	var missing, why []string
	if m := scope.Missing(required, tc.ScopesSupported); len(m) > 0 {
		missing = scope.Union(missing, m)
		why = append(why, fmt.Sprintf("%s needs %s, so no MCP request can succeed", s.fields.of("RequiredScopes"), scope.Join(m)))
	}
	for _, tool := range slices.Sorted(maps.Keys(tools)) {
		if m := scope.Missing(tools[tool], tc.ScopesSupported); len(m) > 0 {
			missing = scope.Union(missing, m)
			why = append(why, fmt.Sprintf("tool %q needs %s, so it can never be called", tool, scope.Join(m)))
		}
	}
	if len(missing) == 0 {
		return
	}
	want := scope.Union(tc.ScopesSupported, missing)
	s.cfg.Logger.Warn(fmt.Sprintf("mcp-obs: the tenant %q does not offer %s (its scopes_supported are %s): the platform refuses to grant a scope it does not offer (invalid_scope); %s. Offer them (`%s server update --slug %s --scopes %q`, or --scopes at `%s server create`) or stop requiring them",
		s.cfg.ServerSlug, scope.Join(missing), scope.Join(tc.ScopesSupported), strings.Join(why, "; "),
		cli, s.cfg.ServerSlug, scope.Join(want), cli),
		"tenant", s.cfg.ServerSlug, "unsupported_scopes", missing, "scopes_supported", tc.ScopesSupported)
}
