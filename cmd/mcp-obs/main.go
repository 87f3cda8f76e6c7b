// Command mcp-obs runs the mcp-obs platform and administers it. From a
// checkout of the repository it runs as `go run ./cmd/mcp-obs COMMAND`
// (installed with `go install ./cmd/mcp-obs`, as `mcp-obs COMMAND`):
//
//	serve                  run the platform (authorization server, sign-in pages, APIs)
//	demo                   run the platform and the demo MCP server together
//	server create|list|update|rotate-secret
//	user add
//	stats                  a server's calls, errors, latency and top tools, users and clients
//
// Every command reads its flags also from MCP_OBS_* environment variables
// (--base-url from MCP_OBS_BASE_URL, and so on); a flag given on the command
// line wins. The commands only parse flags, open the database and call the
// platform's services (package platform and its servers and users services).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/mcp-obs/mcp-obs/internal/cliname"
)

// usage is the help text; {cmd} stands for how the CLI is run.
var usage = strings.ReplaceAll(`mcp-obs: OAuth 2.1 and observability for MCP servers

Usage (from a checkout of the repository; once installed with go install ./cmd/mcp-obs, run mcp-obs instead):
  {cmd} serve  [--addr :3000] [--base-url URL] [--db sqlite:PATH] [--log-level info] [--dev]
               [--trusted-proxies CIDR,...]
  {cmd} demo   [--platform-addr :3000] [--mcp-addr :3006] [--data-dir ./mcp-obs-data]
  {cmd} server create --slug SLUG --resource-url URL [--name NAME] [--scopes "read write"] [--allow-signup]
  {cmd} server list
  {cmd} server update --slug SLUG [--name NAME] [--resource-url URL] [--scopes "..."] [--allow-signup=true|false]
  {cmd} server rotate-secret --slug SLUG
  {cmd} server key create --slug SLUG [--name NAME] [--platform-url URL]   (telemetry ingest key)
  {cmd} server key list --slug SLUG
  {cmd} server key revoke --slug SLUG --id ID
  {cmd} user add --server SLUG --email EMAIL [--password PASSWORD]
  {cmd} stats --server SLUG [--since 24h] [--top 5]

serve and demo create their SQLite database (./mcp-obs-data/mcp-obs.db by default);
the admin commands work on an existing one: run them in the same folder, or give --db.
Admin commands take --db and --json. Flags can also be set as MCP_OBS_<FLAG> environment
variables (e.g. MCP_OBS_BASE_URL). Run '{cmd} COMMAND -h' for a command's flags.
`, "{cmd}", cliname.Command)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	var u usageError
	if errors.As(err, &u) {
		fmt.Fprintf(os.Stderr, "mcp-obs: %v\n\n%s", err, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "mcp-obs: %v\n", err)
		os.Exit(1)
	}
}

// usageError is a mistake in how the command was called.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// run dispatches a command line. It is main without the process: tests call it.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{"no command given"}
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return runServe(ctx, rest, stderr)
	case "demo":
		return runDemo(ctx, rest, stdout, stderr)
	case "server":
		return runServer(ctx, rest, stdout, stderr)
	case "user":
		return runUser(ctx, rest, stdin, stdout, stderr)
	case "stats":
		return runStats(ctx, rest, stdout, stderr)
	case ingestWorkerCommand:
		return runIngestWorker(ctx, rest, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		return usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
}
