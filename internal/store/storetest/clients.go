package storetest

import (
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

var clientCases = rules([]rule[clientRoles]{
	{"Client/RoundTripsEveryField", func(t *testing.T, s clientRoles) {
		sv := newServer(t, s, "acme")
		dcr := &store.Client{
			ServerID: sv.ID, ClientID: "c-dcr", Name: "Claude",
			RedirectURIs:            []string{"http://127.0.0.1:33418/callback", "cursor://anysphere.cursor-retrieval/oauth/callback", "https://claude.ai/api/mcp/auth_callback"},
			GrantTypes:              []string{"authorization_code", "refresh_token"},
			ResponseTypes:           []string{"code"},
			TokenEndpointAuthMethod: "client_secret_basic",
			SecretHash:              "secret-hash", RegistrationTokenHash: "reg-hash",
			Scope: "tools:read tools:write", ClientURI: "https://claude.ai", LogoURI: "https://claude.ai/logo.png",
			Source: store.SourceDCR, IssuedAt: t0, LastUsedAt: at(time.Minute), CachedUntil: at(time.Hour),
		}
		cimd := &store.Client{
			ServerID: sv.ID, ClientID: "https://app.example.com/oauth/client.json", Name: "Example",
			RedirectURIs: []string{"https://app.example.com/cb"}, TokenEndpointAuthMethod: "none",
			Source: store.SourceCIMD, CachedUntil: at(24 * time.Hour),
		}
		for _, c := range []*store.Client{dcr, cimd} {
			noErr(t, "CreateClient", s.CreateClient(t.Context(), c))
			got, err := s.Client(t.Context(), sv.ID, c.ClientID)
			noErr(t, "Client", err)
			want := *c
			if want.GrantTypes == nil {
				want.GrantTypes = []string{}
			}
			if want.ResponseTypes == nil {
				want.ResponseTypes = []string{}
			}
			equal(t, "client "+c.ClientID, got, &want)
		}
	}},
	{"Client/DuplicateIDOnOneServerConflicts", func(t *testing.T, s clientRoles) {
		sv := newServer(t, s, "acme")
		newClient(t, s, sv.ID, "c1")
		err := s.CreateClient(t.Context(), &store.Client{ServerID: sv.ID, ClientID: "c1", Source: store.SourceDCR})
		wantErr(t, "second CreateClient", err, store.ErrConflict)
	}},
	{"Client/IsolatedPerServer", func(t *testing.T, s clientRoles) {
		a, b := newServer(t, s, "a"), newServer(t, s, "b")
		newClient(t, s, a.ID, "shared-id")
		_, err := s.Client(t.Context(), b.ID, "shared-id")
		wantErr(t, "server A's client looked up under server B", err, store.ErrNotFound)
		// The same id may be registered on the other server independently.
		cb := newClient(t, s, b.ID, "shared-id")
		cb.Name = "B's"
		noErr(t, "PutClient on B", s.PutClient(t.Context(), cb))
		got, err := s.Client(t.Context(), a.ID, "shared-id")
		noErr(t, "Client on A", err)
		if got.Name == "B's" {
			t.Error("writing server B's client changed server A's")
		}
	}},
	{"Client/PutInsertsThenReplacesEveryField", func(t *testing.T, s clientRoles) {
		sv := newServer(t, s, "acme")
		c := &store.Client{
			ServerID: sv.ID, ClientID: "https://app.example.com/client.json", Name: "v1",
			RedirectURIs: []string{"https://app.example.com/cb"}, GrantTypes: []string{"authorization_code"},
			ResponseTypes: []string{"code"}, TokenEndpointAuthMethod: "none", Source: store.SourceCIMD,
			LastUsedAt: at(time.Minute), CachedUntil: at(time.Hour),
		}
		noErr(t, "PutClient(insert)", s.PutClient(t.Context(), c))
		got, err := s.Client(t.Context(), sv.ID, c.ClientID)
		noErr(t, "Client", err)
		equal(t, "inserted", got, c)

		v2 := &store.Client{
			ServerID: sv.ID, ClientID: c.ClientID, Name: "v2",
			RedirectURIs: []string{"https://app.example.com/cb2", "http://localhost/cb"}, GrantTypes: []string{"authorization_code", "refresh_token"},
			ResponseTypes: []string{"code"}, TokenEndpointAuthMethod: "none", Scope: "read", ClientURI: "https://app.example.com",
			LogoURI: "https://app.example.com/l.png", Source: store.SourceCIMD, CachedUntil: at(2 * time.Hour),
		}
		noErr(t, "PutClient(replace)", s.PutClient(t.Context(), v2))
		got, err = s.Client(t.Context(), sv.ID, c.ClientID)
		noErr(t, "Client", err)
		equal(t, "replaced", got, v2)
	}},
	{"Client/DeleteRemovesOnlyThatClient", func(t *testing.T, s clientRoles) {
		sv := newServer(t, s, "acme")
		newClient(t, s, sv.ID, "c1")
		newClient(t, s, sv.ID, "c2")
		noErr(t, "DeleteClient", s.DeleteClient(t.Context(), sv.ID, "c1"))
		_, err := s.Client(t.Context(), sv.ID, "c1")
		wantErr(t, "Client after delete", err, store.ErrNotFound)
		_, err = s.Client(t.Context(), sv.ID, "c2")
		noErr(t, "the other client", err)
		wantErr(t, "DeleteClient(missing)", s.DeleteClient(t.Context(), sv.ID, "c1"), store.ErrNotFound)
	}},
	{"Client/DeleteKeepsItsTokens", func(t *testing.T, s clientRoles) {
		sv := newServer(t, s, "acme")
		newClient(t, s, sv.ID, "c1")
		tok := newToken(tokenFixture{serverID: sv.ID, clientID: "c1", family: "f1"})
		issue(t, s, tok)
		noErr(t, "DeleteClient", s.DeleteClient(t.Context(), sv.ID, "c1"))
		got := mustToken(t, s, sv.ID, tok.Hash)
		if !got.RevokedAt.IsZero() {
			t.Error("DeleteClient revoked a token; callers revoke first")
		}
	}},
	{"Client/TouchSetsLastUsedAt", func(t *testing.T, s clientRoles) {
		sv := newServer(t, s, "acme")
		newClient(t, s, sv.ID, "c1")
		noErr(t, "TouchClient", s.TouchClient(t.Context(), sv.ID, "c1", at(time.Minute)))
		got, err := s.Client(t.Context(), sv.ID, "c1")
		noErr(t, "Client", err)
		equal(t, "LastUsedAt", got.LastUsedAt, at(time.Minute))
		wantErr(t, "TouchClient(missing)", s.TouchClient(t.Context(), sv.ID, "nope", t0), store.ErrNotFound)
	}},
	{"Client/DeleteUnusedRemovesOnlyNeverUsedClientsOlderThanCutoff", func(t *testing.T, s clientRoles) {
		a, b := newServer(t, s, "a"), newServer(t, s, "b")
		cutoff := at(-24 * time.Hour)
		type row struct {
			server   *store.Server
			id       string
			source   string
			issued   time.Time
			lastUsed time.Time
			removed  bool
		}
		rows := []row{
			{a, "old-unused-dcr", store.SourceDCR, at(-48 * time.Hour), time.Time{}, true},
			{b, "old-unused-dcr-on-b", store.SourceDCR, at(-25 * time.Hour), time.Time{}, true},
			{a, "old-used-dcr", store.SourceDCR, at(-48 * time.Hour), at(-47 * time.Hour), false},
			{a, "new-unused-dcr", store.SourceDCR, at(-time.Hour), time.Time{}, false},
			{a, "at-cutoff-dcr", store.SourceDCR, cutoff, time.Time{}, false},
			{a, "https://x.example/old-cimd.json", store.SourceCIMD, at(-48 * time.Hour), time.Time{}, true},
			{a, "https://x.example/used-cimd.json", store.SourceCIMD, at(-48 * time.Hour), at(-47 * time.Hour), false},
		}
		for _, r := range rows {
			noErr(t, "CreateClient", s.CreateClient(t.Context(), &store.Client{
				ServerID: r.server.ID, ClientID: r.id, Source: r.source, IssuedAt: r.issued, LastUsedAt: r.lastUsed,
			}))
		}
		n, err := s.DeleteUnusedClients(t.Context(), cutoff)
		noErr(t, "DeleteUnusedClients", err)
		if n != 3 {
			t.Errorf("DeleteUnusedClients removed %d, want 3", n)
		}
		for _, r := range rows {
			_, err := s.Client(t.Context(), r.server.ID, r.id)
			if gone := err != nil; gone != r.removed {
				t.Errorf("client %q: removed = %v (err %v), want %v", r.id, gone, err, r.removed)
			}
		}
	}},
})
