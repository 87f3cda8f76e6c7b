package main

import (
	"context"
	"strings"
	"testing"

	"github.com/mcp-obs/mcp-obs/internal/platform"
	"github.com/mcp-obs/mcp-obs/internal/testkit/testdb"
)

// The banner promises "Sign in as: EMAIL / PASSWORD"; a rerun on the same
// data directory with another --password must not print a password that
// does not work.
func TestDemo_RerunWithAnotherPasswordForTheSameUserIsRefusedClearly(t *testing.T) {
	ctx := context.Background()
	st := testdb.SQLite(t)
	p := platform.New(platform.Config{Base: "http://localhost:3000"}, st)
	const resource = "http://localhost:3006/mcp"
	if _, err := ensureDemoTenant(ctx, p, resource, "demo@example.com", "demo-password"); err != nil {
		t.Fatal(err)
	}
	if _, err := ensureDemoTenant(ctx, p, resource, "demo@example.com", "demo-password"); err != nil {
		t.Fatalf("rerun with the same password: %v", err)
	}
	_, err := ensureDemoTenant(ctx, p, resource, "demo@example.com", "another-password")
	if err == nil || !strings.Contains(err.Error(), "demo@example.com") || !strings.Contains(err.Error(), "--password") {
		t.Fatalf("rerun with another password: err = %v, want a refusal naming the user and --password", err)
	}
}
