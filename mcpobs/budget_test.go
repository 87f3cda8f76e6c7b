package mcpobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mcp-obs/mcp-obs/internal/secret"
)

// postFrom sends a tools/list POST with the bearer token to the protected
// server through client, returning the response and its body.
func postFrom(t *testing.T, client *http.Client, ps *protectedServer, token string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, ps.mcpURL(), strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// startProtectedWithClock is startProtected with the introspector reading the
// time from clock, so that budgets refill only when the test says so.
func startProtectedWithClock(t *testing.T, p *platformFake, clock *fakeClock, tune func(*introspector)) *protectedServer {
	t.Helper()
	ps := startProtectedUninitialized(t, p, okHandler(), nil)
	ps.obs.tuneVerifier = func(in *introspector) {
		in.now = clock.now
		if tune != nil {
			tune(in)
		}
	}
	if err := ps.obs.Initialize(t.Context()); err != nil {
		t.Fatalf("Initialize: %v", err)
	}
	return ps
}

func TestMiddleware_FloodOfUnknownTokensFromOneAddressIsBoundedWhileOthersAndCachedTokensWork(t *testing.T) {
	p := startPlatformFake(t)
	clock := newFakeClock()
	ps := startProtectedWithClock(t, p, clock, nil)
	in := ps.obs.loaded().verifier.(*introspector)
	feedConnected(in) // this test is about the budget, not about freshness
	attacker, other := clientFrom(t, "127.0.0.1"), clientFrom(t, "127.0.0.2")

	p.issue(accessToken("alice"), "user-alice", "alice@example.com", "read", "write")
	if resp, body := postFrom(t, attacker, ps, accessToken("alice")); resp.StatusCode != 200 {
		t.Fatalf("alice before the flood: %d %s", resp.StatusCode, body)
	}

	// 500 distinct well-formed tokens the platform never issued, one after
	// the other from one address, while the clock stands still.
	before := p.introspected.Load()
	var unauthorized, limited int
	for i := range 500 {
		resp, body := postFrom(t, attacker, ps, accessToken(fmt.Sprintf("made-up-%d", i)))
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			unauthorized++
		case http.StatusTooManyRequests:
			limited++
			if ra := resp.Header.Get("Retry-After"); ra != "1" {
				t.Fatalf("429 Retry-After = %q, want 1 (one unit back in 200 ms, rounded up)", ra)
			}
			if e := errorBody(t, body); e.Error != "too_many_requests" || e.Description == "" {
				t.Fatalf("429 body = %s, want a JSON error too_many_requests with a description", body)
			}
			if resp.Header.Get("WWW-Authenticate") != "" {
				t.Fatalf("a 429 must not challenge the client to sign in again: %q", resp.Header.Get("WWW-Authenticate"))
			}
		default:
			t.Fatalf("made-up token %d: status %d %s", i, resp.StatusCode, body)
		}
	}
	if calls := p.introspected.Load() - before; calls != unknownTokenBurst || unauthorized != unknownTokenBurst || limited != 500-unknownTokenBurst {
		t.Fatalf("introspections %d, 401s %d, 429s %d; want %d introspections and 401s, then 429s",
			calls, unauthorized, limited, unknownTokenBurst)
	}

	// Real users are not touched: a cached token from the same address, and
	// another address with unknown and new real tokens.
	before = p.introspected.Load()
	if resp, body := postFrom(t, attacker, ps, accessToken("alice")); resp.StatusCode != 200 {
		t.Fatalf("alice's cached token from the flooding address during the flood: %d %s", resp.StatusCode, body)
	}
	if n := p.introspected.Load() - before; n != 0 {
		t.Errorf("a cached token cost %d introspections", n)
	}
	p.issue(accessToken("bob"), "user-bob", "bob@example.com", "read", "write")
	if resp, body := postFrom(t, other, ps, accessToken("bob")); resp.StatusCode != 200 {
		t.Fatalf("bob's new token from another address during the flood: %d %s", resp.StatusCode, body)
	}
	if resp, body := postFrom(t, other, ps, accessToken("typo of bob")); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("an unknown token from another address during the flood: %d %s, want 401", resp.StatusCode, body)
	}

	// A new real token from the flooding address waits for the budget to
	// refill (it cannot be told from the flood), then works and costs
	// nothing: the platform confirmed it.
	p.issue(accessToken("carol"), "user-carol", "carol@example.com", "read", "write")
	if resp, _ := postFrom(t, attacker, ps, accessToken("carol")); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a new token from the flooding address: %d, want 429 until the budget refills", resp.StatusCode)
	}
	clock.advance(time.Second / unknownTokenRate)
	if resp, body := postFrom(t, attacker, ps, accessToken("carol")); resp.StatusCode != 200 {
		t.Fatalf("carol once one unit is back: %d %s", resp.StatusCode, body)
	}
	if resp, _ := postFrom(t, attacker, ps, accessToken("made-up-again")); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("an unknown token with the unit carol did not spend: %d, want 401", resp.StatusCode)
	}
}

