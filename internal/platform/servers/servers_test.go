package servers

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/store/sqlite"
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

func TestParseScopes_SpacesAndCommas(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"read write", []string{"read", "write"}},
		{"read,write", []string{"read", "write"}},
		{" read, write  read ", []string{"read", "write"}},
		{"", nil},
	}
	for _, tt := range tests {
		if got := ParseScopes(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("ParseScopes(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestCreate_StoresOnlyTheSecretHashAndRejectsDuplicates(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	srv, creds, err := Create(ctx, st, Spec{Slug: "test", ResourceURL: "http://localhost:3006/mcp", Scopes: []string{"read", "write"}}, time.Now())
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
	_, _, err = Create(ctx, st, Spec{Slug: "test", ResourceURL: "http://localhost:3007/mcp", Scopes: []string{"read"}}, time.Now())
	if !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), `"test" already exists`) {
		t.Fatalf("duplicate slug: err = %v, want conflict naming the slug", err)
	}
}

func TestCreate_RejectsBadSpecs(t *testing.T) {
	st := openStore(t)
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
		if _, _, err := Create(context.Background(), st, tt.spec, time.Now()); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", tt.name, err)
		}
	}
}

func TestRotateSecret_OldSecretStopsWorking(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	_, old, err := Create(ctx, st, Spec{Slug: "test", ResourceURL: "http://localhost:3006/mcp", Scopes: []string{"read"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	creds, err := RotateSecret(ctx, st, "test")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := st.ServerBySlug(ctx, "test")
	if secret.Matches(old.ClientSecret, got.ClientSecretHash) || !secret.Matches(creds.ClientSecret, got.ClientSecretHash) {
		t.Fatal("after rotation the old secret must fail and the new one verify")
	}
	if _, err := RotateSecret(ctx, st, "nope"); !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("unknown slug: err = %v", err)
	}
}

func TestUpdate_ChangesOnlyWhatIsGivenAndValidates(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	if _, _, err := Create(ctx, st, Spec{Slug: "test", Name: "Test", ResourceURL: "http://localhost:3006/mcp", Scopes: []string{"read"}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	resource, signup := "http://localhost:3007/mcp", true
	srv, err := Update(ctx, st, "test", Change{ResourceURL: &resource, Scopes: []string{"read", "admin"}, AllowSignup: &signup})
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
		if _, err := Update(ctx, st, "test", change); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := Update(ctx, st, "nope", Change{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown slug: err = %v", err)
	}
}

// Scope lists reach ParseScopes from operators (the CLI, the admin API), who
// may paste anything: repeats are dropped with a set, so a list of a million
// scopes takes linear work. Comparing each scope with every earlier one would
// take hours here, so on such a parser this test does not finish; it asserts
// no time, only the answer.
func TestParseScopes_MegabytesOfDistinctScopesTakeLinearWork(t *testing.T) {
	var b strings.Builder
	n := 0
	for ; b.Len() < 4<<20; n++ {
		b.WriteString(strconv.FormatInt(int64(n), 16))
		b.WriteByte(',')
	}
	if got := ParseScopes(b.String() + b.String()); len(got) != n {
		t.Fatalf("ParseScopes of %d distinct scopes, each given twice, gave %d", n, len(got))
	}
}
