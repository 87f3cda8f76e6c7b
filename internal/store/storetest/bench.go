package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// benchTokens is how many access tokens the lookup benchmarks choose from.
const benchTokens = 10000

// Bench runs the store's hot paths as sub-benchmarks, the same for every
// backend, so their figures compare (benchstat): the lookups of an
// introspection, a code redemption with its token issue, and a refresh
// rotation. open must return a fresh, empty store; it is called with b once
// per sub-benchmark (not once per round of b.N), and the store is closed
// when b ends.
func Bench(b *testing.B, open func(tb testing.TB) store.Store) {
	for _, bm := range []struct {
		name   string
		tokens int
		run    func(b *testing.B, f *benchFixture)
	}{
		{"Token", benchTokens, benchToken},
		{"Introspection", benchTokens, benchIntrospection},
		{"RedeemAndIssue", 0, benchRedeemAndIssue},
		{"RotateRefreshToken", 0, benchRotate},
	} {
		// Opened here, where a skip (no PostgreSQL) or a failure may stop b,
		// and seeded by the sub-benchmark's first round, if it runs at all.
		f := &benchFixture{s: open(b)}
		b.Cleanup(func() { f.s.Close() })
		seeded := false
		b.Run(bm.name, func(sub *testing.B) {
			if !seeded {
				f.hashes = seedBench(sub, f.s, bm.tokens)
				seeded = true
			}
			sub.ResetTimer()
			bm.run(sub, f)
		})
	}
}

// benchFixture is one sub-benchmark's store, kept across its rounds.
type benchFixture struct {
	s      store.Store
	hashes []string      // the access tokens seedBench stored
	ids    atomic.Uint64 // names no earlier round used, for the rows a round writes
}

// seedBench stores one server, one user and n access tokens, and returns
// the tokens' hashes.
func seedBench(b *testing.B, s store.Store, n int) []string {
	b.Helper()
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
	return hashes
}

// round is one operation of a benchmark, run by one of its goroutines.
type round func(ctx context.Context) error

// runRounds runs rounds from parallel goroutines, b.N in all, and fails the
// benchmark on the first error. Each goroutine gets its rounds from start
// (which may keep state across them, and prepare with ctx).
func runRounds(b *testing.B, start func(ctx context.Context) (round, error)) {
	b.RunParallel(func(pb *testing.PB) {
		ctx := b.Context()
		r, err := start(ctx)
		for err == nil && pb.Next() {
			err = r(ctx)
		}
		if err != nil {
			b.Error(err)
		}
	})
}

// nextHash returns the seeded access tokens in turn.
func (f *benchFixture) nextHash() string {
	return f.hashes[f.ids.Add(1)%uint64(len(f.hashes))]
}

// tokenPair returns the access and refresh token a code or a refresh
// (parent, "" for a code) issues in family at now, under fresh names.
func (f *benchFixture) tokenPair(family, code, parent string, now time.Time) (access, refresh *store.Token) {
	token := func(kind store.TokenKind) *store.Token {
		return &store.Token{Hash: fmt.Sprintf("%s-%d", kind, f.ids.Add(1)), Kind: kind, ServerID: "s1", ClientID: "c1",
			UserID: "u1", Scopes: []string{"read"}, FamilyID: family, CodeHash: code, ParentHash: parent,
			IssuedAt: now, ExpiresAt: now.Add(720 * time.Hour)}
	}
	return token(store.KindAccess), token(store.KindRefresh)
}

// benchToken measures the token lookup alone, from parallel readers.
func benchToken(b *testing.B, f *benchFixture) {
	runRounds(b, func(context.Context) (round, error) {
		return func(ctx context.Context) error {
			_, err := f.s.Token(ctx, "s1", f.nextHash())
			return err
		}, nil
	})
}

// benchIntrospection measures the three reads one introspection makes
// (server by slug, token, user), from parallel readers; 1e9/(ns/op) is the
// introspections per second the store sustains.
func benchIntrospection(b *testing.B, f *benchFixture) {
	runRounds(b, func(context.Context) (round, error) {
		return func(ctx context.Context) error {
			if _, err := f.s.ServerBySlug(ctx, "acme"); err != nil {
				return err
			}
			tok, err := f.s.Token(ctx, "s1", f.nextHash())
			if err == nil {
				_, err = f.s.User(ctx, tok.ServerID, tok.UserID)
			}
			return err
		}, nil
	})
}

// benchRedeemAndIssue measures the write side of a token request: create a
// code, redeem it, issue an access and a refresh token.
func benchRedeemAndIssue(b *testing.B, f *benchFixture) {
	now := time.Now()
	runRounds(b, func(context.Context) (round, error) {
		return func(ctx context.Context) error {
			code := fmt.Sprintf("code-%d", f.ids.Add(1))
			if err := f.s.CreateAuthCode(ctx, &store.AuthCode{Hash: code, ServerID: "s1", ClientID: "c1", UserID: "u1",
				Scopes: []string{"read"}, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}); err != nil {
				return err
			}
			if _, err := f.s.RedeemAuthCode(ctx, "s1", code, now); err != nil {
				return err
			}
			access, refresh := f.tokenPair("fam-"+code, code, "", now)
			return f.s.IssueCodeTokens(ctx, "s1", code, access, refresh)
		}, nil
	})
}

// benchRotate measures a refresh: the first use of a refresh token, which
// marks it rotated and issues its successors (an access and a refresh
// token). Each goroutine walks its own chain, using the refresh token the
// previous round issued.
func benchRotate(b *testing.B, f *benchFixture) {
	now := time.Now()
	runRounds(b, func(ctx context.Context) (round, error) {
		family := fmt.Sprintf("chain-%d", f.ids.Add(1))
		_, current := f.tokenPair(family, "code-"+family, "", now)
		if err := f.s.IssueTokens(ctx, current); err != nil {
			return nil, err
		}
		return func(ctx context.Context) error {
			access, refresh := f.tokenPair(family, "code-"+family, current.Hash, now)
			rot, err := f.s.RotateRefreshToken(ctx, "s1", current.Hash, "c1", now, 10*time.Second, access, refresh)
			if err != nil {
				return err
			}
			if rot.Outcome != store.RotationFirstUse {
				return fmt.Errorf("rotation outcome %d, want first use", rot.Outcome)
			}
			current = refresh
			return nil
		}, nil
	})
}
