package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/store/storetest"
)

func openTemp(t testing.TB) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db.sqlite")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s, path
}

// migrationCount is how many migrations the store embeds.
func migrationCount(t *testing.T) int {
	t.Helper()
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil || len(entries) == 0 {
		t.Fatalf("embedded migrations: %v, %v", entries, err)
	}
	return len(entries)
}

func TestSQLiteStore_PassesConformanceSuite(t *testing.T) {
	storetest.Run(t, openFresh)
}

// openFresh opens a store on a new file, for the suites every backend runs.
func openFresh(tb testing.TB) store.Store {
	s, _ := openTemp(tb)
	return s
}

func TestOpen_CreatesMissingParentDirectories(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "c", "db.sqlite")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database file not created: %v", err)
	}
}

func TestOpen_NewDatabaseFilesAreOwnerOnly(t *testing.T) {
	s, path := openTemp(t)
	if err := s.CreateServer(t.Context(), &store.Server{ID: "s1", Slug: "a"}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode().Perm(); mode&0o077 != 0 {
			t.Errorf("%s has mode %v, want no access for group or others", filepath.Base(p), mode)
		}
	}
}

func TestOpen_UnwritablePathFailsWithErrorNamingIt(t *testing.T) {
	dirAsFile := filepath.Join(t.TempDir(), "occupied")
	if err := os.WriteFile(dirAsFile, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{
		"/proc/forbidden/db.sqlite",             // parent cannot be created
		filepath.Join(dirAsFile, "db.sqlite"),   // parent is a file
		t.TempDir(),                             // the path is a directory
		filepath.Join(t.TempDir(), "a?mode=ro"), // would be read as driver options
		":memory:",                              // two pools cannot share it
		"",
	} {
		s, err := Open(t.Context(), path)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", path)
			continue
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("Open(%q) error %q does not name the path", path, err)
		}
	}
}

func TestOpen_ConfiguresWALForeignKeysAndPools(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	ctx := t.Context()
	for _, c := range []struct {
		db     string
		pragma string
		want   string
	}{
		{"writer", "journal_mode", "wal"},
		{"writer", "foreign_keys", "1"},
		{"writer", "busy_timeout", "10000"},
		{"reader", "journal_mode", "wal"},
		{"reader", "foreign_keys", "1"},
		{"reader", "query_only", "1"},
		{"reader", "busy_timeout", "10000"},
	} {
		db := s.writer
		if c.db == "reader" {
			db = s.reader
		}
		var got string
		if err := db.QueryRowContext(ctx, "PRAGMA "+c.pragma).Scan(&got); err != nil {
			t.Fatalf("%s PRAGMA %s: %v", c.db, c.pragma, err)
		}
		if !strings.EqualFold(got, c.want) {
			t.Errorf("%s PRAGMA %s = %q, want %q", c.db, c.pragma, got, c.want)
		}
	}
	if n := s.writer.Stats().MaxOpenConnections; n != 1 {
		t.Errorf("writer pool allows %d connections, want 1", n)
	}
	if n := s.reader.Stats().MaxOpenConnections; n < 2 {
		t.Errorf("reader pool allows %d connections, want several", n)
	}
	if _, err := s.reader.ExecContext(ctx, `DELETE FROM servers`); err == nil {
		t.Error("the reader pool accepted a write")
	}
}

// The writer commits with synchronous=FULL, so an acknowledged token issue
// or revocation survives a power loss; see dsn.
func TestOpen_WriterCommitsWithSynchronousFull(t *testing.T) {
	s, path := openTemp(t)
	defer s.Close()
	var got int
	if err := s.writer.QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&got); err != nil {
		t.Fatalf("PRAGMA synchronous: %v", err)
	}
	if got != 2 {
		t.Errorf("writer PRAGMA synchronous = %d, want 2 (FULL)", got)
	}
	// The pragma comes with every connection the writer pool opens, not only the first.
	if !strings.Contains(dsn(path, false), "synchronous%28FULL%29") {
		t.Errorf("writer DSN %q does not set synchronous(FULL)", dsn(path, false))
	}
}

