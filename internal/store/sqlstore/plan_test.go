package sqlstore

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// TestQueryPlans_HotAndRevocationQueriesUseIndexes protects the 10,000
// introspections/s budget and the cost of revocations: every query the
// platform runs per request, or per revocation, must search an index and
// never scan a table. It asks SQLite, on the SQLite store's schema, about
// the very statements the store runs.
func TestQueryPlans_HotAndRevocationQueriesUseIndexes(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := migrate(t.Context(), db, Dialect{}, os.DirFS("../sqlite/migrations"), mainMigrations); err != nil {
		t.Fatal(err)
	}
	q := newQueries(Dialect{})
	for _, c := range []struct {
		name  string
		query string
		args  []any
		want  string // a part the plan must contain, if any
	}{
		{"ServerBySlug", q.lookups[lookupServerBySlug], []any{"x"}, ""},
		{"Token", q.lookups[lookupToken], []any{"x", "s"}, ""},
		{"User", q.lookups[lookupUser], []any{"x", "y"}, ""},
		{"Client", q.lookups[lookupClient], []any{"x", "y"}, ""},
		{"LiveIngestKey", q.lookups[lookupIngestKey], []any{"x"}, ""},
		{"ListIngestKeys", q.listIngestKeys, []any{"s"}, "ingest_keys_server"},
		{"RevokeIngestKey", q.revokeIngestKey, []any{1, "s", "x"}, ""},
		{"UserByEmail", q.userByEmail, []any{"x", "y"}, ""},
		{"Session", q.session, []any{"x", "s"}, ""},
		{"RedeemAuthCode", q.redeemCode, []any{1, "x", "s"}, ""},
		{"IssueCodeTokens", q.codeRevokedForUpdate, []any{"x", "s"}, ""},
		{"RotateRefreshToken/first use", q.firstUse, []any{1, "x", "s", "c"}, ""},
		{"RotateRefreshToken", q.tokenForUpdate, []any{"x", "s"}, ""},
		{"RotateRefreshToken/successor used", q.usedSuccessors, []any{"x", "s"}, "parent_hash"},
		{"RevokeToken", q.revoke[byHash], []any{1, "s", "x"}, ""},
		{"RevokeToken/exists", q.tokenExists, []any{"s", "x"}, ""},
		{"RevokeFamily", q.revoke[byFamily], []any{1, "s", "f"}, ""},
		{"RevokeSuccessors", q.revoke[byParent], []any{1, "s", "x"}, "parent_hash"},
		{"RevokeByCode", q.revoke[byCode], []any{1, "s", "c", "s", "c"}, ""},
		{"RevokeByCode/mark", q.markCodeRevoked, []any{1, "c", "s"}, ""},
		{"RevokeClientTokens", q.revoke[byClient], []any{1, "s", "c"}, ""},
		{"Revocations", q.revocations, []any{"s", 0, 10}, "(server_id=? AND seq>?)"},
		{"LatestRevocationSeq", q.latestRevocationSeq, []any{"s"}, "(server_id=?)"},
	} {
		rows, err := db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+c.query, c.args...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		joined := strings.Join(plan, "; ")
		if strings.Contains(joined, "SCAN") || !strings.Contains(joined, "SEARCH") {
			t.Errorf("%s does not search an index: %s", c.name, joined)
		}
		if !strings.Contains(joined, c.want) {
			t.Errorf("%s plan lacks %q: %s", c.name, c.want, joined)
		}
		if strings.Contains(joined, "TEMP B-TREE") {
			t.Errorf("%s sorts in a temporary b-tree: %s", c.name, joined)
		}
	}
}
