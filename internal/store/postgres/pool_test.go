package postgres

import (
	"database/sql"
	"testing"

	"github.com/mcp-obs/mcp-obs/internal/store/postgres/pgtest"
)

// The pool is sized as pgxpool sized it from the same URL (pool_max_conns,
// by default max(4, CPUs)), and keeps its connections idle between
// queries instead of closing all but two: each new one costs a handshake
// and starts with an empty statement cache.
func TestOpen_PoolIsSizedFromTheURLAndKeepsConnectionsIdle(t *testing.T) {
	for _, c := range []struct {
		query string
		want  int
	}{
		{"", 4},
		{"&pool_max_conns=7", 7},
	} {
		s, err := Open(t.Context(), pgtest.FreshSchema(t)+c.query)
		if err != nil {
			t.Fatalf("Open with %q: %v", c.query, err)
		}
		defer s.Close()
		if got := s.db.Stats().MaxOpenConnections; got < c.want || (c.query != "" && got != c.want) {
			t.Errorf("with %q: pool of %d connections, want %d", c.query, got, c.want)
		}
		// Hold as many connections at once as the pool allows, then count who stayed.
		conns := make([]*sql.Conn, 0, c.want)
		for range c.want {
			conn, err := s.db.Conn(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, conn)
		}
		for _, conn := range conns {
			conn.Close()
		}
		if idle := s.db.Stats().Idle; idle != c.want {
			t.Errorf("with %q: %d idle connections after %d were in use, want all kept", c.query, idle, c.want)
		}
	}
}
