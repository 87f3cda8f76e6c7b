package sqlite

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// benchStore opens a store holding one server, one user and n access tokens.
func benchStore(b *testing.B, n int) (*Store, []string) {
	b.Helper()
	s, err := Open(b.Context(), filepath.Join(b.TempDir(), "db.sqlite"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	ctx := b.Context()
	now := time.Now()
	if err := s.CreateServer(ctx, &store.Server{ID: "s1", Slug: "acme", Scopes: []string{"read", "write"}, AccessTokenTTL: time.Hour}); err != nil {
		b.Fatal(err)
	}
	if err := s.CreateUser(ctx, &store.User{ID: "u1", ServerID: "s1", Email: "a@example.com", PasswordHash: "h"}); err != nil {
		b.Fatal(err)
	}
	hashes := make([]string, n)
	batch := make([]*store.Token, 0, 500)
	for i := range n {
		hashes[i] = secret.Hash(secret.New(secret.PrefixAccessToken))
		batch = append(batch, &store.Token{Hash: hashes[i], Kind: store.KindAccess, ServerID: "s1", ClientID: "c1", UserID: "u1",
			Scopes: []string{"read", "write"}, Resource: "http://localhost:3006/mcp", FamilyID: secret.ID(), CodeHash: secret.ID(),
			IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
		if len(batch) == cap(batch) || i == n-1 {
			if err := s.IssueTokens(ctx, batch...); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	return s, hashes
}

// BenchmarkToken measures the token lookup alone, from parallel readers.
func BenchmarkToken(b *testing.B) {
	s, hashes := benchStore(b, 10000)
	var next atomic.Uint64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h := hashes[next.Add(1)%uint64(len(hashes))]
			if _, err := s.Token(b.Context(), "s1", h); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkIntrospection measures the three reads one introspection makes
// (server by slug, token, user), from parallel readers; 1e9/(ns/op) is the
// introspections per second the store sustains.
func BenchmarkIntrospection(b *testing.B) {
	s, hashes := benchStore(b, 10000)
	var next atomic.Uint64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := b.Context()
		for pb.Next() {
			if _, err := s.ServerBySlug(ctx, "acme"); err != nil {
				b.Error(err)
				return
			}
			tok, err := s.Token(ctx, "s1", hashes[next.Add(1)%uint64(len(hashes))])
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := s.User(ctx, tok.ServerID, tok.UserID); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRedeemAndIssue measures the write side of a token request:
// create a code, redeem it, issue an access and a refresh token. Writers
// share one connection, so this is the store's serial write throughput.
func BenchmarkRedeemAndIssue(b *testing.B) {
	s, _ := benchStore(b, 0)
	var next atomic.Uint64
	now := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := b.Context()
		for pb.Next() {
			i := next.Add(1)
			code := fmt.Sprintf("code-%d", i)
			if err := s.CreateAuthCode(ctx, &store.AuthCode{Hash: code, ServerID: "s1", ClientID: "c1", UserID: "u1",
				Scopes: []string{"read"}, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}); err != nil {
				b.Error(err)
				return
			}
			c, err := s.RedeemAuthCode(ctx, "s1", code, now)
			if err != nil {
				b.Error(err)
				return
			}
			family := fmt.Sprintf("fam-%d", i)
			if err := s.IssueCodeTokens(ctx, "s1", code,
				&store.Token{Hash: fmt.Sprintf("at-%d", i), Kind: store.KindAccess, ServerID: "s1", ClientID: c.ClientID, UserID: c.UserID,
					Scopes: c.Scopes, FamilyID: family, CodeHash: code, IssuedAt: now, ExpiresAt: now.Add(time.Hour)},
				&store.Token{Hash: fmt.Sprintf("rt-%d", i), Kind: store.KindRefresh, ServerID: "s1", ClientID: c.ClientID, UserID: c.UserID,
					Scopes: c.Scopes, FamilyID: family, CodeHash: code, IssuedAt: now, ExpiresAt: now.Add(720 * time.Hour)},
			); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
