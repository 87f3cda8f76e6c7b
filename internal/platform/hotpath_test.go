package platform

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/mcp-obs/mcp-obs/internal/platform/endpoints"
	"github.com/mcp-obs/mcp-obs/internal/platform/servers"
	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/store/postgres"
	"github.com/mcp-obs/mcp-obs/internal/store/postgres/pgtest"
	"github.com/mcp-obs/mcp-obs/internal/testkit/testdb"
)

// These tests hold the introspection hot path (oauth/introspectcache.go) to
// the contract: answers come from memory, yet a revoked, expired or
// foreign token is never reported active, and a rotated secret is refused
// by every replica once the rotation has returned.

// hotClock is a settable clock shared by replicas.
type hotClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *hotClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *hotClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// hotReplica is one platform process: its store, its services and its URL.
type hotReplica struct {
	p   *Platform
	st  store.Store
	url string
}

// hotFixture is a tenant served by one or more replicas on one database,
// with a user who holds tokens.
type hotFixture struct {
	replicas []hotReplica
	clock    *hotClock
	srv      *store.Server
	creds    servers.Credentials
	user     *store.User
}

// newHotFixture starts one replica per store (all on one database) and
// creates the tenant "hot" through the first.
func newHotFixture(t *testing.T, stores ...store.Store) *hotFixture {
	t.Helper()
	f := &hotFixture{clock: &hotClock{now: time.Now().UTC().Truncate(time.Millisecond)}}
	base := endpoints.Base("http://platform.test")
	for _, st := range stores {
		p := New(Config{Base: base, Now: f.clock.Now, PasswordCost: bcrypt.MinCost, Logger: slog.New(slog.DiscardHandler)}, st)
		ts := httptest.NewServer(p.Handler())
		t.Cleanup(ts.Close)
		f.replicas = append(f.replicas, hotReplica{p: p, st: st, url: ts.URL})
	}
	f.setUp(t)
	return f
}

