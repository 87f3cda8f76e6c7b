package postgres_test

import (
	"context"
	"errors"
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

func open(t *testing.T, dbURL string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), dbURL)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestStore_PassesConformanceSuite(t *testing.T) {
	pgtest.ServerURL(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, pgtest.FreshSchema(t))
	})
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
	var rows, versions int
	if err := conn.QueryRow(t.Context(), `SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations`).Scan(&rows, &versions); err != nil {
		t.Fatal(err)
	}
	if rows != 1 || versions != 1 {
		t.Errorf("schema_migrations holds %d rows for %d versions, want each of the 1 migrations recorded once", rows, versions)
	}
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
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, callers)
	for i := range callers {
		replica := a
		if i%2 == 1 {
			replica = b
		}
		wg.Go(func() {
			<-start
			_, errs[i] = replica.RedeemAuthCode(ctx, "code", t0.Add(time.Duration(i+1)*time.Millisecond))
		})
	}
	close(start)
	wg.Wait()
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

func TestUseRefreshToken_FirstUseAtomicAcrossReplicas(t *testing.T) {
	a, b := twoReplicas(t)
	ctx := t.Context()
	t0 := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	if err := a.CreateServer(ctx, &store.Server{ID: "srv", Slug: "acme"}); err != nil {
		t.Fatal(err)
	}
	if err := a.IssueTokens(ctx, &store.Token{Hash: "rt", Kind: store.KindRefresh, ServerID: "srv", FamilyID: "f",
		IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	const callers = 16
	var wg sync.WaitGroup
	start := make(chan struct{})
	first := make([]bool, callers)
	for i := range callers {
		replica := a
		if i%2 == 1 {
			replica = b
		}
		wg.Go(func() {
			<-start
			tok, err := replica.UseRefreshToken(ctx, "rt", t0.Add(time.Minute))
			if err != nil {
				t.Errorf("caller %d: %v", i, err)
				return
			}
			first[i] = tok.RotatedAt.IsZero()
		})
	}
	close(start)
	wg.Wait()
	n := 0
	for _, f := range first {
		if f {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d of %d callers on two replicas were told they used the refresh token first, want exactly 1", n, callers)
	}
}
