package main

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-obs/mcp-obs/internal/platform/servers"
	"github.com/mcp-obs/mcp-obs/internal/secret"
)

// adminCommands are every admin command, each with the flags it needs but --db.
var adminCommands = [][]string{
	{"server", "create", "--slug", "test", "--resource-url", "http://localhost:3006/mcp"},
	{"server", "list"},
	{"server", "update", "--slug", "test", "--name", "Test"},
	{"server", "rotate-secret", "--slug", "test"},
	{"user", "add", "--server", "test", "--email", "a@example.com", "--password", "correct horse"},
}

// Run from another folder than serve, an admin command used to create an
// empty database there and answer as if the platform had no servers.
func TestAdminCommands_FromAFolderWithoutTheDatabaseRefuseNamingPathAndFlag(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, args := range adminCommands {
		t.Run(strings.Join(args[:2], " "), func(t *testing.T) {
			out, _, err := cli(t, "", args...)
			want := filepath.Join(dir, "mcp-obs-data", "mcp-obs.db")
			if err == nil {
				t.Fatalf("succeeded without a database: %s", out)
			}
			for _, part := range []string{want, "--db", "go run ./cmd/mcp-obs serve", "go run ./cmd/mcp-obs demo", dir} {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not name %q", err, part)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "mcp-obs-data")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the command created %s (%v)", filepath.Join(dir, "mcp-obs-data"), err)
			}
		})
	}
}

func TestAdminCommands_DBInAFolderThatDoesNotExistIsRefusedNotCreated(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "typo", "db.sqlite")
	for _, args := range adminCommands {
		_, _, err := cli(t, "", append(args, "--db", "sqlite:"+missing)...)
		if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "--db") {
			t.Errorf("%s: err = %v, want a refusal naming %s and --db", strings.Join(args[:2], " "), err, missing)
		}
	}
	if _, err := os.Stat(filepath.Dir(missing)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("an admin command created %s (%v)", filepath.Dir(missing), err)
	}
}

func TestServe_CreatesAMissingDatabaseAndLogsWhere(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new-folder", "mcp-obs.db")
	_, serve := startServe(t, "--db", "sqlite:"+path)
	if logs := serve.stderr.String(); !strings.Contains(logs, "created a new SQLite database") || !strings.Contains(logs, path) {
		t.Fatalf("serve logs do not say it created %s:\n%s", path, logs)
	}
	if err := serve.stop(t); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not created: %v", err)
	}
	_, again := startServe(t, "--db", "sqlite:"+path)
	if logs := again.stderr.String(); strings.Contains(logs, "created a new SQLite database") {
		t.Errorf("serve on an existing database says it created one:\n%s", logs)
	}
}

// The credentials lines are meant to be pasted into a shell: a real shell
// must end up with the very credentials the platform holds.
func TestServerCreateAndRotate_PrintAnExportLineAShellTakes(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh on this machine")
	}
	db := freshDB(t)
	for _, args := range [][]string{
		{"server", "create", "--db", db, "--slug", "test", "--resource-url", "http://localhost:3006/mcp"},
		{"server", "rotate-secret", "--db", db, "--slug", "test"},
	} {
		out, _, err := cli(t, "", args...)
		if err != nil {
			t.Fatal(err)
		}
		var line string
		for l := range strings.Lines(out) {
			if strings.HasPrefix(strings.TrimSpace(l), "export ") {
				line = strings.TrimSpace(l)
			}
		}
		if !strings.HasPrefix(line, "export MCP_OBS_CLIENT_ID=") || !strings.Contains(line, " MCP_OBS_CLIENT_SECRET=") {
			t.Fatalf("%s printed no export line:\n%s", args[1], out)
		}
		got, err := exec.Command(sh, "-c", line+`; printf '%s\n%s' "$MCP_OBS_CLIENT_ID" "$MCP_OBS_CLIENT_SECRET"`).Output()
		if err != nil {
			t.Fatalf("sh -c %q: %v", line, err)
		}
		id, sec, _ := strings.Cut(string(got), "\n")
		st, _, err := openStore(context.Background(), db, existingDB)
		if err != nil {
			t.Fatal(err)
		}
		srv, err := servers.New(servers.Options{Store: st}).Get(context.Background(), "test")
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		if id != srv.ClientID || !secret.Matches(sec, srv.ClientSecretHash) {
			t.Errorf("%s: the shell got %q and a secret the platform does not hold", args[1], id)
		}
	}
}

// --scopes is read by the scope rule every scope string is read by: spaces,
// tabs, line breaks and commas delimit. (Before, a line break was refused
// here, though the OAuth endpoints read it as a delimiter.)
func TestServerCreate_ScopesReadByTheScopeRule(t *testing.T) {
	db := freshDB(t)
	for slug, tt := range map[string]struct{ scopes, want string }{
		"lines":  {"read\nwrite", `"read write"`},
		"commas": {"read,write admin", `"read write admin"`},
		"crlf":   {" read\r\n write ", `"read write"`},
	} {
		out, _, err := cli(t, "", "server", "create", "--db", db, "--slug", slug, "--resource-url", "http://localhost:3006/mcp", "--scopes", tt.scopes)
		if err != nil || !strings.Contains(out, "scopes "+tt.want) {
			t.Errorf("--scopes %q: %v\n%s\nwant scopes %s", tt.scopes, err, out, tt.want)
		}
	}
}

// Messages that tell a person what to run name the command the way the
// README runs it.
func TestMessages_NameTheCommandAsGoRunFromACheckout(t *testing.T) {
	db := freshDB(t)
	usage, _, _ := cli(t, "", "help")
	list, _, _ := cli(t, "", "server", "list", "--db", db)
	cli(t, "", "server", "create", "--db", db, "--slug", "test", "--resource-url", "http://localhost:3006/mcp")
	_, _, dup := cli(t, "", "server", "create", "--db", db, "--slug", "test", "--resource-url", "http://localhost:3006/mcp")
	_, _, unknown := cli(t, "", "server", "rotate-secret", "--db", db, "--slug", "nope")
	_, flagHelp, _ := cli(t, "", "server", "create", "-h")
	for name, text := range map[string]string{
		"usage":          usage,
		"empty list":     list,
		"duplicate slug": dup.Error(),
		"unknown slug":   unknown.Error(),
		"flag help":      flagHelp,
	} {
		if !strings.Contains(text, "go run ./cmd/mcp-obs ") {
			t.Errorf("%s does not name `go run ./cmd/mcp-obs`:\n%s", name, text)
		}
		for l := range strings.Lines(text) {
			if strings.HasPrefix(strings.TrimSpace(l), "mcp-obs ") || strings.Contains(l, "`mcp-obs ") {
				t.Errorf("%s runs the bare command: %q", name, l)
			}
		}
	}
}
