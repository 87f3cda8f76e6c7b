package clients

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

func TestExpireUnused_RemovesOnlyNeverUsedClientsPastTTLIncludingCachedDocuments(t *testing.T) {
	h := newHarness(t, Options{Dev: true, UnusedClientTTL: 24 * time.Hour})
	ctx := context.Background()
	unused := h.mustRegister(t, `{"redirect_uris":["https://a.example/cb"]}`)["client_id"].(string)
	used := h.mustRegister(t, `{"redirect_uris":["https://b.example/cb"]}`)["client_id"].(string)
	if err := h.st.TouchClient(ctx, h.srv.ID, used, h.clock.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	d := newDocHost(t, false)
	d.set(http.StatusOK, nil, validDoc)
	doc := d.ts.URL + "/client.json"
	if _, err := h.lookup(t, doc); err != nil {
		t.Fatal(err)
	}

	h.clock.Advance(23 * time.Hour)
	if n, err := h.reg.ExpireUnused(ctx); err != nil || n != 0 {
		t.Fatalf("ExpireUnused before the TTL = %d, %v; want 0", n, err)
	}

	h.clock.Advance(2 * time.Hour)
	fresh := h.mustRegister(t, `{"redirect_uris":["https://c.example/cb"]}`)["client_id"].(string)
	n, err := h.reg.ExpireUnused(ctx)
	if err != nil || n != 2 {
		t.Fatalf("ExpireUnused = %d, %v; want 2 (the unused registration and the unused document)", n, err)
	}
	for _, id := range []string{unused, doc} {
		if _, err := h.st.Client(ctx, h.srv.ID, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unused client %s survived: %v", id, err)
		}
	}
	for _, id := range []string{used, fresh} {
		h.storedClient(t, id)
	}
	// An expired document is fetched again when it is next named.
	if _, err := h.lookup(t, doc); err != nil {
		t.Fatalf("lookup after expiry: %v", err)
	}
	h.storedClient(t, doc)
}

func TestNew_DefaultUnusedClientTTLIs24Hours(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := context.Background()
	id := h.mustRegister(t, `{"redirect_uris":["https://a.example/cb"]}`)["client_id"].(string)
	h.clock.Advance(24*time.Hour - time.Second)
	if n, _ := h.reg.ExpireUnused(ctx); n != 0 {
		t.Fatalf("expired %d clients before 24 hours", n)
	}
	h.clock.Advance(2 * time.Second)
	if n, _ := h.reg.ExpireUnused(ctx); n != 1 {
		t.Fatalf("expired %d clients after 24 hours, want 1", n)
	}
	if _, err := h.st.Client(ctx, h.srv.ID, id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("client survived: %v", err)
	}
}
