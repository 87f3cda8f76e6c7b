package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/store/storetest"
	"github.com/mcp-obs/mcp-obs/internal/telemetry"
)

// openTelemetryTemp opens a telemetry store on a new file, closed when tb ends.
func openTelemetryTemp(tb testing.TB) (*TelemetryStore, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), TelemetryFile)
	s, err := OpenTelemetry(tb.Context(), path)
	if err != nil {
		tb.Fatalf("OpenTelemetry: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s, path
}

// openTelemetryFresh opens a telemetry store on a new file, for the suites
// every backend runs.
func openTelemetryFresh(tb testing.TB) store.Telemetry {
	s, _ := openTelemetryTemp(tb)
	return s
}

func TestSQLiteTelemetry_PassesConformanceSuite(t *testing.T) {
	storetest.RunTelemetry(t, openTelemetryFresh)
}

func TestTelemetryPath_IsTelemetryDBBesideTheMainDatabase(t *testing.T) {
	for _, c := range []struct{ main, want string }{
		{filepath.Join("mcp-obs-data", "mcp-obs.db"), filepath.Join("mcp-obs-data", "telemetry.db")},
		{"/var/lib/mcp-obs/main.sqlite", "/var/lib/mcp-obs/telemetry.db"},
		{"mcp-obs.db", "telemetry.db"},
	} {
		if got := TelemetryPath(c.main); got != c.want {
			t.Errorf("TelemetryPath(%q) = %q, want %q", c.main, got, c.want)
		}
	}
}

// The telemetry file trades the last commits before a power loss for speed
// (synchronous=NORMAL), in WAL mode, with its own single writer; the main
// database keeps FULL. See OpenTelemetry.
func TestOpenTelemetry_OwnFileWALSynchronousNormalOneWriter(t *testing.T) {
	s, path := openTelemetryTemp(t)
	ctx := t.Context()
	for _, c := range []struct {
		db     *sql.DB
		name   string
		pragma string
		want   string
	}{
		{s.writer, "writer", "journal_mode", "wal"},
		{s.writer, "writer", "synchronous", "1"},
		{s.writer, "writer", "temp_store", "2"},
		{s.writer, "writer", "cache_size", "-65536"},
		{s.writer, "writer", "wal_autocheckpoint", "1000"},
		{s.reader, "reader", "query_only", "1"},
		{s.reader, "reader", "journal_mode", "wal"},
	} {
		var got string
		if err := c.db.QueryRowContext(ctx, "PRAGMA "+c.pragma).Scan(&got); err != nil {
			t.Fatalf("%s PRAGMA %s: %v", c.name, c.pragma, err)
		}
		if !strings.EqualFold(got, c.want) {
			t.Errorf("%s PRAGMA %s = %q, want %q", c.name, c.pragma, got, c.want)
		}
	}
	if n := s.writer.Stats().MaxOpenConnections; n != 1 {
		t.Errorf("writer pool allows %d connections, want 1", n)
	}
	if s.Path() != path {
		t.Errorf("Path() = %q, want %q", s.Path(), path)
	}
	var tables int
	if err := s.reader.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE name IN ('servers', 'tokens')`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Error("the telemetry file holds authorization tables")
	}
}

// Telemetry has its own file and writer, so a telemetry write transaction,
// however long, never makes the authorization server's writes wait: while
// one holds the telemetry file's only writer, tokens are issued and
// revoked on the main database. (Were they one file, they would queue on
// one writer and this would run into its deadline.)
func TestTelemetryWriter_NeverHoldsUpTheMainDatabase(t *testing.T) {
	dir := t.TempDir()
	main, err := Open(t.Context(), filepath.Join(dir, "mcp-obs.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer main.Close()
	tel, err := OpenTelemetry(t.Context(), TelemetryPath(filepath.Join(dir, "mcp-obs.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Close()

	// Hold the telemetry writer, with its write lock, in an open transaction.
	held, err := tel.writer.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Rollback()
	if _, err := held.ExecContext(t.Context(), `DELETE FROM spans WHERE 0`); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := main.CreateServer(ctx, &store.Server{ID: "s1", Slug: "acme"}); err != nil {
		t.Fatalf("CreateServer while telemetry writes: %v", err)
	}
	tok := &store.Token{Hash: "h", Kind: store.KindAccess, ServerID: "s1", FamilyID: "f"}
	if err := main.IssueTokens(ctx, tok); err != nil {
		t.Fatalf("IssueTokens while telemetry writes: %v", err)
	}
	if _, err := main.RevokeToken(ctx, "s1", "h", time.Now()); err != nil {
		t.Fatalf("RevokeToken while telemetry writes: %v", err)
	}
	// And telemetry reads go on too, from the telemetry readers.
	if _, err := tel.Summary(ctx, "s1", time.Now().Add(-time.Hour), time.Now()); err != nil {
		t.Fatalf("Summary while telemetry writes: %v", err)
	}
}

func TestOpenTelemetry_MigrationsAreIdempotentAndApartFromTheMainSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), TelemetryFile)
	entries, err := fs.ReadDir(telemetryMigrationFiles, "telemetry_migrations")
	if err != nil || len(entries) == 0 {
		t.Fatalf("embedded telemetry migrations: %v, %v", entries, err)
	}
	for i := range 3 {
		s, err := OpenTelemetry(t.Context(), path)
		if err != nil {
			t.Fatalf("OpenTelemetry #%d: %v", i+1, err)
		}
		var n int
		if err := s.reader.QueryRow(`SELECT COUNT(*) FROM telemetry_migrations`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != len(entries) {
			t.Errorf("after open #%d: %d telemetry migrations recorded, want %d", i+1, n, len(entries))
		}
		if err := s.reader.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name = 'schema_migrations'`).Scan(&n); err != nil || n != 0 {
			t.Errorf("the telemetry file has the main schema's migrations table (%d, %v)", n, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenTelemetry_RefusesPathsTheMainStoreRefuses(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file:x.db", filepath.Join(t.TempDir(), "a?mode=ro")} {
		if s, err := OpenTelemetry(t.Context(), path); err == nil {
			s.Close()
			t.Errorf("OpenTelemetry(%q) succeeded", path)
		}
	}
}

// A WriteSpans that fails after inserting its spans (a rollup table
// renamed away under it) leaves nothing behind.
func TestWriteSpans_AllOrNothing(t *testing.T) {
	s, _ := openTelemetryTemp(t)
	exec := func(q string) func() error {
		return func() error { _, err := s.writer.ExecContext(t.Context(), q); return err }
	}
	storetest.AllOrNothing(t, s, exec(`ALTER TABLE rollup_clients RENAME TO rollup_clients_away`),
		exec(`ALTER TABLE rollup_clients_away RENAME TO rollup_clients`))
}

// Purging in chunks of a few rows (many transactions) removes exactly what
// one unbounded delete would.
func TestPurgeTelemetry_InSmallChunksRemovesExactlyTheOldRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), TelemetryFile)
	writer, reader, err := openPools(t.Context(), path, telemetryDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	defer reader.Close()
	core, err := openTelemetryCore(t.Context(), writer, reader, 7)
	if err != nil {
		t.Fatal(err)
	}
	defer core.Close()
	ctx := t.Context()
	base := time.Date(2026, 3, 14, 15, 0, 0, 0, time.UTC)
	var spans []telemetry.Span
	for i := range 200 {
		server := "srv-a"
		if i%2 == 1 {
			server = "srv-b"
		}
		spans = append(spans, telemetry.Span{ServerID: server, TraceID: [16]byte{1, byte(i)}, SpanID: [8]byte{2, byte(i)},
			Kind: telemetry.KindServer, Method: "tools/call", Tool: "t", UserID: "u" + string(rune('a'+i%20)),
			Start: base.Add(time.Duration(i) * time.Minute), Duration: time.Millisecond})
	}
	if _, err := core.WriteSpans(ctx, spans); err != nil {
		t.Fatal(err)
	}
	cut := base.Add(100 * time.Minute)
	counts := func() (spans, minutes, hours int) {
		if err := reader.QueryRow(`SELECT COUNT(*) FROM spans`).Scan(&spans); err != nil {
			t.Fatal(err)
		}
		if err := reader.QueryRow(`SELECT COUNT(*) FROM rollup_users WHERE width_ns = 60000000000`).Scan(&minutes); err != nil {
			t.Fatal(err)
		}
		if err := reader.QueryRow(`SELECT COUNT(*) FROM rollup_users WHERE width_ns = 3600000000000`).Scan(&hours); err != nil {
			t.Fatal(err)
		}
		return
	}
	beforeSpans, beforeMinutes, beforeHours := counts()
	n, err := core.PurgeTelemetry(ctx, cut)
	if err != nil {
		t.Fatal(err)
	}
	afterSpans, afterMinutes, afterHours := counts()
	if afterSpans != 100 || afterMinutes != 100 {
		t.Errorf("after the purge: %d spans and %d minute rows, want 100 and 100 (those from %v on)", afterSpans, afterMinutes, cut)
	}
	// 16:40 cuts the hour 16:00-17:00: the hours 15:00 and 16:00... only 15:00 ended by the cutoff.
	var oldHours int
	if err := reader.QueryRow(`SELECT COUNT(*) FROM rollup_users WHERE width_ns = 3600000000000 AND bucket_ns < ?`, base.Add(time.Hour).UnixNano()).Scan(&oldHours); err != nil {
		t.Fatal(err)
	}
	if oldHours != 0 || afterHours == 0 {
		t.Errorf("hour rows: %d of the hour that ended before the cutoff left, %d in all", oldHours, afterHours)
	}
	removed := (beforeSpans - afterSpans) + (beforeMinutes - afterMinutes) + (beforeHours - afterHours)
	if n < removed {
		t.Errorf("PurgeTelemetry reported %d rows, the spans and user rollups alone lost %d", n, removed)
	}
}

