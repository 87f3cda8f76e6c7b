package storetest

import (
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

var sessionCases = rules([]rule[sessionRoles]{
	{"Session/RoundTripsEvenWhenExpired", func(t *testing.T, s sessionRoles) {
		sv := newServer(t, s, "acme")
		u := newUser(t, s, sv.ID, "ada@example.com")
		live := &store.Session{IDHash: "live", ServerID: sv.ID, UserID: u.ID, CreatedAt: t0, ExpiresAt: at(time.Hour)}
		expired := &store.Session{IDHash: "expired", ServerID: sv.ID, UserID: u.ID, CreatedAt: at(-2 * time.Hour), ExpiresAt: at(-time.Hour)}
		for _, se := range []*store.Session{live, expired} {
			noErr(t, "CreateSession", s.CreateSession(t.Context(), se))
			got, err := s.Session(t.Context(), sv.ID, se.IDHash)
			noErr(t, "Session", err)
			equal(t, "session "+se.IDHash, got, se)
		}
	}},
	{"Session/UnknownNotFound", func(t *testing.T, s sessionRoles) {
		sv := newServer(t, s, "acme")
		_, err := s.Session(t.Context(), sv.ID, "nope")
		wantErr(t, "Session(unknown)", err, store.ErrNotFound)
	}},
	{"Session/DeleteRemovesAndMissingIsNotAnError", func(t *testing.T, s sessionRoles) {
		sv := newServer(t, s, "acme")
		u := newUser(t, s, sv.ID, "ada@example.com")
		for _, h := range []string{"s1", "s2"} {
			noErr(t, "CreateSession", s.CreateSession(t.Context(), &store.Session{IDHash: h, ServerID: sv.ID, UserID: u.ID, CreatedAt: t0, ExpiresAt: at(time.Hour)}))
		}
		noErr(t, "DeleteSession", s.DeleteSession(t.Context(), sv.ID, "s1"))
		_, err := s.Session(t.Context(), sv.ID, "s1")
		wantErr(t, "Session after delete", err, store.ErrNotFound)
		_, err = s.Session(t.Context(), sv.ID, "s2")
		noErr(t, "the other session", err)
		noErr(t, "DeleteSession(already deleted)", s.DeleteSession(t.Context(), sv.ID, "s1"))
	}},
	{"Session/AnotherServersSessionIsUnknownAndNotDeleted", func(t *testing.T, s sessionRoles) {
		a, b := newServer(t, s, "a"), newServer(t, s, "b")
		u := newUser(t, s, a.ID, "ada@example.com")
		se := &store.Session{IDHash: "s1", ServerID: a.ID, UserID: u.ID, CreatedAt: t0, ExpiresAt: at(time.Hour)}
		noErr(t, "CreateSession", s.CreateSession(t.Context(), se))
		_, err := s.Session(t.Context(), b.ID, "s1")
		wantErr(t, "server A's session looked up under server B", err, store.ErrNotFound)
		noErr(t, "DeleteSession under another server", s.DeleteSession(t.Context(), b.ID, "s1"))
		got, err := s.Session(t.Context(), a.ID, "s1")
		noErr(t, "Session under its own server after another server's delete", err)
		equal(t, "session", got, se)
	}},
})

var consentCases = rules([]rule[grantRoles]{
	{"Consent/NoneIsNotFound", func(t *testing.T, s grantRoles) {
		sv := newServer(t, s, "acme")
		_, err := s.Consent(t.Context(), sv.ID, "u1", "c1")
		wantErr(t, "Consent before any SaveConsent", err, store.ErrNotFound)
	}},
	{"Consent/SaveMergesScopes", func(t *testing.T, s grantRoles) {
		sv := newServer(t, s, "acme")
		noErr(t, "SaveConsent", s.SaveConsent(t.Context(), sv.ID, "u1", "c1", []string{"read"}))
		got, err := s.Consent(t.Context(), sv.ID, "u1", "c1")
		noErr(t, "Consent", err)
		equal(t, "after first grant", got, []string{"read"})

		noErr(t, "SaveConsent", s.SaveConsent(t.Context(), sv.ID, "u1", "c1", []string{"write", "read", "admin"}))
		got, err = s.Consent(t.Context(), sv.ID, "u1", "c1")
		noErr(t, "Consent", err)
		if !sameSet(got, []string{"read", "write", "admin"}) {
			t.Errorf("after second grant: %v, want read, write and admin once each", got)
		}

		noErr(t, "SaveConsent(subset)", s.SaveConsent(t.Context(), sv.ID, "u1", "c1", []string{"write"}))
		got, err = s.Consent(t.Context(), sv.ID, "u1", "c1")
		noErr(t, "Consent", err)
		if !sameSet(got, []string{"read", "write", "admin"}) {
			t.Errorf("a grant of fewer scopes took some away: %v", got)
		}
	}},
	{"Consent/EmptyGrantIsRecorded", func(t *testing.T, s grantRoles) {
		sv := newServer(t, s, "acme")
		noErr(t, "SaveConsent", s.SaveConsent(t.Context(), sv.ID, "u1", "c1", nil))
		got, err := s.Consent(t.Context(), sv.ID, "u1", "c1")
		noErr(t, "Consent", err)
		equal(t, "scopes", got, []string{})
	}},
	{"Consent/PerServerUserAndClient", func(t *testing.T, s grantRoles) {
		a, b := newServer(t, s, "a"), newServer(t, s, "b")
		noErr(t, "SaveConsent", s.SaveConsent(t.Context(), a.ID, "u1", "c1", []string{"read"}))
		for _, k := range []struct{ server, user, client string }{
			{b.ID, "u1", "c1"}, {a.ID, "u2", "c1"}, {a.ID, "u1", "c2"},
		} {
			_, err := s.Consent(t.Context(), k.server, k.user, k.client)
			wantErr(t, "Consent of another server, user or client", err, store.ErrNotFound)
		}
	}},
})
