package mcpobs

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// scopeWarnings returns the WARN lines of logs about scopes the tenant does
// not offer.
func scopeWarnings(logs string) []string {
	var out []string
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "level=WARN") && strings.Contains(line, "scopes_supported") {
			out = append(out, line)
		}
	}
	return out
}

// The fake tenant offers read, write and admin. A scope outside them can
// never be granted (authorize answers invalid_scope), so the operator hears
// about it at start-up, not from a user who cannot call a tool.
func TestInitialize_WarnsWhenANeededScopeIsNotOfferedByTheTenant(t *testing.T) {
	tests := []struct {
		name     string
		required []string
		tools    map[string][]string
		want     []string // in the one warning; nil means no warning
		notWant  []string
	}{
		{"all offered", []string{"read", "write"}, map[string][]string{"delete_all": {"admin"}}, nil, nil},
		{"required scope not offered", []string{"read", "billing"}, nil,
			[]string{"billing", "Config.RequiredScopes", "no MCP request can succeed", "tenant=test", `mcp-obs server update --slug test --scopes \"read write admin billing\"`},
			[]string{"delete_all"}},
		{"tool scope not offered", []string{"read"}, map[string][]string{"delete_all": {"admin"}, "export": {"export", "write"}},
			[]string{"export", "can never be called", "tenant=test", `mcp-obs server update --slug test --scopes \"read write admin export\"`},
			[]string{"delete_all", "RequiredScopes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startPlatformFake(t)
			ps := startProtectedUninitialized(t, p, okHandler(), func(c *Config) { c.RequiredScopes = tt.required })
			for tool, scopes := range tt.tools {
				ps.obs.RequireToolScopes(tool, scopes...)
			}
			if got := scopeWarnings(ps.logs.String()); len(got) != 0 {
				t.Fatalf("warned before the tenant's scopes were known:\n%s", got)
			}
			if err := ps.obs.Initialize(context.Background()); err != nil {
				t.Fatal(err)
			}
			got := scopeWarnings(ps.logs.String())
			if tt.want == nil {
				if len(got) != 0 {
					t.Fatalf("warned although every scope is offered:\n%s", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("got %d scope warnings, want 1:\n%s", len(got), ps.logs.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(got[0], w) {
					t.Errorf("the warning lacks %q:\n%s", w, got[0])
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(got[0], w) {
					t.Errorf("the warning mentions %q, which is not at fault:\n%s", w, got[0])
				}
			}
		})
	}
}

func TestRequireToolScopes_AfterInitializeWarnsWhenTheTenantDoesNotOfferTheScope(t *testing.T) {
	p := startPlatformFake(t)
	ps := startProtected(t, p, okHandler(), nil)
	ps.obs.RequireToolScopes("delete_all", "admin")
	if got := scopeWarnings(ps.logs.String()); len(got) != 0 {
		t.Fatalf("warned about an offered scope:\n%s", got)
	}
	ps.obs.RequireToolScopes("export", "export")
	got := scopeWarnings(ps.logs.String())
	if len(got) != 1 || !strings.Contains(got[0], "export") || !strings.Contains(got[0], "tenant=test") ||
		strings.Contains(got[0], "delete_all") {
		t.Fatalf("want one warning naming tool export and tenant test, got:\n%s", ps.logs.String())
	}
}

func TestAddTool_RequireScopesNotOfferedByTheTenantIsWarnedAtStartUp(t *testing.T) {
	p := startPlatformFake(t)
	ra := startServer(t, p, nil, func(srv *Server) {
		AddTool(srv, &mcp.Tool{Name: "export"}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, struct{}, error) {
			return &mcp.CallToolResult{}, struct{}{}, nil
		}, RequireScopes("export"))
	})
	waitHealthy(t, ra.base)
	deadline := time.Now().Add(10 * time.Second)
	for len(scopeWarnings(ra.logs.String())) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no warning about scope export:\n%s", ra.logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if w := scopeWarnings(ra.logs.String())[0]; !strings.Contains(w, "export") || !strings.Contains(w, "tenant=test") {
		t.Fatalf("the warning does not name the scope and tenant:\n%s", w)
	}
}
