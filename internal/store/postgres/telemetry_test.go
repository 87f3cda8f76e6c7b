package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/store/postgres"
	"github.com/mcp-obs/mcp-obs/internal/store/postgres/pgtest"
	"github.com/mcp-obs/mcp-obs/internal/store/storetest"
	"github.com/mcp-obs/mcp-obs/internal/telemetry"
)

func TestTelemetry_PassesConformanceSuite(t *testing.T) {
	pgtest.ServerURL(t)
	storetest.RunTelemetry(t, func(tb testing.TB) store.Telemetry {
		s := open(tb, pgtest.FreshSchema(tb))
		tb.Cleanup(func() { s.Close() })
		return s
	})
}

// A WriteSpans that fails after inserting its spans (a rollup table
// renamed away under it) leaves nothing behind.
func TestWriteSpans_AllOrNothing(t *testing.T) {
	dbURL := pgtest.FreshSchema(t)
	s := open(t, dbURL)
	defer s.Close()
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	exec := func(q string) func() error {
		return func() error { _, err := conn.Exec(t.Context(), q); return err }
	}
	storetest.AllOrNothing(t, s, exec(`ALTER TABLE rollup_clients RENAME TO rollup_clients_away`),
		exec(`ALTER TABLE rollup_clients_away RENAME TO rollup_clients`))
}

// Two replicas write batches of one tenant at once: the per-tenant rollup
// lock makes their read-modify-write of the same rollup rows queue, so no
// update is lost; then they all send one shared batch (a client's retries
// reaching both), which is stored and counted once.
func TestWriteSpans_ConcurrentReplicasLoseNothing(t *testing.T) {
	a, b := twoReplicas(t)
	ctx := t.Context()
	t0 := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	span := func(trace, n int, user string) telemetry.Span {
		return telemetry.Span{ServerID: "srv", TraceID: [16]byte{1, byte(trace >> 8), byte(trace)}, SpanID: [8]byte{1, byte(n)},
			Kind: telemetry.KindServer, Method: "tools/call", Tool: "echo", UserID: user,
			Start: t0.Add(time.Duration(trace) * time.Millisecond), Duration: time.Duration(trace) * time.Microsecond}
	}
	const callers, own = 8, 20
	write := func(batch func(i int) []telemetry.Span) int {
		inserted := make([]int, callers)
		errs := make([]error, callers)
		onBothReplicas(a, b, callers, func(i int, replica *postgres.Store) {
			inserted[i], errs[i] = replica.WriteSpans(ctx, batch(i))
		})
		total := 0
		for i, err := range errs {
			if err != nil {
				t.Fatalf("caller %d: %v", i, err)
			}
			total += inserted[i]
		}
		return total
	}
	check := func(when string, calls, users int) {
		t.Helper()
		sum, err := b.Summary(ctx, "srv", t0.Add(-time.Hour), t0.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if sum.Calls != int64(calls) || sum.ActiveUsers != int64(users) {
			t.Errorf("%s: summary %+v, want %d calls by %d users", when, sum, calls, users)
		}
		// Every table's rows are rewritten by every batch: check one the
		// summary does not read.
		tools, err := b.TopTools(ctx, "srv", t0.Add(-time.Hour), t0.Add(time.Hour), 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(tools) != 1 || tools[0].Calls != int64(calls) {
			t.Errorf("%s: top tools %+v, want echo with %d calls", when, tools, calls)
		}
	}
	// Several rounds: the first also opens the pools' connections, so the
	// later ones overlap fully.
	const rounds = 4
	for r := range rounds {
		n := write(func(i int) []telemetry.Span {
			var batch []telemetry.Span
			for j := range own {
				batch = append(batch, span(100+(r*callers+i)*own+j, 2, fmt.Sprintf("u-%d", i)))
			}
			return batch
		})
		if n != callers*own {
			t.Errorf("round %d: inserted %d disjoint spans, want %d", r, n, callers*own)
		}
	}
	check("after disjoint batches", rounds*callers*own, callers)
	shared := []telemetry.Span{span(1, 1, "u-shared"), span(2, 1, "u-shared"), span(3, 1, "u-x")}
	if n := write(func(int) []telemetry.Span { return shared }); n != len(shared) {
		t.Errorf("inserted %d of the shared batch sent %d times, want %d", n, callers, len(shared))
	}
	check("after the shared batch", rounds*callers*own+len(shared), callers+2)
}

// Migration 0002 fills the 5-minute tier of distinct users from the minute
// rows of a database written before it.
func TestOpen_TelemetryMigrationFillsTheFiveMinuteUserTier(t *testing.T) {
	dbURL := pgtest.FreshSchema(t)
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	storetest.ActiveUsersBackfill(t, func() store.Telemetry { return open(t, dbURL) },
		func(q string) error { _, err := conn.Exec(t.Context(), q); return err })
}
