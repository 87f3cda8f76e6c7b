package main

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/mcp-obs/mcp-obs/internal/platform/ingestkeys"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

func TestServerKey_CreatePrintsOnceListRevoke(t *testing.T) {
	db := freshDB(t)
	for _, slug := range []string{"test", "other"} {
		if _, _, err := cli(t, "", "server", "create", "--db", db, "--slug", slug, "--resource-url", "http://localhost:3006/mcp"); err != nil {
			t.Fatal(err)
		}
	}
	out, _, err := cli(t, "", "server", "key", "create", "--db", db, "--slug", "test", "--name", "ci", "--platform-url", "https://obs.example.com")
	if err != nil {
		t.Fatal(err)
	}
	key := regexp.MustCompile(`mcpobs_ik_[0-9a-f]{16}_[A-Za-z0-9_-]{49}`).FindString(out)
	if key == "" {
		t.Fatalf("create printed no key:\n%s", out)
	}
	for _, want := range []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT=https://obs.example.com",
		`OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer ` + key + `"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("create output lacks %q:\n%s", want, out)
		}
	}
	id, ok := ingestkeys.ParseID(key)
	if !ok {
		t.Fatalf("printed key %q does not parse", key)
	}

	// The key authenticates as the server, through the service the receiver uses.
	ctx := context.Background()
	st, _, err := openStore(ctx, db, existingDB)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	keys := ingestkeys.New(ingestkeys.Options{Store: st})
	srv, _ := st.ServerBySlug(ctx, "test")
	if got, err := keys.Authenticate(ctx, key); err != nil || got != srv.ID {
		t.Fatalf("Authenticate = %q, %v; want %q", got, err, srv.ID)
	}

	list, _, err := cli(t, "", "server", "key", "list", "--db", db, "--slug", "test")
	if err != nil || !strings.Contains(list, id) || !strings.Contains(list, "ci") || !strings.Contains(list, "live") || strings.Contains(list, key) {
		t.Fatalf("list (err %v) must show the id, name and status, never the key:\n%s", err, list)
	}
	if other, _, _ := cli(t, "", "server", "key", "list", "--db", db, "--slug", "other"); strings.Contains(other, id) {
		t.Fatalf("another server lists the key:\n%s", other)
	}

	// Another server cannot revoke it; an unknown id is an error.
	for _, tc := range []struct{ slug, id string }{{"other", id}, {"test", "0000000000000000"}, {"nope", id}} {
		if _, _, err := cli(t, "", "server", "key", "revoke", "--db", db, "--slug", tc.slug, "--id", tc.id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("revoke --slug %s --id %s: err %v, want not found", tc.slug, tc.id, err)
		}
	}
	if _, err := keys.Authenticate(ctx, key); err != nil {
		t.Fatalf("the key stopped working after refused revocations: %v", err)
	}
	if _, _, err := cli(t, "", "server", "key", "revoke", "--db", db, "--slug", "test", "--id", id); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Authenticate(ctx, key); !errors.Is(err, ingestkeys.ErrUnauthenticated) {
		t.Fatalf("revoked key: Authenticate err = %v", err)
	}
	if list, _, _ := cli(t, "", "server", "key", "list", "--db", db, "--slug", "test"); !strings.Contains(list, "revoked") {
		t.Fatalf("list after revoke:\n%s", list)
	}
}

func TestServerKey_UsageErrors(t *testing.T) {
	db := freshDB(t)
	for _, args := range [][]string{
		{"server", "key"},
		{"server", "key", "rotate"},
		{"server", "key", "create", "--db", db},
		{"server", "key", "revoke", "--db", db, "--slug", "test"},
	} {
		var u usageError
		if _, _, err := cli(t, "", args...); !errors.As(err, &u) {
			t.Errorf("%q: err %v, want a usage error", args, err)
		}
	}
}
