package main

import (
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/cliname"
)

// freePort returns a loopback port nobody listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// startDemo runs `mcp-obs demo` and returns its MCP URL once the demo server
// reports healthy (the SDK has set itself up with the platform).
func startDemo(t *testing.T, dataDir string) (mcpURL string, demo *background) {
	t.Helper()
	platformPort, mcpPort := freePort(t), freePort(t)
	demo = startCommand(t, "demo", "--platform-addr", "127.0.0.1:"+platformPort, "--mcp-addr", "127.0.0.1:"+mcpPort,
		"--data-dir", dataDir, "--log-level", "warn")
	demo.waitFor(t, demo.stdout, "Press Ctrl-C to stop.")
	origin := "http://localhost:" + mcpPort
	deadline := time.Now().Add(hangGuard)
	for {
		resp, err := http.Get(origin + "/health")
		if err == nil {
			var h struct{ Status string }
			json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
			if h.Status == "ok" {
				return origin + "/mcp", demo
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo MCP server never reported healthy: %v\n%s", err, demo.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDemo_StartsPlatformAndServerStopsCleanlyAndRerunsSafely(t *testing.T) {
	dataDir := t.TempDir()
	for run := 1; run <= 2; run++ {
		mcpURL, demo := startDemo(t, dataDir)
		stdout := demo.stdout
		// The banner says where the database is, and whether this run made it.
		dbLine := "Database:    " + filepath.Join(dataDir, "mcp-obs.db") + " (created now)"
		if run == 2 {
			dbLine = "Database:    " + filepath.Join(dataDir, "mcp-obs.db") + " (existing"
		}
		for _, want := range []string{mcpURL, "demo@example.com / demo-password", "claude mcp add --transport http", "MCP Inspector",
			"export MCP_OBS_CLIENT_ID=mcprs_test_", "MCP_OBS_CLIENT_SECRET=mcpobs_sk_", dbLine} {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("run %d: banner lacks %q:\n%s", run, want, stdout.String())
			}
		}
		resp, err := http.Get(strings.TrimSuffix(mcpURL, "/mcp") + "/.well-known/oauth-protected-resource")
		if err != nil {
			t.Fatal(err)
		}
		var prm struct {
			Resource             string   `json:"resource"`
			AuthorizationServers []string `json:"authorization_servers"`
		}
		json.NewDecoder(resp.Body).Decode(&prm)
		resp.Body.Close()
		if prm.Resource != mcpURL || len(prm.AuthorizationServers) != 1 || !strings.HasSuffix(prm.AuthorizationServers[0], "/t/test") {
			t.Errorf("run %d: protected-resource metadata = %+v, want resource %s and the test tenant's issuer", run, prm, mcpURL)
		}
		resp, err = http.Post(mcpURL, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer resource_metadata=") {
			t.Errorf("run %d: tools/list without a token = %d %q, want 401 with a Bearer challenge", run, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		checkBannerTelemetry(t, run, stdout.String())
		if err := demo.stop(t); err != nil {
			t.Fatalf("run %d: stopping the demo: %v", run, err)
		}
	}
}

// checkBannerTelemetry runs the banner's telemetry lines as printed: the
// curl of the summary with the printed credentials, and `stats`.
func checkBannerTelemetry(t *testing.T, run int, banner string) {
	t.Helper()
	curl := regexp.MustCompile(`(?m)^  curl -u ([^:\s]+):(\S+) '(http://\S+/api/v1/servers/test/telemetry/summary)'$`).FindStringSubmatch(banner)
	if curl == nil {
		t.Fatalf("run %d: banner lacks the curl of the telemetry summary:\n%s", run, banner)
	}
	req, _ := http.NewRequest(http.MethodGet, curl[3], nil)
	req.SetBasicAuth(curl[1], curl[2])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var sum struct {
		Calls *int64 `json:"calls"`
	}
	json.NewDecoder(resp.Body).Decode(&sum)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || sum.Calls == nil {
		t.Errorf("run %d: the banner's curl got %d, calls %v; want 200 and a summary", run, resp.StatusCode, sum.Calls)
	}
	stats := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(cliname.Command) + ` stats --server test --db (\S+)$`).FindStringSubmatch(banner)
	if stats == nil {
		t.Fatalf("run %d: banner lacks the stats command:\n%s", run, banner)
	}
	if out, _, err := cli(t, "", "stats", "--server", "test", "--db", stats[1]); err != nil || !strings.HasPrefix(out, `Server "test", last 24h`) {
		t.Errorf("run %d: the banner's stats command: %v\n%s", run, err, out)
	}
}