func TestVerify_ConcurrentFloodFromOneAddressRepaysItsOvershoot(t *testing.T) {
	// Tokens are charged after the platform's verdict, so a burst of requests
	// in flight at once may all be asked about; the debt they leave must be
	// repaid before that address is asked about anything new again.
	fp := newFakePlatform(t)
	clock := newFakeClock()
	in, _ := newTestIntrospector(t, fp, func(c *introspectorConfig) { c.Budget = budgetSettings{rate: 1, burst: 5} })
	in.now = clock.now
	const wave = 20
	var start sync.WaitGroup
	start.Add(1)
	var g errgroup.Group
	for range wave {
		g.Go(func() error {
			start.Wait()
			_, err := in.Verify(context.Background(), newToken(), testClient)
			return ignoreExpected(err)
		})
	}
	start.Done()
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	first := fp.calls.Load()
	if first > wave {
		t.Fatalf("introspections = %d for %d requests", first, wave)
	}
	// The debt is wave-5 at most (one per call beyond the burst); at one unit
	// a second it takes that long to be allowed again.
	debt := max(0, first-5)
	clock.advance(time.Duration(debt) * time.Second)
	if _, err := in.Verify(t.Context(), newToken(), testClient); !errors.Is(err, errTooManyUnknownTokens) {
		t.Fatalf("right after repaying the debt (no unit left yet): Verify = %v, want errTooManyUnknownTokens", err)
	}
	clock.advance(time.Second)
	if _, err := in.Verify(t.Context(), newToken(), testClient); !errors.Is(err, errTokenInactive) {
		t.Fatalf("one unit later: Verify = %v, want the platform's verdict", err)
	}
	if n := fp.calls.Load(); n != first+1 {
		t.Errorf("introspections = %d, want %d", n, first+1)
	}
}

// ignoreExpected turns the errors a flood gets into nil.
func ignoreExpected(err error) error {
	if err == nil || errors.Is(err, errTokenInactive) || errors.Is(err, errTooManyUnknownTokens) {
		return nil
	}
	return err
}