func TestOpen_MigrationsAreIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.sqlite")
	for i := range 3 {
		s, err := Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open #%d: %v", i+1, err)
		}
		want := int64(migrationCount(t))
		var n, maxVersion int64
		if err := s.reader.QueryRow(`SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&n, &maxVersion); err != nil {
			t.Fatal(err)
		}
		if n != want || maxVersion != want {
			t.Errorf("after Open #%d: %d migrations recorded up to version %d, want %d", i+1, n, maxVersion, want)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// A database written before 0002_grant_lineage keeps working after the
// upgrade: its tokens have no parent, its codes no revoked mark, and its
// refresh tokens rotate.
func TestOpen_UpgradesAVersion1DatabaseKeepingItsGrantsUsable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.sqlite")
	v1, err := fs.ReadFile(migrationFiles, "migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	storetest.UpgradeFromV1(t, string(v1),
		func(q string) error { _, err := db.ExecContext(t.Context(), q); return err },
		func() store.Store {
			s, err := Open(t.Context(), path)
			if err != nil {
				t.Fatalf("Open of a version 1 database: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		})
}

func TestOpen_ConcurrentOpensOfNewFileApplyMigrationsOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.sqlite")
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	stores := make([]*Store, n)
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = Open(t.Context(), path) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open #%d: %v", i, err)
		}
		defer stores[i].Close()
	}
	var count int
	if err := stores[0].reader.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&count); err != nil {
		t.Fatal(err)
	}
	if want := migrationCount(t); count != want {
		t.Errorf("%d migration rows, want %d", count, want)
	}
}

func TestOpen_RefusesDatabaseFromNewerSchema(t *testing.T) {
	s, path := openTemp(t)
	if _, err := s.writer.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2, err := Open(t.Context(), path)
	if err == nil {
		s2.Close()
		t.Fatal("Open of a database with a newer schema succeeded")
	}
	if !strings.Contains(err.Error(), "newer") {
		t.Errorf("error %q does not say the schema is newer", err)
	}
}

func TestStore_SurvivesCloseAndReopen(t *testing.T) {
	s, path := openTemp(t)
	ctx := t.Context()
	sv := &store.Server{ID: "s1", Slug: "acme", Name: "Acme", Scopes: []string{"read"}, CreatedAt: time.UnixMilli(1_700_000_000_123).UTC()}
	tok := &store.Token{Hash: secret.Hash("t"), Kind: store.KindAccess, ServerID: "s1", FamilyID: "f", Scopes: []string{"read"}}
	if err := s.CreateServer(ctx, sv); err != nil {
		t.Fatal(err)
	}
	if err := s.IssueTokens(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeToken(ctx, "s1", tok.Hash, time.UnixMilli(1_700_000_001_000)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	got, err := s.ServerBySlug(ctx, "acme")
	if err != nil {
		t.Fatalf("server after reopen: %v", err)
	}
	if got.Name != "Acme" || !got.CreatedAt.Equal(sv.CreatedAt) {
		t.Errorf("server after reopen = %+v", got)
	}
	gotTok, err := s.Token(ctx, "s1", tok.Hash)
	if err != nil {
		t.Fatalf("token after reopen: %v", err)
	}
	if gotTok.RevokedAt.IsZero() {
		t.Error("revocation lost across reopen")
	}
	if seq, err := s.LatestRevocationSeq(ctx, "s1"); err != nil || seq == 0 {
		t.Errorf("feed after reopen: seq %d, err %v", seq, err)
	}
}

// TestStore_FileHoldsOnlyTheHashesItWasGiven writes every kind of secret the
// platform has, as its hash, and checks the database file (with its WAL)
// holds the hashes verbatim and neither the plaintexts nor a re-hash.
func TestStore_FileHoldsOnlyTheHashesItWasGiven(t *testing.T) {
	s, path := openTemp(t)
	ctx := t.Context()
	plain := map[string]string{
		"server secret":      secret.New(secret.PrefixServerSecret),
		"client secret":      secret.New(secret.PrefixClientSecret),
		"registration token": secret.New(secret.PrefixRegistration),
		"session":            secret.New(secret.PrefixSession),
		"code":               secret.New(secret.PrefixCode),
		"access token":       secret.New(secret.PrefixAccessToken),
		"refresh token":      secret.New(secret.PrefixRefreshToken),
	}
	h := func(k string) string { return secret.Hash(plain[k]) }
	steps := []error{
		s.CreateServer(ctx, &store.Server{ID: "s1", Slug: "acme", ClientID: "rs", ClientSecretHash: h("server secret")}),
		s.CreateClient(ctx, &store.Client{ServerID: "s1", ClientID: "c1", SecretHash: h("client secret"), RegistrationTokenHash: h("registration token"), Source: store.SourceDCR}),
		s.CreateUser(ctx, &store.User{ID: "u1", ServerID: "s1", Email: "a@example.com", PasswordHash: "$2a$10$bcrypt"}),
		s.CreateSession(ctx, &store.Session{IDHash: h("session"), ServerID: "s1", UserID: "u1"}),
		s.CreateAuthCode(ctx, &store.AuthCode{Hash: h("code"), ServerID: "s1"}),
		s.IssueTokens(ctx,
			&store.Token{Hash: h("access token"), Kind: store.KindAccess, ServerID: "s1", FamilyID: "f", CodeHash: h("code")},
			&store.Token{Hash: h("refresh token"), Kind: store.KindRefresh, ServerID: "s1", FamilyID: "f", CodeHash: h("code")}),
	}
	if err := errors.Join(steps...); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeByCode(ctx, "s1", h("code"), time.Now()); err != nil {
		t.Fatal(err)
	}
	// Read the files while the store is open (data may sit in the WAL) and after close.
	check := func(when string) {
		var all []byte
		for _, suffix := range []string{"", "-wal"} {
			b, err := os.ReadFile(path + suffix)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			all = append(all, b...)
		}
		for name, p := range plain {
			if bytes.Contains(all, []byte(p)) {
				t.Errorf("%s: the %s is in the database file in clear text", when, name)
			}
			if bytes.Contains(all, []byte(secret.Hash(secret.Hash(p)))) {
				t.Errorf("%s: the %s was hashed a second time", when, name)
			}
			if !bytes.Contains(all, []byte(secret.Hash(p))) {
				t.Errorf("%s: the %s's hash is not stored as given", when, name)
			}
		}
	}
	check("open")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check("closed")
}

func TestErrors_ConstraintViolationsMapToSentinels(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	ctx := t.Context()
	err := s.CreateClient(ctx, &store.Client{ServerID: "no-such-server", ClientID: "c"})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("client of a missing server: %v, want ErrNotFound", err)
	}
	if err := s.CreateServer(ctx, &store.Server{ID: "s1", Slug: "a"}); err != nil {
		t.Fatal(err)
	}
	err = s.CreateServer(ctx, &store.Server{ID: "s1", Slug: "b"})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate server id: %v, want ErrConflict", err)
	}
}

func TestZeroNowIsRefusedWhereItWouldLeaveThingsLive(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	ctx := context.Background()
	if err := s.CreateServer(ctx, &store.Server{ID: "s1", Slug: "a"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAuthCode(ctx, &store.AuthCode{Hash: "c", ServerID: "s1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.IssueTokens(ctx, &store.Token{Hash: "t", Kind: store.KindRefresh, ServerID: "s1", FamilyID: "f"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RedeemAuthCode(ctx, "s1", "c", time.Time{}); err == nil {
		t.Error("RedeemAuthCode with zero now succeeded")
	}
	if _, err := s.RotateRefreshToken(ctx, "s1", "t", "", time.Time{}, time.Second); err == nil {
		t.Error("RotateRefreshToken with zero now succeeded")
	}
	if _, err := s.RevokeToken(ctx, "s1", "t", time.Time{}); err == nil {
		t.Error("RevokeToken with zero now succeeded")
	}
	if _, err := s.RevokeByCode(ctx, "s1", "c", time.Time{}); err == nil {
		t.Error("RevokeByCode with zero now succeeded")
	}
	if tok, err := s.Token(ctx, "s1", "t"); err != nil || !tok.RotatedAt.IsZero() || !tok.RevokedAt.IsZero() {
		t.Errorf("refresh token was changed by the refused calls: %+v, %v", tok, err)
	}
	if _, err := s.RedeemAuthCode(ctx, "s1", "c", time.Now()); err != nil {
		t.Errorf("code was consumed by the refused call: %v", err)
	}
}
