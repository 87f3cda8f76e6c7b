// Package storetest is the conformance suite every [store.Store]
// implementation must pass, so the SQLite and PostgreSQL stores behave the
// same for every caller. It is a list of named rules in groups, one group per
// role of the store (servers, clients, users, sessions, consents, codes,
// tokens, rotation, revocations, purge); a group whose rules need only some
// roles takes only those. [Bench] holds the benchmarks every backend runs.
//
// Beyond what package store documents, the suite pins down choices callers
// rely on:
//   - times come back in UTC, truncated to the millisecond, and a zero time
//     comes back as the zero time.Time;
//   - string lists come back in order, and an empty or nil list comes back
//     as a non-nil empty slice (so it marshals to [] rather than null);
//   - durations keep at least millisecond precision;
//   - set-wise revocations (family, code, client) of nothing return no hashes
//     and no error, while RevokeToken of an unknown hash wraps ErrNotFound;
//   - Revocations with limit <= 0 returns every entry after the cursor;
//   - feed sequence numbers are never reused, even after PurgeExpired;
//   - a code, token or session looked up, redeemed, used or revoked under
//     another server's id behaves exactly as an unknown one: ErrNotFound (or
//     nothing revoked, for the set-wise revocations) and nothing changed.
package storetest

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// Run runs the suite. open must return a fresh, empty store for each
// subtest; Run closes it when the subtest ends.
func Run(t *testing.T, open func(tb testing.TB) store.Store) {
	t.Helper()
	groups := [][]testCase{
		serverCases, clientCases, userCases, sessionCases, consentCases,
		codeCases, tokenCases, rotationCases, revocationCases, purgeCases, ingestKeyCases, storeCases,
	}
	for _, g := range groups {
		for _, c := range g {
			t.Run(c.name, func(t *testing.T) {
				s := open(t)
				t.Cleanup(func() {
					if err := s.Close(); err != nil {
						t.Errorf("Close: %v", err)
					}
				})
				c.run(t, s)
			})
		}
	}
}

// testCase is one rule of the contract, run on a whole store.
type testCase struct {
	name string
	run  func(t *testing.T, s store.Store)
}

// rule is one rule of the contract about the roles S of a store: a group
// whose rules need only some roles says so by its S.
type rule[S any] struct {
	name string
	run  func(t *testing.T, s S)
}

// rules makes test cases of rules about roles S, which every store.Store has.
func rules[S any](rs []rule[S]) []testCase {
	out := make([]testCase, len(rs))
	for i, r := range rs {
		out[i] = testCase{name: r.name, run: func(t *testing.T, s store.Store) { r.run(t, any(s).(S)) }}
	}
	return out
}

// The roles the groups need besides store.Servers, on which every row hangs.
type (
	userRoles interface {
		store.Servers
		store.Users
	}
	sessionRoles interface {
		store.Servers
		store.Users
		store.Sessions
	}
	clientRoles interface {
		store.Servers
		store.Clients
		store.Grants
	}
	grantRoles interface {
		store.Servers
		store.Grants
	}
	feedRoles interface {
		store.Servers
		store.Grants
		store.Revocations
	}
)

// t0 is the suite's reference time: UTC, millisecond precision.
var t0 = time.Date(2026, 3, 14, 15, 9, 26, 535_000_000, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func newServer(t *testing.T, s store.Servers, slug string) *store.Server {
	t.Helper()
	sv := &store.Server{
		ID:               secret.ID(),
		Slug:             slug,
		Name:             "Server " + slug,
		ResourceURL:      "http://localhost:3006/mcp/" + slug,
		Scopes:           []string{"read", "write"},
		DefaultScopes:    []string{"read"},
		AccessTokenTTL:   time.Hour,
		RefreshTokenTTL:  30 * 24 * time.Hour,
		ClientID:         "rs_" + slug,
		ClientSecretHash: secret.Hash(secret.New(secret.PrefixServerSecret)),
		CreatedAt:        t0,
	}
	if err := s.CreateServer(t.Context(), sv); err != nil {
		t.Fatalf("CreateServer(%q): %v", slug, err)
	}
	return sv
}

func newClient(t *testing.T, s store.Clients, serverID, clientID string) *store.Client {
	t.Helper()
	c := &store.Client{
		ServerID:                serverID,
		ClientID:                clientID,
		Name:                    "Client " + clientID,
		RedirectURIs:            []string{"http://127.0.0.1/callback"},
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		ResponseTypes:           []string{"code"},
		TokenEndpointAuthMethod: "none",
		Source:                  store.SourceDCR,
		IssuedAt:                t0,
	}
	if err := s.CreateClient(t.Context(), c); err != nil {
		t.Fatalf("CreateClient(%q): %v", clientID, err)
	}
	return c
}

func newUser(t *testing.T, s store.Users, serverID, email string) *store.User {
	t.Helper()
	u := &store.User{ID: secret.ID(), ServerID: serverID, Email: email, PasswordHash: "$2a$10$abcdefghijklmnopqrstuv", CreatedAt: t0}
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser(%q): %v", email, err)
	}
	return u
}

// tokenFixture is the shape of a token the tests issue.
type tokenFixture struct {
	kind     store.TokenKind
	serverID string
	clientID string
	family   string
	code     string
}

func newToken(f tokenFixture) *store.Token {
	kind := f.kind
	if kind == "" {
		kind = store.KindAccess
	}
	return &store.Token{
		Hash:      secret.Hash(secret.New(secret.PrefixAccessToken)),
		Kind:      kind,
		ServerID:  f.serverID,
		ClientID:  f.clientID,
		UserID:    "user-1",
		Scopes:    []string{"read"},
		Resource:  "http://localhost:3006/mcp",
		FamilyID:  f.family,
		CodeHash:  f.code,
		IssuedAt:  t0,
		ExpiresAt: at(time.Hour),
	}
}

func issue(t *testing.T, s store.Grants, tokens ...*store.Token) {
	t.Helper()
	if err := s.IssueTokens(t.Context(), tokens...); err != nil {
		t.Fatalf("IssueTokens: %v", err)
	}
}

func mustToken(t *testing.T, s store.Grants, serverID, hash string) *store.Token {
	t.Helper()
	tok, err := s.Token(t.Context(), serverID, hash)
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	return tok
}

// equal fails the test if got and want differ, showing both.
func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

// wantErr fails the test unless err wraps target.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error = %v, want one wrapping %q", what, err, target)
	}
}

// noErr stops the test on an unexpected error.
func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	count := map[string]int{}
	for _, x := range a {
		count[x]++
	}
	for _, x := range b {
		count[x]--
	}
	for _, n := range count {
		if n != 0 {
			return false
		}
	}
	return true
}
