package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

var serverCases = rules([]rule[store.Servers]{
	{"Server/RoundTripsEveryField", func(t *testing.T, s store.Servers) {
		want := &store.Server{
			ID: "srv-1", Slug: "acme", Name: "Acme Tools", ResourceURL: "http://localhost:3006/mcp",
			Scopes: []string{"tools:read", "tools:write", "admin"}, DefaultScopes: []string{"tools:read"},
			AllowSignup: true, AccessTokenTTL: 90 * time.Minute, RefreshTokenTTL: 14*24*time.Hour + 1500*time.Millisecond,
			ClientID: "rs_acme", ClientSecretHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			CreatedAt: t0,
		}
		noErr(t, "CreateServer", s.CreateServer(t.Context(), want))
		got, err := s.ServerBySlug(t.Context(), "acme")
		noErr(t, "ServerBySlug", err)
		equal(t, "server", got, want)
	}},
	{"Server/ZeroTimeAndEmptyListsRoundTrip", func(t *testing.T, s store.Servers) {
		nilLists := &store.Server{ID: "a", Slug: "nil-lists"}
		emptyLists := &store.Server{ID: "b", Slug: "empty-lists", Scopes: []string{}, DefaultScopes: []string{}}
		for _, sv := range []*store.Server{nilLists, emptyLists} {
			noErr(t, "CreateServer", s.CreateServer(t.Context(), sv))
			got, err := s.ServerBySlug(t.Context(), sv.Slug)
			noErr(t, "ServerBySlug", err)
			want := *sv
			want.Scopes, want.DefaultScopes = []string{}, []string{}
			equal(t, "server "+sv.Slug, got, &want)
			if !got.CreatedAt.IsZero() {
				t.Errorf("CreatedAt = %v, want the zero time", got.CreatedAt)
			}
		}
	}},
	{"Server/TimesComeBackUTCInMilliseconds", func(t *testing.T, s store.Servers) {
		local := time.Date(2026, 3, 14, 16, 9, 26, 535_999_999, time.FixedZone("CET", 3600))
		noErr(t, "CreateServer", s.CreateServer(t.Context(), &store.Server{ID: "a", Slug: "a", CreatedAt: local}))
		got, err := s.ServerBySlug(t.Context(), "a")
		noErr(t, "ServerBySlug", err)
		if got.CreatedAt.Location() != time.UTC {
			t.Errorf("CreatedAt location = %v, want UTC", got.CreatedAt.Location())
		}
		if !got.CreatedAt.Equal(t0) {
			t.Errorf("CreatedAt = %v, want %v (same instant, truncated to the millisecond)", got.CreatedAt, t0)
		}
	}},
	{"Server/DuplicateSlugConflicts", func(t *testing.T, s store.Servers) {
		newServer(t, s, "acme")
		err := s.CreateServer(t.Context(), &store.Server{ID: "other-id", Slug: "acme"})
		wantErr(t, "second CreateServer with the same slug", err, store.ErrConflict)
	}},
	{"Server/UnknownSlugNotFound", func(t *testing.T, s store.Servers) {
		newServer(t, s, "acme")
		_, err := s.ServerBySlug(t.Context(), "acme2")
		wantErr(t, "ServerBySlug(unknown)", err, store.ErrNotFound)
	}},
	{"Server/FoundByItsResourceServerClientID", func(t *testing.T, s store.Servers) {
		acme := newServer(t, s, "acme")
		newServer(t, s, "other")
		got, err := s.ServerByClientID(t.Context(), "rs_acme")
		noErr(t, "ServerByClientID", err)
		equal(t, "server", got, acme)
		_, err = s.ServerByClientID(t.Context(), "rs_nobody")
		wantErr(t, "ServerByClientID(unknown)", err, store.ErrNotFound)
		_, err = s.ServerByClientID(t.Context(), "RS_ACME")
		wantErr(t, "ServerByClientID(another case)", err, store.ErrNotFound)
	}},
	{"Server/EmptyClientIDFindsNoServerNotEvenOneWithoutCredentials", func(t *testing.T, s store.Servers) {
		noErr(t, "CreateServer", s.CreateServer(t.Context(), &store.Server{ID: "no-creds", Slug: "no-creds"}))
		_, err := s.ServerByClientID(t.Context(), "")
		wantErr(t, `ServerByClientID("")`, err, store.ErrNotFound)
	}},
	{"Server/ClientIDChangedByUpdateFindsTheServerUnderTheNewIDOnly", func(t *testing.T, s store.Servers) {
		acme := newServer(t, s, "acme")
		acme.ClientID = "rs_acme_2"
		_, err := s.UpdateServer(t.Context(), acme.ID, func(sv *store.Server) error { sv.ClientID = acme.ClientID; return nil })
		noErr(t, "UpdateServer", err)
		got, err := s.ServerByClientID(t.Context(), "rs_acme_2")
		noErr(t, "ServerByClientID(new)", err)
		equal(t, "server", got.ID, acme.ID)
		_, err = s.ServerByClientID(t.Context(), "rs_acme")
		wantErr(t, "ServerByClientID(old)", err, store.ErrNotFound)
	}},
	{"Server/ListOrderedBySlug", func(t *testing.T, s store.Servers) {
		got, err := s.ListServers(t.Context())
		noErr(t, "ListServers(empty)", err)
		if len(got) != 0 {
			t.Fatalf("ListServers on an empty store = %d servers", len(got))
		}
		for _, slug := range []string{"mango", "apple", "zebra", "kiwi"} {
			newServer(t, s, slug)
		}
		got, err = s.ListServers(t.Context())
		noErr(t, "ListServers", err)
		var slugs []string
		for _, sv := range got {
			slugs = append(slugs, sv.Slug)
		}
		equal(t, "slugs", slugs, []string{"apple", "kiwi", "mango", "zebra"})
	}},
	{"Server/UpdateReplacesMutableFieldsButNotSlugOrCreatedAt", func(t *testing.T, s store.Servers) {
		orig := newServer(t, s, "acme")
		upd := &store.Server{
			ID: orig.ID, Slug: "renamed", Name: "New name", ResourceURL: "https://mcp.example.com/mcp",
			Scopes: []string{"a", "b", "c"}, DefaultScopes: nil, AllowSignup: true,
			AccessTokenTTL: 5 * time.Minute, RefreshTokenTTL: time.Hour,
			ClientID: "rs_new", ClientSecretHash: "newhash", CreatedAt: at(time.Hour),
		}
		stored, err := s.UpdateServer(t.Context(), orig.ID, func(sv *store.Server) error {
			*sv = *upd
			return nil
		})
		noErr(t, "UpdateServer", err)
		got, err := s.ServerBySlug(t.Context(), "acme")
		noErr(t, "ServerBySlug(original slug)", err)
		want := *upd
		want.Slug, want.CreatedAt, want.DefaultScopes = orig.Slug, orig.CreatedAt, []string{}
		equal(t, "updated server", got, &want)
		equal(t, "server UpdateServer returned", stored, got)
		if _, err := s.ServerBySlug(t.Context(), "renamed"); err == nil {
			t.Error("UpdateServer changed the slug")
		}
	}},
	{"Server/UpdateUnknownNotFound", func(t *testing.T, s store.Servers) {
		_, err := s.UpdateServer(t.Context(), "missing", func(*store.Server) error { return nil })
		wantErr(t, "UpdateServer(unknown)", err, store.ErrNotFound)
	}},
	{"Server/UpdateRefusedByTheChangeStoresNothing", func(t *testing.T, s store.Servers) {
		orig := newServer(t, s, "acme")
		refused := errors.New("refused")
		_, err := s.UpdateServer(t.Context(), orig.ID, func(sv *store.Server) error {
			sv.Name = "half-changed"
			return refused
		})
		if !errors.Is(err, refused) {
			t.Fatalf("UpdateServer = %v, want the change's error", err)
		}
		got, err := s.ServerBySlug(t.Context(), "acme")
		noErr(t, "ServerBySlug", err)
		equal(t, "name", got.Name, orig.Name)
	}},
	{"Server/ConcurrentUpdatesOfDifferentFieldsKeepBoth", func(t *testing.T, s store.Servers) {
		orig := newServer(t, s, "acme")
		// Many rounds of a rename racing a secret rotation: with a
		// read-then-write-all update, one would undo the other.
		for i := range 20 {
			name, hash := fmt.Sprintf("name-%d", i), fmt.Sprintf("hash-%d", i)
			var g errgroup.Group
			start := make(chan struct{})
			g.Go(func() error {
				<-start
				_, err := s.UpdateServer(t.Context(), orig.ID, func(sv *store.Server) error { sv.Name = name; return nil })
				return err
			})
			g.Go(func() error {
				<-start
				_, err := s.UpdateServer(t.Context(), orig.ID, func(sv *store.Server) error { sv.ClientSecretHash = hash; return nil })
				return err
			})
			close(start)
			noErr(t, "concurrent UpdateServer", g.Wait())
			got, err := s.ServerBySlug(t.Context(), "acme")
			noErr(t, "ServerBySlug", err)
			if got.Name != name || got.ClientSecretHash != hash {
				t.Fatalf("round %d: name %q, secret hash %q; want %q and %q: one update undid the other", i, got.Name, got.ClientSecretHash, name, hash)
			}
		}
	}},
})
