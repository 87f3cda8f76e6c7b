package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
)

// cli runs one command line and returns its output and error.
func cli(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestAdminCommands_CreateListRotateAddUser(t *testing.T) {
	db := freshDB(t)
	out, _, err := cli(t, "", "server", "create", "--db", db, "--json", "--slug", "test", "--name", "Test",
		"--resource-url", "http://localhost:3006/mcp", "--scopes", "read write")
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		Server      struct{ Slug, ClientID string } `json:"server"`
		Credentials struct {
			ClientID     string `json:"client_id"`
			ClientSecret string `json:"client_secret"`
		} `json:"credentials"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatalf("create --json: %v\n%s", err, out)
	}
	if created.Credentials.ClientID == "" || !strings.HasPrefix(created.Credentials.ClientSecret, "mcpobs_sk_") {
		t.Fatalf("create printed no credentials: %s", out)
	}

	out, _, err = cli(t, "", "server", "list", "--db", db, "--json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `"slug": "test"`) || strings.Contains(out, created.Credentials.ClientSecret) {
		t.Fatalf("list: want the server and never its secret, got %s", out)
	}

	out, _, err = cli(t, "", "server", "update", "--db", db, "--json", "--slug", "test", "--scopes", "read write admin", "--allow-signup")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `"admin"`) || !strings.Contains(out, `"allow_signup": true`) || !strings.Contains(out, `"resource_url": "http://localhost:3006/mcp"`) {
		t.Fatalf("update: want new scopes and sign-up, resource unchanged, got %s", out)
	}
	if _, _, err := cli(t, "", "server", "update", "--db", db, "--slug", "test"); err == nil || !strings.Contains(err.Error(), "nothing to change") {
		t.Fatalf("update without changes: err = %v", err)
	}

	out, _, err = cli(t, "", "server", "rotate-secret", "--db", db, "--slug", "test")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "MCP_OBS_CLIENT_SECRET=mcpobs_sk_") || strings.Contains(out, created.Credentials.ClientSecret) {
		t.Fatalf("rotate-secret: want a new secret, got %s", out)
	}

	// Password from standard input when --password is absent.
	out, _, err = cli(t, "s3cret-password\n", "user", "add", "--db", db, "--server", "test", "--email", "User@Example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "user@example.com") {
		t.Fatalf("user add: %s", out)
	}
	_, _, err = cli(t, "", "user", "add", "--db", db, "--server", "test", "--email", "user@example.com", "--password", "another-password")
	if err == nil || !strings.Contains(err.Error(), "already has an account") {
		t.Fatalf("duplicate user: err = %v", err)
	}
}

func TestAdminCommands_ClearErrors(t *testing.T) {
	db := freshDB(t)
	if _, _, err := cli(t, "", "server", "create", "--db", db, "--slug", "test", "--resource-url", "http://localhost:3006/mcp"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"duplicate slug", []string{"server", "create", "--db", db, "--slug", "test", "--resource-url", "http://localhost:3006/mcp"}, `server "test" already exists`},
		{"invalid slug", []string{"server", "create", "--db", db, "--slug", "Not_A_Label", "--resource-url", "http://localhost:3006/mcp"}, "must be a DNS label"},
		{"reserved slug", []string{"server", "create", "--db", db, "--slug", "api", "--resource-url", "http://localhost:3006/mcp"}, "reserved"},
		{"unknown slug", []string{"user", "add", "--db", db, "--server", "nope", "--email", "a@b.c", "--password", "password123"}, `no server with slug "nope"`},
		{"unknown slug rotate", []string{"server", "rotate-secret", "--db", db, "--slug", "nope"}, `no server with slug "nope"`},
		{"unwritable database", []string{"server", "list", "--db", "sqlite:/proc/mcp-obs-forbidden/db.sqlite"}, "/proc/mcp-obs-forbidden/db.sqlite"},
		{"unreachable postgres", []string{"server", "list", "--db", "postgres://u:pw@127.0.0.1:1/db?connect_timeout=5"}, "open database postgres://u:xxxxx@127.0.0.1:1/db"},
		{"missing flags", []string{"server", "create", "--db", db}, "--slug and --resource-url are required"},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
	}
	for _, tt := range tests {
		_, _, err := cli(t, "", tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want it to contain %q", tt.name, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "pw@") {
			t.Errorf("%s: error leaks the database password: %v", tt.name, err)
		}
	}
}

func TestServe_PortInUseNamesPortAndFlag(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	_, _, err = cli(t, "", "serve", "--addr", "127.0.0.1:"+port, "--db", "sqlite:"+filepath.Join(t.TempDir(), "db.sqlite"))
	if err == nil || !strings.Contains(err.Error(), "port "+port+" is already in use") || !strings.Contains(err.Error(), "--addr") {
		t.Fatalf("err = %v, want a one-line port-in-use message naming %s and --addr", err, port)
	}
}

func TestFlags_FromEnvironmentButCommandLineWins(t *testing.T) {
	t.Setenv("MCP_OBS_LOG_LEVEL", "loud")
	_, _, err := cli(t, "", "serve", "--db", "sqlite:"+filepath.Join(t.TempDir(), "db.sqlite"))
	var u usageError
	if !errors.As(err, &u) || !strings.Contains(err.Error(), "loud") {
		t.Fatalf("bad MCP_OBS_LOG_LEVEL: err = %v, want a usage error naming the value", err)
	}
	t.Setenv("MCP_OBS_BASE_URL", "not a url")
	_, _, err = cli(t, "", "serve", "--log-level", "info", "--db", "sqlite:"+filepath.Join(t.TempDir(), "db.sqlite"))
	if err == nil || !strings.Contains(err.Error(), "--base-url") {
		t.Fatalf("bad MCP_OBS_BASE_URL: err = %v", err)
	}
}

func TestRedactDSN_NeverShowsAPassword(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://app:s3cret@db.example:5432/mcp?sslmode=require", "postgres://app:xxxxx@db.example:5432/mcp?sslmode=require"},
		{"postgres://app@db.example/mcp", "postgres://app@db.example/mcp"},
		{"postgresql://db.example/mcp?user=app&password=s3cret", "postgresql://db.example/mcp?password=xxxxx&user=app"},
		{"sqlite:mcp-obs-data/mcp-obs.db", "sqlite:mcp-obs-data/mcp-obs.db"},
		{"mcp-obs-data/mcp-obs.db", "mcp-obs-data/mcp-obs.db"},
		{"postgres://app:s3cret@db.example:bad port/mcp", "(database URL hidden: it could not be parsed and may hold a password)"},
	}
	for _, tt := range tests {
		got := redactDSN(tt.in)
		if got != tt.want || strings.Contains(got, "s3cret") {
			t.Errorf("redactDSN(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
