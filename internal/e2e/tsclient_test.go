package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/e2e/npmcache"
)

// tsClientDir is the Node.js client, relative to this package.
const tsClientDir = "tsclient"

// tsClientOutput is the JSON line client.mjs prints.
type tsClientOutput struct {
	OK            bool     `json:"ok"`
	Error         string   `json:"error"`
	Steps         []string `json:"steps"`
	ClientID      string   `json:"client_id"`
	Authorization struct {
		Endpoint            string `json:"endpoint"`
		Scope               string `json:"scope"`
		Resource            string `json:"resource"`
		CodeChallengeMethod string `json:"code_challenge_method"`
		Iss                 string `json:"iss"`
	} `json:"authorization"`
	Token struct {
		TokenType       string `json:"token_type"`
		Scope           string `json:"scope"`
		HasRefreshToken bool   `json:"has_refresh_token"`
	} `json:"token"`
	Tools    []string      `json:"tools"`
	Whoami   *whoamiResult `json:"whoami"`
	Requests []struct {
		Method string `json:"method"`
		URL    string `json:"url"`
		Status int    `json:"status"`
	} `json:"requests"`
}

// TestTSClient_DiscoversRegistersSignsInAndCallsWhoami runs the official
// TypeScript SDK client (client.mjs under Node) against the platform and the
// SDK-protected MCP server: discovery → dynamic registration → sign-in and
// consent → token → tools/list → tools/call whoami, which must name the
// signed-in user.
func TestTSClient_DiscoversRegistersSignsInAndCallsWhoami(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: skipping the TypeScript SDK client test (install Node.js 18+ and npm to run it)")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm is not installed: skipping the TypeScript SDK client test (install npm to run it)")
	}
	modules := installTSClientModules(t, npm)

	h := startHarness(t)
	erin := h.addUser(t, "erin@example.com", "erin-password-1")

	// ES modules resolve packages from the script's own directory, not
	// NODE_PATH: run a copy of the script beside a link to the cached modules.
	run := t.TempDir()
	script, err := os.ReadFile(filepath.Join(tsClientDir, "client.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(run, "client.mjs"), script, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(modules, filepath.Join(run, "node_modules")); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "client.mjs")
	cmd.Dir = run
	cmd.Env = append(os.Environ(),
		"MCP_URL="+h.MCPURL,
		"E2E_EMAIL=erin@example.com",
		"E2E_PASSWORD=erin-password-1",
		"E2E_REDIRECT_URL="+callbackURL,
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	if stderr.Len() > 0 {
		t.Logf("client.mjs stderr:\n%s", stderr.String())
	}
	var out tsClientOutput
	line := bytes.TrimSpace(stdout.Bytes())
	if i := bytes.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:]
	}
	if err := json.Unmarshal(line, &out); err != nil {
		t.Fatalf("client.mjs (exit: %v) printed no JSON line: %v\nstdout: %s", runErr, err, stdout.String())
	}
	if runErr != nil || !out.OK {
		t.Fatalf("client.mjs failed (exit: %v): %s\nsteps: %v\nrequests: %+v", runErr, out.Error, out.Steps, out.Requests)
	}

	t.Logf("TypeScript client steps: %v", out.Steps)
	wantOrder := []string{
		"mcp:initialize:401",
		"discovery:protected-resource",
		"discovery:authorization-server",
		"registration",
		"signin",
		"consent",
		"callback",
		"token",
		"mcp:initialize",
		"mcp:tools/list",
		"mcp:tools/call",
	}
	if !isSubsequence(wantOrder, out.Steps) {
		t.Errorf("flow steps = %v\nwant in this order: %v", out.Steps, wantOrder)
	}
	if out.ClientID == "" {
		t.Error("no client_id: dynamic registration did not happen")
	}
	if want := h.Base.Authorize(tenantSlug); out.Authorization.Endpoint != want {
		t.Errorf("authorization endpoint = %q, want the platform's %q", out.Authorization.Endpoint, want)
	}
	if out.Authorization.Resource != h.MCPURL {
		t.Errorf("authorization request resource = %q, want %q", out.Authorization.Resource, h.MCPURL)
	}
	if out.Authorization.CodeChallengeMethod != "S256" {
		t.Errorf("code_challenge_method = %q, want S256", out.Authorization.CodeChallengeMethod)
	}
	if out.Authorization.Iss != h.Issuer() {
		t.Errorf("authorization response iss = %q, want %q (RFC 9207)", out.Authorization.Iss, h.Issuer())
	}
	if !strings.EqualFold(out.Token.TokenType, "bearer") {
		t.Errorf("token_type = %q, want Bearer", out.Token.TokenType)
	}
	if !sameSet(out.Tools, []string{"whoami", "echo", "admin_action"}) {
		t.Errorf("tools/list = %v, want whoami, echo, admin_action", out.Tools)
	}
	if out.Whoami == nil {
		t.Fatal("whoami returned no structured content")
	}
	if out.Whoami.Email != "erin@example.com" || out.Whoami.Subject != erin.ID {
		t.Errorf("whoami = %+v, want erin@example.com with subject %s", *out.Whoami, erin.ID)
	}
	if out.Whoami.ClientID != out.ClientID {
		t.Errorf("whoami client_id = %q, want the client the TypeScript SDK registered, %q", out.Whoami.ClientID, out.ClientID)
	}
	if !sameSet(out.Whoami.Scopes, requiredScopes) {
		t.Errorf("whoami scopes = %v, want %v", out.Whoami.Scopes, requiredScopes)
	}
}

// isSubsequence reports whether want appears in got in order, not
// necessarily next to each other.
func isSubsequence(want, got []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

// installTSClientModules installs the client's pinned npm packages with
// `npm ci` from the committed lockfile into the user cache directory (outside
// the work tree), once per lockfile content, and returns the node_modules
// folder. Installs go to a temporary folder renamed into place, so parallel
// test processes never see a half-installed tree.
func installTSClientModules(t *testing.T, npm string) string {
	t.Helper()
	modules, err := npmcache.Install(context.Background(), npm, tsClientDir, "node_modules", "@modelcontextprotocol/sdk/package.json")
	if err != nil {
		t.Fatal(err)
	}
	return modules
}