// Two stores on one telemetry file (two processes) writing the same
// minute's rollups by turns: each one's in-memory copy of the rows it
// wrote last is dropped when the other wrote in between (PRAGMA
// data_version), so no update is lost.
func TestWriteSpans_AnotherWriterOnTheFileLosesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), TelemetryFile)
	a, err := OpenTelemetry(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := OpenTelemetry(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	base := time.Date(2026, 3, 14, 15, 9, 0, 0, time.UTC)
	span := func(n int, user string) telemetry.Span {
		return telemetry.Span{ServerID: "srv", TraceID: [16]byte{1, byte(n)}, SpanID: [8]byte{1, byte(n)},
			Kind: telemetry.KindServer, Method: "tools/call", Tool: "echo", UserID: user,
			Start: base.Add(time.Duration(n) * time.Second), Duration: time.Duration(n) * time.Millisecond}
	}
	writers := []*TelemetryStore{a, b, a, b, a}
	for i, w := range writers {
		if _, err := w.WriteSpans(t.Context(), []telemetry.Span{span(2*i, "u1"), span(2*i+1, fmt.Sprintf("u%d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []*TelemetryStore{a, b} {
		sum, err := s.Summary(t.Context(), "srv", base, base.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if sum.Calls != 10 || sum.ActiveUsers != 5 {
			t.Errorf("summary %+v, want 10 calls by 5 users", sum)
		}
		tools, err := s.TopTools(t.Context(), "srv", base, base.Add(time.Hour), 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(tools) != 1 || tools[0].Calls != 10 {
			t.Errorf("top tools %+v, want echo with 10 calls", tools)
		}
	}
}

// Migration 0002 fills the 5-minute tier of distinct users from the minute
// rows of a database written before it.
func TestOpenTelemetry_MigrationFillsTheFiveMinuteUserTier(t *testing.T) {
	path := filepath.Join(t.TempDir(), TelemetryFile)
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	storetest.ActiveUsersBackfill(t, func() store.Telemetry {
		s, err := OpenTelemetry(t.Context(), path)
		if err != nil {
			t.Fatalf("OpenTelemetry: %v", err)
		}
		return s
	}, func(q string) error { _, err := db.ExecContext(t.Context(), q); return err })
}
