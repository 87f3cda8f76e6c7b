package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/cliname"
	"github.com/mcp-obs/mcp-obs/internal/platform/ingestkeys"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// ingestKeys is the ingest-key service over the admin database.
func (a *admin) ingestKeys() *ingestkeys.Service {
	return ingestkeys.New(ingestkeys.Options{Store: a.store})
}

// runServerKey runs `server key create|list|revoke`: the tenants' telemetry
// ingest keys, which any OpenTelemetry SDK sends to the platform's OTLP
// receiver as Authorization: Bearer <key>.
func runServerKey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"server key: want create, list or revoke"}
	}
	switch sub, rest := args[0], args[1:]; sub {
	case "create":
		return serverKeyCreate(ctx, rest, stdout, stderr)
	case "list":
		return serverKeyList(ctx, rest, stdout, stderr)
	case "revoke":
		return serverKeyRevoke(ctx, rest, stdout, stderr)
	default:
		return usageError{fmt.Sprintf("server key: unknown subcommand %q (want create, list or revoke)", sub)}
	}
}

func serverKeyCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("server key create", stderr)
	db := dbFlag(fs)
	asJSON := fs.Bool("json", false, "machine-readable output")
	slug := fs.String("slug", "", "the server the key sends telemetry for")
	name := fs.String("name", "", "what the key is for, shown by key list (e.g. ci, staging)")
	platformURL := fs.String("platform-url", "http://localhost:3000", "the platform's public base URL, for the printed OTEL_EXPORTER_OTLP_ENDPOINT")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *slug == "" {
		return usageError{"server key create: --slug is required"}
	}
	a, err := openAdmin(ctx, *db)
	if err != nil {
		return err
	}
	defer a.Close()
	k, value, err := a.ingestKeys().Create(ctx, *slug, *name)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, map[string]any{"key": keyJSON(k), "value": value, "endpoint": *platformURL})
	}
	fmt.Fprintf(stdout, "Created ingest key %s for %q. It is shown once: store it now.\n\n  %s\n\n", k.ID, *slug, value)
	fmt.Fprintf(stdout, "Any OpenTelemetry SDK sends to the platform with (OTLP/HTTP, protobuf or JSON):\n")
	fmt.Fprintf(stdout, "  export OTEL_EXPORTER_OTLP_ENDPOINT=%s\n", *platformURL)
	fmt.Fprintf(stdout, "  export OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf\n")
	fmt.Fprintf(stdout, "  export OTEL_EXPORTER_OTLP_HEADERS=\"Authorization=Bearer %s\"\n\n", value)
	fmt.Fprintf(stdout, "Revoke it with: %s server key revoke --slug %s --id %s\n", cliname.Command, *slug, k.ID)
	return nil
}

func serverKeyList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("server key list", stderr)
	db := dbFlag(fs)
	asJSON := fs.Bool("json", false, "machine-readable output")
	slug := fs.String("slug", "", "the server whose keys to list")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *slug == "" {
		return usageError{"server key list: --slug is required"}
	}
	a, err := openAdmin(ctx, *db)
	if err != nil {
		return err
	}
	defer a.Close()
	keys, err := a.ingestKeys().List(ctx, *slug)
	if err != nil {
		return err
	}
	if *asJSON {
		out := make([]map[string]any, 0, len(keys))
		for _, k := range keys {
			out = append(out, keyJSON(k))
		}
		return writeJSON(stdout, out)
	}
	if len(keys) == 0 {
		fmt.Fprintf(stdout, "%q has no ingest keys. Create one with: %s server key create --slug %s\n", *slug, cliname.Command, *slug)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tCREATED\tSTATUS")
	for _, k := range keys {
		st := "live"
		if !k.RevokedAt.IsZero() {
			st = "revoked " + k.RevokedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.ID, k.Name, k.CreatedAt.UTC().Format(time.RFC3339), st)
	}
	return tw.Flush()
}

func serverKeyRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("server key revoke", stderr)
	db := dbFlag(fs)
	slug := fs.String("slug", "", "the server the key belongs to")
	id := fs.String("id", "", "the key's id (see server key list)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *slug == "" || *id == "" {
		return usageError{"server key revoke: --slug and --id are required"}
	}
	a, err := openAdmin(ctx, *db)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.ingestKeys().Revoke(ctx, *slug, *id); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Revoked ingest key %s of %q; the platform refuses it within a second.\n", *id, *slug)
	return nil
}

func keyJSON(k *store.IngestKey) map[string]any {
	out := map[string]any{"id": k.ID, "name": k.Name, "created_at": k.CreatedAt.UTC().Format(time.RFC3339)}
	if !k.RevokedAt.IsZero() {
		out["revoked_at"] = k.RevokedAt.UTC().Format(time.RFC3339)
	}
	return out
}
