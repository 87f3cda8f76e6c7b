package storetest

import (
	"context"
	"sync"
	"testing"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

// storeCases are rules about the store as a whole rather than one table.
var storeCases = []testCase{
	{"Store/Pings", func(t *testing.T, s store.Store) {
		noErr(t, "Ping", s.Ping(t.Context()))
	}},
	{"Store/ConcurrentWritersAndReadersAllSucceed", func(t *testing.T, s store.Store) {
		sv := newServer(t, s, "acme")
		ctx := t.Context()
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for w := range 8 {
			wg.Go(func() {
				for i := range 5 {
					u := &store.User{ID: string(rune('a'+w)) + string(rune('a'+i)), ServerID: sv.ID,
						Email: string(rune('a'+w)) + string(rune('a'+i)) + "@example.com", PasswordHash: "h", CreatedAt: t0}
					if err := s.CreateUser(ctx, u); err != nil {
						errs <- err
						return
					}
					if _, err := s.User(ctx, sv.ID, u.ID); err != nil {
						errs <- err
						return
					}
					if _, err := s.ServerBySlug(ctx, "acme"); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}},
	{"Store/CanceledContextFailsReadsAndWrites", func(t *testing.T, s store.Store) {
		sv := newServer(t, s, "acme")
		u := newUser(t, s, sv.ID, "ada@example.com")
		newClient(t, s, sv.ID, "c1")
		tok := newToken(tokenFixture{serverID: sv.ID, family: "f1"})
		issue(t, s, tok)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := s.CreateServer(ctx, &store.Server{ID: "x", Slug: "x"}); err == nil {
			t.Error("CreateServer with a canceled context succeeded")
		}
		if _, err := s.ServerBySlug(ctx, sv.Slug); err == nil {
			t.Error("ServerBySlug with a canceled context succeeded")
		}
		if _, err := s.Token(ctx, sv.ID, tok.Hash); err == nil {
			t.Error("Token with a canceled context succeeded")
		}
		if _, err := s.User(ctx, sv.ID, u.ID); err == nil {
			t.Error("User with a canceled context succeeded")
		}
		if _, err := s.Client(ctx, sv.ID, "c1"); err == nil {
			t.Error("Client with a canceled context succeeded")
		}
	}},
}