// setUp creates the tenant "hot" and its user through the first replica.
func (f *hotFixture) setUp(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	var err error
	f.srv, f.creds, err = f.replicas[0].p.Servers.Create(ctx, servers.Spec{Slug: "hot", ResourceURL: "http://mcp.test/mcp", Scopes: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}
	if f.user, err = f.replicas[0].p.Users.CreateUser(ctx, f.srv, "hot@example.com", "hot-password-1"); err != nil {
		t.Fatal(err)
	}
}

// discard is a logger that drops everything.
func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// basicValue is the base64 of id:secret.
func basicValue(id, secret string) string {
	return base64.StdEncoding.EncodeToString([]byte(id + ":" + secret))
}

// issue stores a new access token of the fixture's user, valid for ttl.
func (f *hotFixture) issue(t testing.TB, ttl time.Duration) string {
	t.Helper()
	raw := secret.New(secret.PrefixAccessToken)
	now := f.clock.Now()
	tok := &store.Token{Hash: secret.Hash(raw), Kind: store.KindAccess, ServerID: f.srv.ID, ClientID: "hot-client", UserID: f.user.ID,
		Scopes: []string{"read"}, Resource: "http://mcp.test/mcp", FamilyID: secret.ID(), CodeHash: secret.ID(), IssuedAt: now, ExpiresAt: now.Add(ttl)}
	if err := f.replicas[0].st.IssueTokens(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	return raw
}

// introspect asks replica i about token with the given credentials and
// returns the status and whether the answer says active.
func (f *hotFixture) introspect(t *testing.T, i int, creds servers.Credentials, token string) (int, bool) {
	t.Helper()
	code, active, err := f.ask(i, creds, token)
	if err != nil {
		t.Fatal(err)
	}
	return code, active
}

// ask is introspect for any goroutine: it returns what went wrong.
func (f *hotFixture) ask(i int, creds servers.Credentials, token string) (int, bool, error) {
	req, _ := http.NewRequest(http.MethodPost, f.replicas[i].url+"/t/hot/oauth/introspect", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(creds.ClientID), url.QueryEscape(creds.ClientSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var ans struct {
		Active bool   `json:"active"`
		Sub    string `json:"sub"`
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &ans); err != nil {
			return 0, false, fmt.Errorf("introspection answer %q: %w", body, err)
		}
		if ans.Active && ans.Sub != f.user.ID {
			return 0, false, fmt.Errorf("active answer for sub %q, want %q", ans.Sub, f.user.ID)
		}
	}
	return resp.StatusCode, ans.Active, nil
}

// revoke revokes token through replica i's RFC 7009 endpoint.
func (f *hotFixture) revoke(t *testing.T, i int, token string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.replicas[i].url+"/t/hot/oauth/revoke", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(f.creds.ClientID), url.QueryEscape(f.creds.ClientSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke on replica %d = %d", i, resp.StatusCode)
	}
}

// mustBeActive warms every replica's cache with token.
func (f *hotFixture) mustBeActive(t *testing.T, token string) {
	t.Helper()
	for i := range f.replicas {
		for range 2 { // the second answer comes from the cache
			if code, active := f.introspect(t, i, f.creds, token); code != http.StatusOK || !active {
				t.Fatalf("replica %d: %d active=%v, want an active token", i, code, active)
			}
		}
	}
}

// twoPostgresReplicas opens two stores on one fresh PostgreSQL schema.
func twoPostgresReplicas(t *testing.T) *hotFixture {
	t.Helper()
	dbURL := pgtest.FreshSchema(t)
	var stores []store.Store
	for range 2 {
		st, err := postgres.Open(context.Background(), dbURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		stores = append(stores, st)
	}
	return newHotFixture(t, stores...)
}

func TestHotPath_TokenRevokedOnOneReplicaIsInactiveOnTheOtherWithinASecond(t *testing.T) {
	f := twoPostgresReplicas(t)
	tests := []struct {
		name      string
		revokeOn  int
		askOthers bool
	}{
		{"revoked on replica 0", 0, true},
		{"revoked on replica 1", 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := f.issue(t, time.Hour)
			f.mustBeActive(t, tok)
			f.revoke(t, tt.revokeOn, tok)
			revokedAt := time.Now()
			// The replica that revoked knows at once.
			if _, active := f.introspect(t, tt.revokeOn, f.creds, tok); active {
				t.Fatalf("replica %d reports the token it just revoked active", tt.revokeOn)
			}
			other := 1 - tt.revokeOn
			for {
				_, active := f.introspect(t, other, f.creds, tok)
				if !active {
					break
				}
				if time.Since(revokedAt) > time.Second {
					t.Fatalf("replica %d still reports the token revoked on replica %d active after a second", other, tt.revokeOn)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

func TestHotPath_RotatedSecretIsRefusedByEveryReplicaOnceRotationReturns(t *testing.T) {
	f := twoPostgresReplicas(t)
	tok := f.issue(t, time.Hour)
	f.mustBeActive(t, tok) // both replicas hold the server row with the old secret
	old := f.creds
	rotated, err := f.replicas[0].p.Servers.RotateSecret(context.Background(), "hot")
	if err != nil {
		t.Fatal(err)
	}
	for i := range f.replicas {
		if code, active := f.introspect(t, i, old, tok); code != http.StatusUnauthorized || active {
			t.Errorf("replica %d with the old secret: %d active=%v, want 401", i, code, active)
		}
		if code, active := f.introspect(t, i, rotated, tok); code != http.StatusOK || !active {
			t.Errorf("replica %d with the new secret: %d active=%v, want an active token", i, code, active)
		}
	}
}

func TestHotPath_ExpiredOrForeignTokenIsNeverActive(t *testing.T) {
	ctx := context.Background()
	f := newHotFixture(t, testdb.SQLite(t))
	tok := f.issue(t, time.Minute)
	f.mustBeActive(t, tok)

	// Another tenant's resource server asks about a token cached for "hot".
	_, otherCreds, err := f.replicas[0].p.Servers.Create(ctx, servers.Spec{Slug: "other", ResourceURL: "http://other.test/mcp", Scopes: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, f.replicas[0].url+"/t/other/oauth/introspect", strings.NewReader("token="+tok))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(otherCreds.ClientID), url.QueryEscape(otherCreds.ClientSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != `{"active":false}` {
		t.Fatalf("tenant other about a token of hot: %d %s, want inactive", resp.StatusCode, body)
	}

	tests := []struct {
		name    string
		advance time.Duration
		active  bool
	}{
		{"a millisecond before exp", time.Minute - time.Millisecond, true},
		{"at exp", time.Millisecond, false},
		{"after exp", time.Hour, false},
	}
	for _, tt := range tests {
		f.clock.advance(tt.advance)
		if _, active := f.introspect(t, 0, f.creds, tok); active != tt.active {
			t.Errorf("%s: active = %v, want %v", tt.name, active, tt.active)
		}
	}
}

// Many introspections of one token run while it is revoked on the same
// replica: none that starts after the revocation returned may say active,
// whatever fill of the cache was racing it. Run with -race.
func TestHotPath_FillRacingRevocationNeverResurrectsTheToken(t *testing.T) {
	f := newHotFixture(t, testdb.SQLite(t))
	for round := range 10 {
		tok := f.issue(t, time.Hour)
		var revoked atomic.Bool
		var wrong atomic.Int32
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					after := revoked.Load()
					code, active, err := f.ask(0, f.creds, tok)
					if err != nil || code != http.StatusOK || (active && after) {
						wrong.Add(1)
					}
				}
			}()
		}
		time.Sleep(time.Duration(round) * time.Millisecond)
		f.revoke(t, 0, tok)
		revoked.Store(true)
		time.Sleep(30 * time.Millisecond)
		close(stop)
		wg.Wait()
		if n := wrong.Load(); n > 0 {
			t.Fatalf("round %d: %d introspections started after the revocation returned said active (or failed)", round, n)
		}
	}
}
