package sqlstore

import (
	"strings"
	"testing"
)

func TestRebind_NumbersPlaceholdersInOrderForPostgreSQLOnly(t *testing.T) {
	q := `SELECT a FROM t WHERE b = ? AND (c = ? OR d IN (SELECT d FROM u WHERE e = ?)) LIMIT ?`
	if got := (Dialect{}).rebind(q); got != q {
		t.Errorf("? dialect rebound %q to %q", q, got)
	}
	want := `SELECT a FROM t WHERE b = $1 AND (c = $2 OR d IN (SELECT d FROM u WHERE e = $3)) LIMIT $4`
	if got := (Dialect{NumberedParams: true}).rebind(q); got != want {
		t.Errorf("rebind = %q, want %q", got, want)
	}
}

// Every query of the store is rebound when the store is built, and none
// keeps a ? a PostgreSQL server would choke on.
func TestQueries_ReboundForNumberedParams(t *testing.T) {
	q := newQueries(Dialect{NumberedParams: true})
	all := append([]string{q.createServer, q.putClient, q.redeemCode, q.firstUse, q.revocations},
		q.lookups[:]...)
	all = append(all, q.revoke[:]...)
	all = append(all, q.insertTokens[1:]...)
	all = append(all, q.appendFeed[1:]...)
	all = append(all, q.purge...)
	for _, s := range all {
		if strings.Contains(s, "?") {
			t.Errorf("query keeps a ?: %s", s)
		}
	}
	if got := q.appendFeed[2]; !strings.Contains(got, "($1, $2, $3), ($4, $5, $6)") {
		t.Errorf("two-row feed insert = %q", got)
	}
}
