package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/sync/errgroup"

	"github.com/mcp-obs/mcp-obs/internal/cliname"
	"github.com/mcp-obs/mcp-obs/internal/platform"
	"github.com/mcp-obs/mcp-obs/internal/platform/servers"
	"github.com/mcp-obs/mcp-obs/internal/platform/users"
	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/mcpobs"
)

// The demo tenant, as in the seed: slug "test", scopes read and write.
const (
	demoSlug       = "test"
	demoServerName = "Demo Server with OAuth"
)

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", stderr)
	platformAddr := fs.String("platform-addr", ":3000", "address of the platform")
	mcpAddr := fs.String("mcp-addr", ":3006", "address of the demo MCP server")
	dataDir := fs.String("data-dir", "mcp-obs-data", "folder of the SQLite database")
	email := fs.String("email", "demo@example.com", "email of the demo end user")
	password := fs.String("password", "demo-password", "password of the demo end user")
	logLevel := fs.String("log-level", "debug", "log level: debug, info, warn or error")
	limits := addLimitFlags(fs) // for both servers
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	logger, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	platformBase, err := resolveBase("", *platformAddr)
	if err != nil {
		return usageError{strings.ReplaceAll(err.Error(), "--addr", "--platform-addr")}
	}
	mcpBase, err := resolveBase("", *mcpAddr)
	if err != nil {
		return usageError{strings.ReplaceAll(err.Error(), "--addr", "--mcp-addr")}
	}
	resourceURL := string(mcpBase) + "/mcp"

	platformLn, err := listen(*platformAddr, "--platform-addr")
	if err != nil {
		return err
	}
	defer platformLn.Close()
	mcpLn, err := listen(*mcpAddr, "--mcp-addr")
	if err != nil {
		return err
	}
	defer mcpLn.Close()

	dbs, closeDatabases, err := openDatabases(ctx, "sqlite:"+filepath.Join(*dataDir, "mcp-obs.db"), createDB)
	if err != nil {
		return err
	}
	defer closeDatabases()
	st, tel, created := dbs.store, dbs.telemetry, dbs.created
	dbPath, _ := filepath.Abs(filepath.Join(*dataDir, "mcp-obs.db"))
	p := platform.New(platform.Config{Base: platformBase, Dev: true, Logger: logger.With("part", "platform"), Limits: *limits,
		Telemetry: tel}, st)
	creds, err := ensureDemoTenant(ctx, p, resourceURL, *email, *password)
	if err != nil {
		return err
	}

	app := mcpobs.NewServer(mcpobs.Options{
		Name:           demoServerName,
		Version:        "1.0.0",
		ServerSlug:     demoSlug,
		PlatformURL:    string(platformBase),
		ServerURL:      resourceURL,
		RequiredScopes: []string{"read", "write"},
		ClientID:       creds.ClientID,
		ClientSecret:   creds.ClientSecret,
		Debug:          *logLevel == "debug",
		Logger:         logger.With("part", "mcp-server"),
		Listener:       mcpLn,
		Limits: mcpobs.Limits{
			ReadHeaderTimeout: limits.ReadHeaderTimeout,
			BodyTimeout:       limits.BodyTimeout,
			IdleTimeout:       limits.IdleTimeout,
			MaxConns:          limits.MaxConns,
			MaxConnsPerAddr:   limits.MaxConnsPerAddr,
		},
	})
	addDemoTools(app)

	printBanner(stdout, banner{platformURL: string(platformBase), resourceURL: resourceURL, email: *email, password: *password,
		creds: creds, db: dbPath, newDB: created != ""})
	// The MCP server stops first and the platform after it, so the server's
	// last spans (flushed as it shuts down) still reach the platform.
	g, gctx := errgroup.WithContext(ctx)
	platformCtx, stopPlatform := context.WithCancel(context.WithoutCancel(gctx))
	defer stopPlatform()
	g.Go(func() error {
		err := p.Serve(platformCtx, platformLn)
		if err != nil && platformCtx.Err() == nil {
			return err // the platform failed on its own: stop the MCP server too
		}
		return nil
	})
	g.Go(func() error {
		defer stopPlatform()
		return app.Run(gctx)
	})
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// ensureDemoTenant makes sure the demo tenant and end user exist, with the
// tenant's resource URL matching this run, and returns fresh resource-server
// credentials (the secret is stored only as a hash, so each run rotates it).
// Every change goes through the platform's services.
func ensureDemoTenant(ctx context.Context, p *platform.Platform, resourceURL, email, password string) (servers.Credentials, error) {
	srv, err := p.Servers.Get(ctx, demoSlug)
	var creds servers.Credentials
	switch {
	case errors.Is(err, store.ErrNotFound):
		srv, creds, err = p.Servers.Create(ctx, servers.Spec{
			Slug: demoSlug, Name: demoServerName, ResourceURL: resourceURL, Scopes: []string{"read", "write"}, AllowSignup: true,
		})
		if err != nil {
			return creds, err
		}
	case err != nil:
		return creds, fmt.Errorf("look up demo server: %w", err)
	default:
		if srv.ResourceURL != resourceURL {
			if srv, err = p.Servers.Update(ctx, demoSlug, servers.Change{ResourceURL: &resourceURL}); err != nil {
				return creds, fmt.Errorf("update demo server resource URL: %w", err)
			}
		}
		if creds, err = p.Servers.RotateSecret(ctx, demoSlug); err != nil {
			return creds, err
		}
	}
	_, err = p.Users.CreateUser(ctx, srv, email, password)
	switch {
	case errors.Is(err, store.ErrConflict):
		return creds, checkDemoPassword(ctx, p.Users, srv, email, password)
	case err != nil:
		return creds, fmt.Errorf("create demo user %s: %w", email, err)
	}
	return creds, nil
}

