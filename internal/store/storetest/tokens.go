package storetest

import (
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

var tokenCases = rules([]rule[grantRoles]{
	{"Token/RoundTripsEveryField", func(t *testing.T, s grantRoles) {
		sv := newServer(t, s, "acme")
		access := &store.Token{
			Hash: "a1", Kind: store.KindAccess, ServerID: sv.ID, ClientID: "c1", UserID: "u1",
			Scopes: []string{"tools:read", "tools:write"}, Resource: "http://localhost:3006/mcp",
			FamilyID: "f1", CodeHash: "code1", IssuedAt: t0, ExpiresAt: at(time.Hour),
		}
		refresh := &store.Token{
			Hash: "r1", Kind: store.KindRefresh, ServerID: sv.ID, ClientID: "c1", UserID: "u1",
			Scopes: []string{"tools:read"}, Resource: "http://localhost:3006/mcp",
			FamilyID: "f1", CodeHash: "code1", IssuedAt: t0, ExpiresAt: at(720 * time.Hour),
			RevokedAt: at(2 * time.Minute), RotatedAt: at(time.Minute),
		}
		issue(t, s, access, refresh)
		equal(t, "access token", mustToken(t, s, sv.ID, "a1"), access)
		equal(t, "refresh token", mustToken(t, s, sv.ID, "r1"), refresh)
	}},
	{"Token/ZeroTimesAndEmptyScopesRoundTrip", func(t *testing.T, s grantRoles) {
		sv := newServer(t, s, "acme")
		tok := &store.Token{Hash: "a1", Kind: store.KindAccess, ServerID: sv.ID, FamilyID: "f1"}
		issue(t, s, tok)
		want := *tok
		want.Scopes = []string{}
		equal(t, "token", mustToken(t, s, sv.ID, "a1"), &want)
	}},
	{"Token/UnknownNotFound", func(t *testing.T, s grantRoles) {
		sv := newServer(t, s, "acme")
		_, err := s.Token(t.Context(), sv.ID, "nope")
		wantErr(t, "Token(unknown)", err, store.ErrNotFound)
	}},
	{"Token/IssueIsAllOrNothing", func(t *testing.T, s grantRoles) {
		sv := newServer(t, s, "acme")
		existing := newToken(tokenFixture{serverID: sv.ID, family: "f0"})
		issue(t, s, existing)
		fresh := newToken(tokenFixture{serverID: sv.ID, family: "f1"})
		err := s.IssueTokens(t.Context(), fresh, existing)
		wantErr(t, "IssueTokens with a duplicate", err, store.ErrConflict)
		_, err = s.Token(t.Context(), sv.ID, fresh.Hash)
		wantErr(t, "the batch's other token", err, store.ErrNotFound)
	}},
	{"Token/IssueNothingIsNoError", func(t *testing.T, s grantRoles) {
		noErr(t, "IssueTokens()", s.IssueTokens(t.Context()))
	}},
	{"Token/AnotherServersTokenIsUnknown", func(t *testing.T, s grantRoles) {
		a, b := newServer(t, s, "a"), newServer(t, s, "b")
		tok := newToken(tokenFixture{serverID: a.ID, family: "f1"})
		issue(t, s, tok)
		_, err := s.Token(t.Context(), b.ID, tok.Hash)
		wantErr(t, "server A's token looked up under server B", err, store.ErrNotFound)
		equal(t, "under its own server", mustToken(t, s, a.ID, tok.Hash), tok)
	}},
})
