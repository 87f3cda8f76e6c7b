package servers

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

// The admin commands print these errors as they are: one line that says what
// is wrong and what to do, without the storage driver's words.
func TestErrors_DuplicateAndUnknownSlugSayOnlyWhatIsWrong(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	svc := New(Options{Store: st})
	spec := Spec{Slug: "test", ResourceURL: "http://localhost:3006/mcp", Scopes: []string{"read"}}
	if _, _, err := svc.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	_, _, dup := svc.Create(ctx, spec)
	_, unknown := svc.Get(ctx, "nope")
	for _, tt := range []struct {
		name     string
		err      error
		sentinel error
		want     string
	}{
		{"duplicate slug", dup, store.ErrConflict, `server "test" already exists`},
		{"unknown slug", unknown, store.ErrNotFound, `no server with slug "nope"`},
	} {
		if !errors.Is(tt.err, tt.sentinel) || !strings.Contains(tt.err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %v naming the slug", tt.name, tt.err, tt.sentinel)
			continue
		}
		for _, noise := range []string{"sqlite", "constraint", "UNIQUE", "(2067)", ": not found", ": already exists"} {
			if strings.Contains(tt.err.Error(), noise) {
				t.Errorf("%s: error %q carries storage details (%q)", tt.name, tt.err, noise)
			}
		}
	}
}