func TestUnknownTokenBudget_MapStaysBoundedAndAFloodOfAddressesResetsNoOne(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := newUnknownTokenBudget(budgetSettings{rate: 1, burst: 2, maxAddresses: 3})
	spend := func(addr string, at time.Time) {
		t.Helper()
		if _, ok := b.allow(addr, at); !ok {
			t.Fatalf("%s refused at %s", addr, at.Sub(t0))
		}
		b.charge(addr, at)
	}
	// Three addresses spend their whole budget: the map is full.
	for _, a := range []string{"a", "b", "c"} {
		spend(a, t0)
		spend(a, t0)
	}
	if _, ok := b.allow("a", t0); ok {
		t.Fatal("a allowed beyond its budget")
	}
	// A flood of new addresses cannot push a, b or c out (their budgets are
	// not full again), so it cannot reset them either: the newcomers share
	// one overflow budget of 2.
	spend("d", t0)
	spend("e", t0)
	for i := range 1000 {
		addr := fmt.Sprintf("flood-%d", i)
		if _, ok := b.allow(addr, t0); ok {
			t.Fatalf("%s allowed after the shared budget was spent", addr)
		}
	}
	if n := b.len(); n != 3 {
		t.Fatalf("tracked addresses = %d, want the bound 3", n)
	}
	if _, ok := b.allow("a", t0); ok {
		t.Fatal("a's spent budget was reset by the flood")
	}
	// Once a's budget has refilled completely, its entry is the same as a
	// fresh one and a newcomer may take its place.
	later := t0.Add(2 * time.Second)
	spend("b", later)
	spend("c", later)
	spend("f", later) // takes the place of a, the least recently seen, whose budget had refilled
	if n := b.len(); n != 3 {
		t.Fatalf("tracked addresses = %d, want 3", n)
	}
	spend("f", later) // f has a budget of its own now, not the shared one
	if _, ok := b.allow("f", later); ok {
		t.Fatal("f allowed beyond its own budget")
	}
}

func TestBudgetKey_IsTheConnectionsAddressWithIPv6ReducedToItsSlash64(t *testing.T) {
	tests := []struct{ remote, want string }{
		{"203.0.113.7:5000", "203.0.113.7"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:443", "2001:db8:1:2::/64"},
		{"[::ffff:192.0.2.1]:80", "192.0.2.1"},
		{"@", "@"},
	}
	for _, tt := range tests {
		if got := budgetKey(tt.remote); got != tt.want {
			t.Errorf("budgetKey(%q) = %q, want %q", tt.remote, got, tt.want)
		}
	}
}

func TestMiddleware_ForwardedForHeaderCannotEscapeTheBudget(t *testing.T) {
	p := startPlatformFake(t)
	ps := startProtectedWithClock(t, p, newFakeClock(), func(in *introspector) {
		in.budget = newUnknownTokenBudget(budgetSettings{rate: 1, burst: 1})
	})
	for i, forwarded := range []string{"198.51.100.1", "198.51.100.2"} {
		req, _ := http.NewRequest(http.MethodPost, ps.mcpURL(), strings.NewReader(`{}`))
		req.Header.Set("Authorization", "Bearer "+accessToken(fmt.Sprintf("made-up-%d", i)))
		req.Header.Set("X-Forwarded-For", forwarded)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := []int{401, 429}[i]; resp.StatusCode != want {
			t.Fatalf("unknown token %d (X-Forwarded-For %s): status %d, want %d", i, forwarded, resp.StatusCode, want)
		}
	}
}

// BenchmarkMiddleware_RejectsMalformedTokenLocally measures what a garbage or
// oversized bearer token costs the MCP server now that it never reaches the
// platform: the whole middleware, from header to 401 with its challenge.
func BenchmarkMiddleware_RejectsMalformedTokenLocally(b *testing.B) {
	p := startPlatformFake(b)
	h := initializedFor(b, p, nil).Middleware(okHandler())
	good := secret.New(secret.PrefixAccessToken)
	for _, bc := range []struct{ name, token string }{
		{"garbage", "not-a-token"},
		{"wrong checksum", good[:len(good)-1] + flip(good[len(good)-1])},
		{"refresh token", secret.New(secret.PrefixRefreshToken)},
		{"66000 bytes", strings.Repeat("x", 66000)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			before := p.introspected.Load()
			req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
			req.Header.Set("Authorization", "Bearer "+bc.token)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusUnauthorized {
					b.Fatalf("status %d, want 401", w.Code)
				}
			}
			if n := p.introspected.Load() - before; n != 0 {
				b.Fatalf("introspection calls = %d, want 0", n)
			}
		})
	}
}
