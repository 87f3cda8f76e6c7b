// Package pgtest gives tests their own empty PostgreSQL database: a schema
// with a random name on the server named by MCP_OBS_TEST_POSTGRES_URL,
// dropped when the test ends. Tests skip, saying how to set the variable,
// when it is unset.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// URLEnv names the variable holding the PostgreSQL server tests use.
const URLEnv = "MCP_OBS_TEST_POSTGRES_URL"

// ServerURL returns the test server's URL, or skips the test saying how to set it.
func ServerURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(URLEnv)
	if base == "" {
		t.Skipf("PostgreSQL tests skipped: set %s to a server where the user may create schemas, e.g. "+
			"%s='postgres://postgres@127.0.0.1:5432/test?sslmode=disable'", URLEnv, URLEnv)
	}
	return base
}

// FreshSchema creates a schema with a random name on the test server, drops
// it when the test ends, and returns a URL whose connections use it as
// search_path, so every test gets its own empty database and runs never collide.
func FreshSchema(t testing.TB) string {
	t.Helper()
	base := ServerURL(t)
	b := make([]byte, 8)
	rand.Read(b)
	schema := "storetest_" + hex.EncodeToString(b)

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", URLEnv, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: connect: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})

	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", URLEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema) // pgx passes unknown parameters on as run-time settings
	u.RawQuery = q.Encode()
	return u.String()
}
