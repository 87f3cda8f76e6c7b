package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/store/postgres/pgtest"
	"github.com/mcp-obs/mcp-obs/internal/telemetry"
)

// seedStats writes calls of the server slug into the telemetry store of
// db, through the same opening as serve: 3 calls of "search" (one failed)
// and 1 of "fetch" by two users and two clients, all a few minutes ago,
// and one call two days ago.
func seedStats(t *testing.T, db, slug string) {
	t.Helper()
	ctx := context.Background()
	st, _, err := openStore(ctx, db, existingDB)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv, err := st.ServerBySlug(ctx, slug)
	if err != nil {
		t.Fatal(err)
	}
	tel, closeTel, err := openTelemetry(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	defer closeTel()
	now := time.Now().UTC()
	var spans []telemetry.Span
	for i, c := range []struct {
		tool, user, client, errType string
		ms                          int
		ago                         time.Duration
	}{
		{"search", "alice", "claude", "", 10, 5 * time.Minute},
		{"search", "alice", "claude", "tool_error", 20, 4 * time.Minute},
		{"search", "bob", "cursor", "", 30, 3 * time.Minute},
		{"fetch", "bob", "claude", "", 40, 2 * time.Minute},
		{"old_tool", "carol", "claude", "", 50, 48 * time.Hour},
	} {
		spans = append(spans, telemetry.Span{ServerID: srv.ID, TraceID: [16]byte{1, byte(i + 1)}, SpanID: [8]byte{1, byte(i + 1)},
			Name: "tools/call " + c.tool, Kind: telemetry.KindServer, Start: now.Add(-c.ago), Duration: time.Duration(c.ms) * time.Millisecond,
			Method: "tools/call", Tool: c.tool, UserID: c.user, ClientID: c.client, ErrorType: c.errType})
	}
	if _, err := tel.WriteSpans(ctx, spans); err != nil {
		t.Fatal(err)
	}
}

func TestStats_PrintsTheServersFiguresAndTopLists(t *testing.T) {
	for _, b := range []struct {
		name string
		db   func(t *testing.T) string
	}{
		{"sqlite", freshDB},
		{"postgres", func(t *testing.T) string { return pgtest.FreshSchema(t) }},
	} {
		t.Run(b.name, func(t *testing.T) {
			db := b.db(t)
			for _, slug := range []string{"test", "other"} {
				if _, _, err := cli(t, "", "server", "create", "--db", db, "--slug", slug, "--resource-url", "http://localhost:3006/mcp"); err != nil {
					t.Fatal(err)
				}
			}
			// No data yet: a clear message, not a table of zeros.
			out, _, err := cli(t, "", "stats", "--db", db, "--server", "test")
			if err != nil || !strings.Contains(out, "No calls recorded in this range yet") {
				t.Fatalf("stats before any call: %v\n%s", err, out)
			}
			seedStats(t, db, "test")

			out, _, err = cli(t, "", "stats", "--db", db, "--server", "test")
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []*regexp.Regexp{
				regexp.MustCompile(`(?m)^Server "test", last 24h \(`),
				regexp.MustCompile(`(?m)^Calls +4$`),
				regexp.MustCompile(`(?m)^Errors +1 \(25\.00%\)$`),
				regexp.MustCompile(`(?m)^Latency +p50 \d+\.\d ms   p95 \d+\.\d ms   p99 \d+\.\d ms$`),
				regexp.MustCompile(`(?m)^Active users +2$`),
				regexp.MustCompile(`(?m)^TOOL +CALLS +ERRORS +P50 +P95$`),
				regexp.MustCompile(`(?m)^search +3 +1 +\d+\.\d ms +\d+\.\d ms$`),
				regexp.MustCompile(`(?m)^fetch +1 +0 +\d+\.\d ms +\d+\.\d ms$`),
				regexp.MustCompile(`(?m)^alice +2 +1 `),
				regexp.MustCompile(`(?m)^CLIENT +CALLS`),
				regexp.MustCompile(`(?m)^claude +3 +1 `),
			} {
				if !want.MatchString(out) {
					t.Errorf("stats output lacks %v:\n%s", want, out)
				}
			}
			if strings.Contains(out, "old_tool") {
				t.Errorf("a call of two days ago is in the last 24 hours:\n%s", out)
			}
			// The tables' columns line up: every row of a table is as wide as its header.
			lines := strings.Split(out, "\n")
			for i, l := range lines {
				if strings.HasPrefix(l, "TOOL ") && len(lines[i+1]) != len(l) {
					t.Errorf("row %q is not aligned under %q", lines[i+1], l)
				}
			}

			out, _, err = cli(t, "", "stats", "--db", db, "--server", "test", "--since", "3d", "--top", "1", "--json")
			if err != nil {
				t.Fatal(err)
			}
			var js struct {
				Summary telemetry.Summary `json:"summary"`
				Tools   []map[string]any  `json:"tools"`
			}
			if err := json.Unmarshal([]byte(out), &js); err != nil {
				t.Fatalf("--json: %v\n%s", err, out)
			}
			if js.Summary.Calls != 5 || js.Summary.ActiveUsers != 3 || len(js.Tools) != 1 || js.Tools[0]["tool"] != "search" {
				t.Errorf("--since 3d --top 1 --json: %+v", js)
			}
			// The other tenant has none of it.
			if out, _, err := cli(t, "", "stats", "--db", db, "--server", "other"); err != nil || !strings.Contains(out, "No calls recorded") {
				t.Errorf("other tenant: %v\n%s", err, out)
			}
		})
	}
}

func TestStats_ClearErrors(t *testing.T) {
	db := freshDB(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"stats", "--db", db}, "--server is required"},
		{[]string{"stats", "--db", db, "--server", "nope"}, `no server with slug "nope"`},
		{[]string{"stats", "--db", db, "--server", "test", "--since", "yesterday"}, `--since "yesterday"`},
		{[]string{"stats", "--db", db, "--server", "test", "--since", "-1h"}, `--since "-1h"`},
		{[]string{"stats", "--db", db, "--server", "test", "--top", "0"}, "--top must be between 1 and"},
		{[]string{"stats", "--db", "sqlite:" + t.TempDir() + "/missing.db", "--server", "test"}, "no database at"},
	} {
		if _, _, err := cli(t, "", tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err = %v, want it to contain %q", tt.args, err, tt.want)
		}
	}
}
