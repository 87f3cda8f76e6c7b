package sqlstore

import (
	"database/sql"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/mcp-obs/mcp-obs/internal/telemetry"
)

// TestTelemetryQueryPlans_SearchIndexesAndNeverSortSpanLists protects the
// ingest rate and the 100 ms budget of the queries: every statement the
// writer runs per batch and every query reads through an index (never a
// table scan), and span lists and the 5-minute user counts come in index
// order (never a sort of the tenant's rows). It asks SQLite, on the SQLite
// telemetry schema, about the very statements the store runs.
func TestTelemetryQueryPlans_SearchIndexesAndNeverSortSpanLists(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "telemetry.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := migrate(t.Context(), db, Dialect{}, os.DirFS("../sqlite/telemetry_migrations"), telemetryMigrations); err != nil {
		t.Fatal(err)
	}
	d := Dialect{InJSONList: ` IN (SELECT value FROM json_each(?))`, SerialWrites: true}
	q := newTelemetryQueries(d)
	list := func(f telemetry.SpanFilter) (string, []any) {
		return spanListQuery(d, "s", f, position{start: math.MaxInt64}, 51)
	}
	type plan struct {
		name  string
		query string
		args  []any
	}
	plans := []plan{
		{"stored users", q.rollups[tableUsers].existing.text, []any{"s", 1, 2, `["a"]`}},
		{"stored ops", q.rollups[tableOps].existing.text, []any{"s", 1, 2, `["a"]`}},
		{"stored totals", q.rollups[tableTotals].existing.text, []any{"s", 1, 2}},
		{"distinct users", q.distinctUsers[3], []any{"s", 1, 2, 3, "s", 1, 2, 3, "s", 1, 2, 3}},
		{"users per step", q.usersPerStep, []any{1, 2, "s", 1, 2, 3}},
		{"active users per step", q.activeUsersPerStep, []any{1, 2, "s", 2, 3}},
		{"active users per bucket", q.activeUsersPerBucket, []any{1, 2, "s", 2, 3}},
		{"purge active users", q.purgeActive, []any{"s", 1, 5}},
		{"purge active users of a straddled bucket", q.purgeActiveStraddling, []any{"s", 1, "s", 2, 3, 4, 5}},
		{"next server of active users", q.nextServer["rollup_active_users"], []any{""}},
		{"trace", q.trace, []any{"s", 1, 2, []byte{1}}},
		{"spans above", q.spansAbove.text, []any{1}},
		{"purge spans", q.purgeSpans, []any{"s", 1, 5}},
		{"purge metric points", q.purgeMetrics, []any{"s", 1, 5}},
		{"metric points", q.metricPoints, []any{"s", 1, 2, "m"}},
	}
	for ti, t := range rollupTables {
		plans = append(plans,
			plan{t.name + " range", q.rangeRows[ti], []any{"s", 1, 2, 3}},
			plan{t.name + " purge", q.purgeRollups[ti], []any{"s", 1, 2, 5}},
			plan{t.name + " next server", q.nextServer[t.name], []any{""}})
	}
	for _, f := range []telemetry.SpanFilter{{}, {Tool: "t"}, {User: "u", ErrorsOnly: true},
		{MinDuration: time.Second, From: time.Unix(1, 0)}} {
		query, args := list(f)
		plans = append(plans, plan{"span list " + query[strings.Index(query, "WHERE"):], query, args})
	}
	for _, c := range plans {
		rows, err := db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+c.query, c.args...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var steps []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			steps = append(steps, detail)
		}
		rows.Close()
		joined := strings.Join(steps, "; ")
		for _, s := range steps {
			// Scans of a JSON list or of a subquery's result are fine; of a table, not.
			if strings.HasPrefix(s, "SCAN") && !strings.Contains(s, "json_each") && s != "SCAN u" {
				t.Errorf("%s scans a table: %s", c.name, joined)
			}
		}
		if !strings.Contains(joined, "SEARCH") {
			t.Errorf("%s searches no index: %s", c.name, joined)
		}
		if (strings.HasPrefix(c.name, "span list") || c.name == "active users per bucket") && strings.Contains(joined, "TEMP B-TREE") {
			t.Errorf("%s sorts: %s", c.name, joined)
		}
	}
}
