package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/mcp-obs/mcp-obs/internal/cliname"
	"github.com/mcp-obs/mcp-obs/internal/platform/servers"
	"github.com/mcp-obs/mcp-obs/internal/platform/users"
	"github.com/mcp-obs/mcp-obs/internal/scope"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// dbFlag registers the --db flag of an admin command.
func dbFlag(fs *flag.FlagSet) *string {
	return fs.String("db", defaultDB, "database: sqlite:PATH (it must exist: serve and demo create it) or postgres://user:pass@host/db")
}

// admin is what an admin command works with: the platform's services over
// the database --db names. Commands call the services, never the store.
type admin struct {
	store   store.Store
	servers *servers.Service
}

// openAdmin opens the (existing) database dsn names for an admin command.
func openAdmin(ctx context.Context, dsn string) (*admin, error) {
	st, _, err := openStore(ctx, dsn, existingDB)
	if err != nil {
		return nil, err
	}
	return &admin{store: st, servers: servers.New(servers.Options{Store: st})}, nil
}

// users is the end-user service, made when a command needs it (it spends a
// bcrypt hash on being made).
func (a *admin) users() *users.Service { return users.New(users.Options{Store: a.store}) }

// Close releases the database.
func (a *admin) Close() error { return a.store.Close() }

func runServer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"server: want create, list, update, rotate-secret or key"}
	}
	switch sub, rest := args[0], args[1:]; sub {
	case "create":
		return serverCreate(ctx, rest, stdout, stderr)
	case "list":
		return serverList(ctx, rest, stdout, stderr)
	case "update":
		return serverUpdate(ctx, rest, stdout, stderr)
	case "rotate-secret":
		return serverRotate(ctx, rest, stdout, stderr)
	case "key":
		return runServerKey(ctx, rest, stdout, stderr)
	default:
		return usageError{fmt.Sprintf("server: unknown subcommand %q (want create, list, update, rotate-secret or key)", sub)}
	}
}

func serverCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("server create", stderr)
	db := dbFlag(fs)
	asJSON := fs.Bool("json", false, "machine-readable output")
	slug := fs.String("slug", "", "the server's slug (DNS label), e.g. test")
	name := fs.String("name", "", "display name shown on sign-in pages (default: the slug)")
	resource := fs.String("resource-url", "", "canonical MCP endpoint URL, e.g. http://localhost:3006/mcp")
	scopes := fs.String("scopes", "read write", "space-separated scopes the server supports")
	signup := fs.Bool("allow-signup", false, "let end users create their own accounts")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *slug == "" || *resource == "" {
		return usageError{"server create: --slug and --resource-url are required"}
	}
	a, err := openAdmin(ctx, *db)
	if err != nil {
		return err
	}
	defer a.Close()
	srv, creds, err := a.servers.Create(ctx, servers.Spec{
		Slug: *slug, Name: *name, ResourceURL: *resource, Scopes: scope.Parse(*scopes), AllowSignup: *signup,
	})
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, map[string]any{"server": serverJSON(srv), "credentials": creds})
	}
	fmt.Fprintf(stdout, "Created server %q (%s), resource %s, scopes %q.\n\n", srv.Slug, srv.Name, srv.ResourceURL, strings.Join(srv.Scopes, " "))
	printCredentials(stdout, creds)
	return nil
}

// printCredentials shows new resource-server credentials as the shell line
// that hands them to an MCP server (the SDK reads them from the environment).
func printCredentials(w io.Writer, creds servers.Credentials) {
	fmt.Fprintf(w, "Resource-server credentials (shown once; paste this line into the shell that runs your MCP server):\n")
	fmt.Fprintf(w, "  %s\n", exportLine(creds))
}

// exportLine is the shell line that sets MCP_OBS_CLIENT_ID and
// MCP_OBS_CLIENT_SECRET to creds. Client ids and secrets are made of
// letters, digits, '-' and '_', so they need no quoting.
func exportLine(creds servers.Credentials) string {
	return "export MCP_OBS_CLIENT_ID=" + creds.ClientID + " MCP_OBS_CLIENT_SECRET=" + creds.ClientSecret
}