// checkDemoPassword makes sure an existing demo user's password is the one
// the banner is about to print.
func checkDemoPassword(ctx context.Context, us *users.Service, srv *store.Server, email, password string) error {
	_, err := us.Authenticate(ctx, srv, email, password)
	switch {
	case errors.Is(err, users.ErrBadCredentials):
		return fmt.Errorf("demo user %s already exists in this --data-dir with another password: pass the --password it was created with, or use a new --data-dir", email)
	case err != nil:
		return fmt.Errorf("demo user %s: %w", email, err)
	}
	return nil
}

// demoEchoArgs are the arguments of echo_with_oauth.
type demoEchoArgs struct {
	Message string `json:"message,omitempty" jsonschema:"the message to echo back"`
}

// addDemoTools registers the tools of the demo server: the same two tools as
// examples/demo.
func addDemoTools(app *mcpobs.Server) {
	mcpobs.AddTool(app, &mcp.Tool{Name: "echo_with_oauth", Description: "Echo a message back; requires OAuth sign-in."},
		func(ctx context.Context, req *mcp.CallToolRequest, args demoEchoArgs) (*mcp.CallToolResult, any, error) {
			msg := args.Message
			if msg == "" {
				msg = "Hello from mcp-obs OAuth!"
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "OAuth Echo: " + msg}}}, nil, nil
		})
	mcpobs.AddTool(app, &mcp.Tool{Name: "get_server_info", Description: "Describe this server and the signed-in caller."},
		func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
			u := mcpobs.UserFromRequest(req)
			info := map[string]any{"server": demoServerName, "version": "1.0.0", "oauth": "mcp-obs"}
			if u != nil {
				info["user"] = map[string]any{"email": u.Email, "subject": u.Subject, "client_id": u.ClientID, "scopes": u.Scopes}
			}
			return nil, info, nil
		})
}

// banner is what the demo prints when it is ready.
type banner struct {
	platformURL, resourceURL string
	email, password          string
	creds                    servers.Credentials
	db                       string // absolute path of the SQLite database
	newDB                    bool   // created by this run
}

func printBanner(w io.Writer, b banner) {
	db := b.db + " (existing: the demo tenant and user are reused)"
	if b.newDB {
		db = b.db + " (created now)"
	}
	fmt.Fprintf(w, `
mcp-obs demo
  Platform:    %[1]s   (authorization server and sign-in pages)
  MCP server:  %[2]s   %[3]q, tenant %[4]q, scopes read write
  Sign in as:  %[5]s / %[6]s
  Database:    %[9]s

The demo server's resource-server credentials (new at every start; for introspecting by hand):
  %[8]s

Connect a client:
  Claude Code:    claude mcp add --transport http mcp-obs-demo %[2]s
  Cursor:         add to ~/.cursor/mcp.json  {"mcpServers": {"mcp-obs-demo": {"url": "%[2]s"}}}
  MCP Inspector:  npx @modelcontextprotocol/inspector   (Transport: Streamable HTTP, URL: %[2]s)

Try it:
  curl %[7]s/.well-known/oauth-protected-resource
  curl -i -X POST %[2]s -H 'Content-Type: application/json' -d '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'

Telemetry of the demo server's calls (after a client has called a tool):
  curl -u %[10]s:%[11]s '%[1]s/api/v1/servers/%[4]s/telemetry/summary'
  %[12]s stats --server %[4]s --db %[13]s

Press Ctrl-C to stop.

`, b.platformURL, b.resourceURL, demoServerName, demoSlug, b.email, b.password, strings.TrimSuffix(b.resourceURL, "/mcp"),
		exportLine(b.creds), db, b.creds.ClientID, b.creds.ClientSecret, cliname.Command, shellQuote("sqlite:"+b.db))
}

// shellQuote quotes s for a POSIX shell when it holds anything but
// letters, digits and the punctuation of paths.
func shellQuote(s string) string {
	safe := func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-:+=,@%", r)
	}
	if s != "" && strings.IndexFunc(s, func(r rune) bool { return !safe(r) }) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
