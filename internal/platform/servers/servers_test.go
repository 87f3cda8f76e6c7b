package servers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/testkit"
	"github.com/mcp-obs/mcp-obs/internal/testkit/testdb"

	"golang.org/x/sync/errgroup"
)

func TestValidateSlug(t *testing.T) {
	tests := []struct {
		slug string
		ok   bool
	}{
		{"test", true},
		{"my-company", true},
		{"a", true},
		{"a1b2", true},
		{strings.Repeat("a", 63), true},
		{strings.Repeat("a", 64), false},
		{"", false},
		{"-test", false},
		{"test-", false},
		{"Test", false},
		{"te_st", false},
		{"te.st", false},
		{"../x", false},
		{"api", false},
		{"admin", false},
		{"t", false},
	}
	for _, tt := range tests {
		err := ValidateSlug(tt.slug)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateSlug(%q) = %v, want ok=%v", tt.slug, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateSlug(%q) error does not wrap ErrInvalid: %v", tt.slug, err)
		}
	}
}

func openStore(t *testing.T) store.Store {
	t.Helper()
	st := testdb.SQLite(t)
	return st
}

func TestCreate_StoresOnlyTheSecretHashAndRejectsDuplicates(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	svc := New(Options{Store: st})
	srv, creds, err := svc.Create(ctx, Spec{Slug: "test", ResourceURL: "http://localhost:3006/mcp", Scopes: []string{"read", "write"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(creds.ClientSecret, secret.PrefixServerSecret) || creds.ClientID != srv.ClientID {
		t.Fatalf("credentials %+v do not match server %+v", creds, srv)
	}
	got, err := st.ServerBySlug(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	if got.ClientSecretHash == creds.ClientSecret || !secret.Matches(creds.ClientSecret, got.ClientSecretHash) {
		t.Fatalf("stored secret hash %q does not verify the secret", got.ClientSecretHash)
	}
	if got.Name != "test" || !slices.Equal(got.DefaultScopes, []string{"read", "write"}) || got.AccessTokenTTL != DefaultAccessTokenTTL {
		t.Fatalf("defaults not applied: %+v", got)
	}
	_, _, err = svc.Create(ctx, Spec{Slug: "test", ResourceURL: "http://localhost:3007/mcp", Scopes: []string{"read"}})
	if !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), `"test" already exists`) {
		t.Fatalf("duplicate slug: err = %v, want conflict naming the slug", err)
	}
}

func TestCreate_RejectsBadSpecs(t *testing.T) {
	st := openStore(t)
	svc := New(Options{Store: st})
	tests := []struct {
		name string
		spec Spec
	}{
		{"bad slug", Spec{Slug: "Bad Slug", ResourceURL: "http://localhost:3006/mcp", Scopes: []string{"read"}}},
		{"relative resource", Spec{Slug: "a", ResourceURL: "/mcp", Scopes: []string{"read"}}},
		{"resource with fragment", Spec{Slug: "a", ResourceURL: "http://localhost/mcp#x", Scopes: []string{"read"}}},
		{"no scopes", Spec{Slug: "a", ResourceURL: "http://localhost/mcp"}},
		{"scope with quote", Spec{Slug: "a", ResourceURL: "http://localhost/mcp", Scopes: []string{`re"ad`}}},
	}
	for _, tt := range tests {
		if _, _, err := svc.Create(context.Background(), tt.spec); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", tt.name, err)
		}
	}
}

func TestRotateSecret_OldSecretStopsWorking(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	svc := New(Options{Store: st})
	_, old, err := svc.Create(ctx, Spec{Slug: "test", ResourceURL: "http://localhost:3006/mcp", Scopes: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}
	creds, err := svc.RotateSecret(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := st.ServerBySlug(ctx, "test")
	if secret.Matches(old.ClientSecret, got.ClientSecretHash) || !secret.Matches(creds.ClientSecret, got.ClientSecretHash) {
		t.Fatal("after rotation the old secret must fail and the new one verify")
	}
	if _, err := svc.RotateSecret(ctx, "nope"); !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("unknown slug: err = %v", err)
	}
}

func TestUpdate_ChangesOnlyWhatIsGivenAndValidates(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	svc := New(Options{Store: st})
	if _, _, err := svc.Create(ctx, Spec{Slug: "test", Name: "Test", ResourceURL: "http://localhost:3006/mcp", Scopes: []string{"read"}}); err != nil {
		t.Fatal(err)
	}
	resource, signup := "http://localhost:3007/mcp", true
	srv, err := svc.Update(ctx, "test", Change{ResourceURL: &resource, Scopes: []string{"read", "admin"}, AllowSignup: &signup})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := st.ServerBySlug(ctx, "test")
	if got.ResourceURL != resource || !slices.Equal(got.Scopes, []string{"read", "admin"}) || !slices.Equal(got.DefaultScopes, got.Scopes) ||
		!got.AllowSignup || got.Name != "Test" || got.ClientID != srv.ClientID {
		t.Fatalf("after update: %+v", got)
	}
	bad := "http://LOCALHOST:3007/mcp"
	empty := ""
	for name, change := range map[string]Change{
		"resource URL clients would normalize": {ResourceURL: &bad},
		"empty name":                           {Name: &empty},
		"no scopes":                            {Scopes: []string{}},
	} {
		if _, err := svc.Update(ctx, "test", change); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := svc.Update(ctx, "nope", Change{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown slug: err = %v", err)
	}
}

// The scope rule (package scope) reads a comma as a delimiter, so a scope
// holding one could be offered but never asked for. Before the platform's
// scope readings were one, such a scope was accepted here.
func TestCreate_ScopeTheScopeRuleCannotCarryIsRefused(t *testing.T) {
	svc := New(Options{Store: openStore(t)})
	for _, bad := range []string{"read,write", "read write", "ré", `"read"`, `re\ad`, "read\u00a0write"} {
		_, _, err := svc.Create(context.Background(), Spec{Slug: "test", ResourceURL: "http://localhost:3006/mcp", Scopes: []string{bad}})
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), fmt.Sprintf("%q", bad)) {
			t.Errorf("scope %q: err = %v, want ErrInvalid naming it", bad, err)
		}
	}
}

func TestList_EveryServerBySlugWithTheServicesClock(t *testing.T) {
	clock := testkit.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	svc := New(Options{Store: openStore(t), Now: clock.Now})
	ctx := context.Background()
	if list, err := svc.List(ctx); err != nil || len(list) != 0 {
		t.Fatalf("List of no servers = %v, %v", list, err)
	}
	for _, slug := range []string{"zeta", "alpha"} {
		if _, _, err := svc.Create(ctx, Spec{Slug: slug, ResourceURL: "http://localhost:3006/mcp", Scopes: []string{"read"}}); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Hour)
	}
	list, err := svc.List(ctx)
	if err != nil || len(list) != 2 || list[0].Slug != "alpha" || list[1].Slug != "zeta" {
		t.Fatalf("List = %v, %v; want alpha, zeta", list, err)
	}
	if want := time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC); !list[0].CreatedAt.Equal(want) {
		t.Errorf("alpha created at %v, want the service clock's %v", list[0].CreatedAt, want)
	}
}

// A rename and a secret rotation at once must both stick: the secret just
// printed to the operator has to work, and the new name must stay.
func TestUpdateAndRotateSecret_AtOnceNeitherUndoesTheOther(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	svc := New(Options{Store: st, RotationWait: -1}) // 30 rotations: no platform reads this store
	if _, _, err := svc.Create(ctx, Spec{Slug: "test", ResourceURL: "http://localhost:3006/mcp", Scopes: []string{"read"}}); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		name := fmt.Sprintf("Name %d", i)
		var creds Credentials
		var g errgroup.Group
		start := make(chan struct{})
		g.Go(func() error {
			<-start
			_, err := svc.Update(ctx, "test", Change{Name: &name})
			return err
		})
		g.Go(func() error {
			<-start
			var err error
			creds, err = svc.RotateSecret(ctx, "test")
			return err
		})
		close(start)
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
		got, err := st.ServerBySlug(ctx, "test")
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != name || !secret.Matches(creds.ClientSecret, got.ClientSecretHash) {
			t.Fatalf("round %d: name %q (want %q), printed secret works: %v: one change undid the other",
				i, got.Name, name, secret.Matches(creds.ClientSecret, got.ClientSecretHash))
		}
	}
}
