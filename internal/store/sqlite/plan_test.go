package sqlite

import (
	"strings"
	"testing"
)

// TestQueryPlans_HotAndRevocationQueriesUseIndexes protects the 10,000
// introspections/s budget and the cost of revocations: every query the
// platform runs per request, or per revocation, must search an index and
// never scan a table.
func TestQueryPlans_HotAndRevocationQueriesUseIndexes(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	for _, c := range []struct {
		name  string
		query string
		args  []any
		want  string // a part the plan must contain, if any
	}{
		{"ServerBySlug", queryServerBySlug, []any{"x"}, ""},
		{"Token", queryToken, []any{"x", "s"}, ""},
		{"User", queryUser, []any{"x", "y"}, ""},
		{"Client", queryClient, []any{"x", "y"}, ""},
		{"UserByEmail", `SELECT ` + userColumns + ` FROM users WHERE server_id = ? AND email = ?`, []any{"x", "y"}, ""},
		{"Session", `SELECT ` + sessionColumns + ` FROM sessions WHERE id_hash = ? AND server_id = ?`, []any{"x", "s"}, ""},
		{"RedeemAuthCode", `UPDATE auth_codes SET used_at = ? WHERE hash = ? AND server_id = ? AND used_at IS NULL`, []any{1, "x", "s"}, ""},
		{"IssueCodeTokens", `SELECT revoked_at FROM auth_codes WHERE hash = ? AND server_id = ?`, []any{"x", "s"}, ""},
		{"RotateRefreshToken", `SELECT ` + tokenColumns + ` FROM tokens WHERE hash = ? AND server_id = ?`, []any{"x", "s"}, ""},
		{"RotateRefreshToken/successor used", `SELECT COUNT(*) FROM tokens
		WHERE parent_hash = ? AND server_id = ? AND kind = 'refresh' AND rotated_at IS NOT NULL`, []any{"x", "s"}, "parent_hash"},
		{"RevokeToken", `UPDATE tokens SET revoked_at = ? WHERE revoked_at IS NULL AND (` + whereHash + `)`, []any{1, "s", "x"}, ""},
		{"RevokeFamily", `UPDATE tokens SET revoked_at = ? WHERE revoked_at IS NULL AND (` + whereFamily + `)`, []any{1, "s", "f"}, ""},
		{"RevokeSuccessors", `UPDATE tokens SET revoked_at = ? WHERE revoked_at IS NULL AND (` + whereParent + `)`, []any{1, "s", "x"}, "parent_hash"},
		{"RevokeByCode", `UPDATE tokens SET revoked_at = ? WHERE revoked_at IS NULL AND (` + whereCode + `)`, []any{1, "s", "c", "s", "c"}, ""},
		{"RevokeByCode/mark", `UPDATE auth_codes SET revoked_at = ? WHERE hash = ? AND server_id = ? AND revoked_at IS NULL`, []any{1, "c", "s"}, ""},
		{"RevokeClientTokens", `UPDATE tokens SET revoked_at = ? WHERE revoked_at IS NULL AND (` + whereClient + `)`, []any{1, "s", "c"}, ""},
		{"Revocations", `SELECT seq FROM revocations WHERE server_id = ? AND seq > ? ORDER BY seq LIMIT ?`, []any{"s", 0, 10}, "(server_id=? AND seq>?)"},
		{"LatestRevocationSeq", `SELECT COALESCE(MAX(seq), 0) FROM revocations WHERE server_id = ?`, []any{"s"}, "(server_id=?)"},
	} {
		rows, err := s.reader.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+c.query, c.args...)
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