func serverList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("server list", stderr)
	db := dbFlag(fs)
	asJSON := fs.Bool("json", false, "machine-readable output")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	a, err := openAdmin(ctx, *db)
	if err != nil {
		return err
	}
	defer a.Close()
	list, err := a.servers.List(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		out := make([]map[string]any, 0, len(list))
		for _, s := range list {
			out = append(out, serverJSON(s))
		}
		return writeJSON(stdout, out)
	}
	if len(list) == 0 {
		fmt.Fprintf(stdout, "No servers yet. Create one with: %s server create --slug test --resource-url http://localhost:3006/mcp\n", cliname.Command)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SLUG\tNAME\tRESOURCE\tSCOPES\tCLIENT ID")
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Slug, s.Name, s.ResourceURL, strings.Join(s.Scopes, " "), s.ClientID)
	}
	return tw.Flush()
}

func serverUpdate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("server update", stderr)
	db := dbFlag(fs)
	asJSON := fs.Bool("json", false, "machine-readable output")
	slug := fs.String("slug", "", "the server's slug")
	name := fs.String("name", "", "new display name")
	resource := fs.String("resource-url", "", "new canonical MCP endpoint URL (tokens issued for the old one stop working)")
	scopes := fs.String("scopes", "", "new space-separated scopes")
	signup := fs.Bool("allow-signup", false, "let end users create their own accounts (--allow-signup=false to stop)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *slug == "" {
		return usageError{"server update: --slug is required"}
	}
	var change servers.Change
	changed := false
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "name", "resource-url", "scopes", "allow-signup":
			changed = true
		}
		switch f.Name {
		case "name":
			change.Name = name
		case "resource-url":
			change.ResourceURL = resource
		case "scopes":
			change.Scopes = scope.Parse(*scopes)
			if change.Scopes == nil {
				change.Scopes = []string{}
			}
		case "allow-signup":
			change.AllowSignup = signup
		}
	})
	if !changed {
		return usageError{"server update: nothing to change: give --name, --resource-url, --scopes or --allow-signup"}
	}
	a, err := openAdmin(ctx, *db)
	if err != nil {
		return err
	}
	defer a.Close()
	srv, err := a.servers.Update(ctx, *slug, change)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, serverJSON(srv))
	}
	fmt.Fprintf(stdout, "Updated server %q (%s): resource %s, scopes %q, sign-up %v.\n",
		srv.Slug, srv.Name, srv.ResourceURL, strings.Join(srv.Scopes, " "), srv.AllowSignup)
	return nil
}

func serverRotate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("server rotate-secret", stderr)
	db := dbFlag(fs)
	asJSON := fs.Bool("json", false, "machine-readable output")
	slug := fs.String("slug", "", "the server's slug")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *slug == "" {
		return usageError{"server rotate-secret: --slug is required"}
	}
	a, err := openAdmin(ctx, *db)
	if err != nil {
		return err
	}
	defer a.Close()
	creds, err := a.servers.RotateSecret(ctx, *slug)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, creds)
	}
	fmt.Fprintf(stdout, "Rotated the secret of %q; the old one no longer works.\n\n", *slug)
	printCredentials(stdout, creds)
	return nil
}

func runUser(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		return usageError{"user: want add"}
	}
	fs := newFlagSet("user add", stderr)
	db := dbFlag(fs)
	asJSON := fs.Bool("json", false, "machine-readable output")
	slug := fs.String("server", "", "slug of the server the account belongs to")
	email := fs.String("email", "", "the user's email")
	password := fs.String("password", "", "the user's password (prompted when absent)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *slug == "" || *email == "" {
		return usageError{"user add: --server and --email are required"}
	}
	a, err := openAdmin(ctx, *db)
	if err != nil {
		return err
	}
	defer a.Close()
	srv, err := a.servers.Get(ctx, *slug)
	if err != nil {
		return err
	}
	pw := *password
	if pw == "" {
		if pw, err = readPassword(stdin, stderr); err != nil {
			return err
		}
	}
	u, err := a.users().CreateUser(ctx, srv, *email, pw)
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("server %q already has an account for %s", *slug, *email)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, map[string]string{"id": u.ID, "server": srv.Slug, "email": u.Email})
	}
	fmt.Fprintf(stdout, "Added %s to %q (user id %s).\n", u.Email, srv.Slug, u.ID)
	return nil
}

// readPassword prompts without echo on a terminal, or reads one line otherwise.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		return string(b), nil
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("read password from standard input: %w (or pass --password)", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func serverJSON(s *store.Server) map[string]any {
	return map[string]any{
		"slug": s.Slug, "name": s.Name, "resource_url": s.ResourceURL, "scopes": s.Scopes,
		"allow_signup": s.AllowSignup, "client_id": s.ClientID, "created_at": s.CreatedAt,
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
