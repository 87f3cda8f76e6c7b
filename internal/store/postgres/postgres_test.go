package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/store/postgres"
	"github.com/mcp-obs/mcp-obs/internal/store/postgres/pgtest"
	"github.com/mcp-obs/mcp-obs/internal/store/storetest"
)

func open(t testing.TB, dbURL string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), dbURL)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestStore_PassesConformanceSuite(t *testing.T) {
	pgtest.ServerURL(t)
	storetest.Run(t, openFresh)
}

// openFresh opens a store on a new schema, for the suites every backend runs.
func openFresh(tb testing.TB) store.Store {
	return open(tb, pgtest.FreshSchema(tb))
}

func TestOpen_ConcurrentReplicasMigrateExactlyOnce(t *testing.T) {
	dbURL := pgtest.FreshSchema(t)
	const replicas = 4
	var wg sync.WaitGroup
	stores := make([]*postgres.Store, replicas)
	errs := make([]error, replicas)
	start := make(chan struct{})
	for i := range replicas {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = postgres.Open(t.Context(), dbURL)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: Open: %v", i, err)
			continue
		}
		defer stores[i].Close()
	}

	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migration files: %v, %v", files, err)
	}
	var rows, versions int
	if err := conn.QueryRow(t.Context(), `SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations`).Scan(&rows, &versions); err != nil {
		t.Fatal(err)
	}
	if rows != len(files) || versions != len(files) {
		t.Errorf("schema_migrations holds %d rows for %d versions, want each of the %d migrations recorded once", rows, versions, len(files))
	}
}

// A database written before 0002_grant_lineage keeps working after the
// upgrade: its tokens have no parent, its codes no revoked mark, and its
// refresh tokens rotate.
func TestOpen_UpgradesAVersion1DatabaseKeepingItsGrantsUsable(t *testing.T) {
	dbURL := pgtest.FreshSchema(t)
	v1, err := os.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	storetest.UpgradeFromV1(t, string(v1),
		func(q string) error { _, err := conn.Exec(t.Context(), q); return err },
		func() store.Store {
			s := open(t, dbURL)
			t.Cleanup(func() { s.Close() })
			return s
		})
}

func TestOpen_ReopeningAppliesNothingAndKeepsData(t *testing.T) {
	dbURL := pgtest.FreshSchema(t)
	s := open(t, dbURL)
	if err := s.CreateServer(t.Context(), &store.Server{ID: "a", Slug: "acme"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open(t, dbURL)
	defer s.Close()
	if _, err := s.ServerBySlug(t.Context(), "acme"); err != nil {
		t.Errorf("server after reopening: %v", err)
	}
}

func TestOpen_UnreachableServerFailsWithoutLeakingPassword(t *testing.T) {
	_, err := postgres.Open(t.Context(), "postgres://u:s3cret-pw@127.0.0.1:1/db?sslmode=disable&connect_timeout=5")
	if err == nil {
		t.Fatal("Open of a server on port 1 succeeded")
	}
	if want := "s3cret-pw"; strings.Contains(err.Error(), want) {
		t.Errorf("error leaks the password: %v", err)
	}
	_, err = postgres.Open(t.Context(), "postgres://u:s3cret-pw@127.0.0.1:notaport/db")
	if err == nil || strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("malformed URL: err = %v, want an error without the password", err)
	}
}

// twoReplicas opens two Stores, two connection pools, on one fresh schema,
// as two platform processes would.
func twoReplicas(t *testing.T) (a, b *postgres.Store) {
	t.Helper()
	dbURL := pgtest.FreshSchema(t)
	a, b = open(t, dbURL), open(t, dbURL)
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// onBothReplicas runs call for callers 0..n-1 at once, after a barrier,
// the even ones on a and the odd ones on b.
func onBothReplicas(a, b *postgres.Store, n int, call func(i int, replica *postgres.Store)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		replica := a
		if i%2 == 1 {
			replica = b
		}
		wg.Go(func() {
			<-start
			call(i, replica)
		})
	}
	close(start)
	wg.Wait()
}

func TestRedeemAuthCode_AtomicAcrossReplicas(t *testing.T) {
	a, b := twoReplicas(t)
	ctx := t.Context()
	t0 := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	if err := a.CreateServer(ctx, &store.Server{ID: "srv", Slug: "acme"}); err != nil {
		t.Fatal(err)
	}
	if err := a.CreateAuthCode(ctx, &store.AuthCode{Hash: "code", ServerID: "srv", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	const callers = 16
	errs := make([]error, callers)
	onBothReplicas(a, b, callers, func(i int, replica *postgres.Store) {
		_, errs[i] = replica.RedeemAuthCode(ctx, "srv", "code", t0.Add(time.Duration(i+1)*time.Millisecond))
	})
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, store.ErrCodeUsed):
			t.Errorf("caller %d: %v", i, err)
		}
	}
	if wins != 1 {
		t.Errorf("%d of %d redemptions on two replicas succeeded, want exactly 1", wins, callers)
	}
}

func TestRotateRefreshToken_ConcurrentUsesAcrossReplicasLeaveOneLiveChain(t *testing.T) {
	a, b := twoReplicas(t)
	ctx := t.Context()
	t0 := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	if err := a.CreateServer(ctx, &store.Server{ID: "srv", Slug: "acme"}); err != nil {
		t.Fatal(err)
	}
	rt := &store.Token{Hash: "rt", Kind: store.KindRefresh, ServerID: "srv", ClientID: "c1", FamilyID: "f",
		IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := a.IssueTokens(ctx, rt); err != nil {
		t.Fatal(err)
	}
	const callers = 16
	outcomes := make([]store.RotationOutcome, callers)
	onBothReplicas(a, b, callers, func(i int, replica *postgres.Store) {
		next := &store.Token{Hash: fmt.Sprintf("rt-%d", i), Kind: store.KindRefresh, ServerID: "srv", ClientID: "c1",
			FamilyID: "f", ParentHash: "rt", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		rot, err := replica.RotateRefreshToken(ctx, "srv", "rt", "c1", t0.Add(time.Minute), 10*time.Second, next)
		if err != nil {
			t.Errorf("caller %d: %v", i, err)
			return
		}
		outcomes[i] = rot.Outcome
	})
	firsts, live := 0, 0
	for i, o := range outcomes {
		if o == store.RotationFirstUse {
			firsts++
		}
		tok, err := a.Token(ctx, "srv", fmt.Sprintf("rt-%d", i))
		if err != nil {
			t.Fatalf("Token: %v", err)
		}
		if tok.RevokedAt.IsZero() {
			live++
		}
	}
	if firsts != 1 || live != 1 {
		t.Errorf("%d first uses and %d live refresh tokens after %d concurrent uses on two replicas, want 1 and 1", firsts, live, callers)
	}
}
