package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

// cacheOn returns an introspection cache over a fresh SQLite store holding
// the server "srv-a", with the clock at now.
func cacheOn(t *testing.T, now time.Time) (*introspectionCache, store.Store) {
	t.Helper()
	st := openSQLite(t)
	if err := st.CreateServer(context.Background(), &store.Server{ID: "srv-a", Slug: "a", Name: "A"}); err != nil {
		t.Fatal(err)
	}
	c := newIntrospectionCache(st, slog.New(slog.DiscardHandler), func() time.Time { return now }, 10*time.Millisecond)
	t.Cleanup(c.stop)
	return c, st
}

func hashKey(h string) [sha256.Size]byte {
	var k [sha256.Size]byte
	hex.Decode(k[:], []byte(h))
	return k
}

// A fill that read the token before a revocation and stores its answer
// after the revocation was applied must store nothing: the generation moved.
func TestIntrospectionCache_FillAfterARevocationStoresNothing(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	hash := hex.EncodeToString(make([]byte, sha256.Size))
	answer := cachedAnswer{serverID: "srv-a", iss: "iss", exp: now.Add(time.Hour), body: []byte(`{"active":true}`)}
	tests := []struct {
		name    string
		between func(c *introspectionCache)
		want    bool
	}{
		{"nothing in between", func(*introspectionCache) {}, true},
		{"this token revoked", func(c *introspectionCache) { c.forget([]string{hash}) }, false},
		{"another token revoked", func(c *introspectionCache) { c.forget([]string{"ff" + hash[2:]}) }, false},
		{"poller stopped", func(c *introspectionCache) { c.stop() }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := cacheOn(t, now)
			ticket := c.begin(context.Background(), "srv-a")
			tt.between(c)
			c.fill(ticket, hashKey(hash), answer)
			if got := c.answer("srv-a", "iss", hashKey(hash)) != nil; got != tt.want {
				t.Fatalf("cached = %v, want %v", got, tt.want)
			}
		})
	}
}

// A cached answer is only for its tenant and issuer, and only before exp.
func TestIntrospectionCache_AnswerOnlyForItsTenantBeforeExp(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := now
	st := openSQLite(t)
	if err := st.CreateServer(context.Background(), &store.Server{ID: "srv-a", Slug: "a", Name: "A"}); err != nil {
		t.Fatal(err)
	}
	c := newIntrospectionCache(st, slog.New(slog.DiscardHandler), func() time.Time { return clock }, 10*time.Millisecond)
	t.Cleanup(c.stop)
	key := hashKey(hex.EncodeToString(make([]byte, sha256.Size)))
	c.fill(c.begin(context.Background(), "srv-a"), key, cachedAnswer{serverID: "srv-a", iss: "iss-a", exp: now.Add(time.Minute), body: []byte("x")})
	tests := []struct {
		name     string
		serverID string
		iss      string
		at       time.Time
		want     bool
	}{
		{"its tenant", "srv-a", "iss-a", now, true},
		{"another tenant", "srv-b", "iss-a", now, false},
		{"another issuer", "srv-a", "iss-b", now, false},
		{"just before exp", "srv-a", "iss-a", now.Add(time.Minute - time.Millisecond), true},
		{"at exp", "srv-a", "iss-a", now.Add(time.Minute), false},
	}
	for _, tt := range tests {
		clock = tt.at
		if got := c.answer(tt.serverID, tt.iss, key) != nil; got != tt.want {
			t.Errorf("%s: cached = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// A revocation appended to the feed by someone else (another replica, the
// admin CLI) reaches the cache through the poller.
func TestIntrospectionCache_PollerAppliesTheFeed(t *testing.T) {
	now := time.Now().UTC()
	c, st := cacheOn(t, now)
	ctx := context.Background()
	raw := "mcpobs_at_some-token"
	sum := sha256.Sum256([]byte(raw))
	hash := hex.EncodeToString(sum[:])
	tok := &store.Token{Hash: hash, Kind: store.KindAccess, ServerID: "srv-a", ClientID: "c", UserID: "u", Scopes: []string{"read"},
		Resource: "http://r", FamilyID: "f", CodeHash: "code", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := st.IssueTokens(ctx, tok); err != nil {
		t.Fatal(err)
	}
	c.fill(c.begin(ctx, "srv-a"), sum, cachedAnswer{serverID: "srv-a", iss: "iss", exp: tok.ExpiresAt, body: []byte("x")})
	if c.answer("srv-a", "iss", sum) == nil {
		t.Fatal("the answer was not cached")
	}
	if _, err := st.RevokeToken(ctx, "srv-a", hash, now); err != nil { // straight to the store: the cache is not told
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.answer("srv-a", "iss", sum) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the poller never applied the revocation")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The hand-written encoder writes what encoding/json writes for the answer.
func TestAppendIntrospection_SameAsEncodingJSON(t *testing.T) {
	at := time.Unix(1_760_000_000, 0)
	for _, s := range []string{"", "plain", `q"uote\back`, "ctl\x00\x01\n\r\t\x1f", "<html>&amp;", "é ünï 日本", "\u2028\u2029", "bad\xffutf8\xc3", "\x7f"} {
		tok := &store.Token{Hash: "jti" + s, Kind: store.KindAccess, ClientID: s, Scopes: []string{"read", "wr" + s}, Resource: s,
			IssuedAt: at, ExpiresAt: at.Add(time.Hour)}
		user := &store.User{ID: "u" + s, Email: s + "@example.com"}
		want, err := json.Marshal(introspection{Active: true, Scope: "read wr" + s, ClientID: s, Sub: user.ID, Username: user.Email,
			Email: user.Email, Aud: s, Iss: "iss" + s, Exp: tok.ExpiresAt.Unix(), Iat: tok.IssuedAt.Unix(), TokenType: "Bearer", Jti: tok.Hash})
		if err != nil {
			t.Fatal(err)
		}
		if got := appendIntrospection(nil, tok, user, "iss"+s); string(got) != string(want) {
			t.Errorf("%q:\n got %s\nwant %s", s, got, want)
		}
	}
}
