package storetest

import (
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

type ingestKeyRoles interface {
	store.Servers
	store.IngestKeys
}

func newIngestKey(t *testing.T, s store.IngestKeys, serverID, id string, created time.Time) *store.IngestKey {
	t.Helper()
	k := &store.IngestKey{ID: id, ServerID: serverID, SecretHash: secret.Hash(secret.New("mcpobs_ik_")), Name: "key " + id, CreatedAt: created}
	noErr(t, "CreateIngestKey", s.CreateIngestKey(t.Context(), k))
	return k
}

var ingestKeyCases = rules([]rule[ingestKeyRoles]{
	{"IngestKeys/CreateThenLookUpByIDAlone", func(t *testing.T, s ingestKeyRoles) {
		sv := newServer(t, s, "acme")
		k := newIngestKey(t, s, sv.ID, "ik1", t0)
		got, err := s.LiveIngestKey(t.Context(), "ik1")
		noErr(t, "LiveIngestKey", err)
		equal(t, "key", got, k)
		_, err = s.LiveIngestKey(t.Context(), "ik-unknown")
		wantErr(t, "unknown key", err, store.ErrNotFound)
	}},
	{"IngestKeys/DuplicateIDConflicts", func(t *testing.T, s ingestKeyRoles) {
		a, b := newServer(t, s, "acme"), newServer(t, s, "globex")
		newIngestKey(t, s, a.ID, "ik1", t0)
		err := s.CreateIngestKey(t.Context(), &store.IngestKey{ID: "ik1", ServerID: b.ID, SecretHash: "h", CreatedAt: t0})
		wantErr(t, "same id at another server", err, store.ErrConflict)
		got, err := s.LiveIngestKey(t.Context(), "ik1")
		noErr(t, "LiveIngestKey", err)
		equal(t, "owner after the refused create", got.ServerID, a.ID)
	}},
	{"IngestKeys/UnknownServerIsNotFound", func(t *testing.T, s ingestKeyRoles) {
		err := s.CreateIngestKey(t.Context(), &store.IngestKey{ID: "ik1", ServerID: "no-such-server", SecretHash: "h", CreatedAt: t0})
		wantErr(t, "key of a missing server", err, store.ErrNotFound)
	}},
	{"IngestKeys/RevokedKeyNeverAuthenticates", func(t *testing.T, s ingestKeyRoles) {
		sv := newServer(t, s, "acme")
		newIngestKey(t, s, sv.ID, "ik1", t0)
		noErr(t, "RevokeIngestKey", s.RevokeIngestKey(t.Context(), sv.ID, "ik1", at(time.Minute)))
		_, err := s.LiveIngestKey(t.Context(), "ik1")
		wantErr(t, "revoked key", err, store.ErrNotFound)
		// Revoking again changes nothing: the first revocation time stays.
		noErr(t, "RevokeIngestKey again", s.RevokeIngestKey(t.Context(), sv.ID, "ik1", at(time.Hour)))
		keys, err := s.ListIngestKeys(t.Context(), sv.ID)
		noErr(t, "ListIngestKeys", err)
		if len(keys) != 1 || !keys[0].RevokedAt.Equal(at(time.Minute)) {
			t.Errorf("listed after two revocations: %+v, want one key revoked at %v", keys, at(time.Minute))
		}
		_, err = s.LiveIngestKey(t.Context(), "ik1")
		wantErr(t, "revoked key after the second revocation", err, store.ErrNotFound)
	}},
	{"IngestKeys/RevokeByAnotherServerChangesNothing", func(t *testing.T, s ingestKeyRoles) {
		a, b := newServer(t, s, "acme"), newServer(t, s, "globex")
		newIngestKey(t, s, a.ID, "ik-a", t0)
		err := s.RevokeIngestKey(t.Context(), b.ID, "ik-a", at(time.Minute))
		wantErr(t, "revoking another server's key", err, store.ErrNotFound)
		got, err := s.LiveIngestKey(t.Context(), "ik-a")
		noErr(t, "the key after another server tried to revoke it", err)
		equal(t, "owner", got.ServerID, a.ID)
		err = s.RevokeIngestKey(t.Context(), a.ID, "ik-unknown", at(time.Minute))
		wantErr(t, "revoking an unknown key", err, store.ErrNotFound)
	}},
	{"IngestKeys/ListIsPerServerOldestFirstWithRevoked", func(t *testing.T, s ingestKeyRoles) {
		a, b := newServer(t, s, "acme"), newServer(t, s, "globex")
		k2 := newIngestKey(t, s, a.ID, "ik2", at(time.Minute))
		k1 := newIngestKey(t, s, a.ID, "ik1", t0)
		newIngestKey(t, s, b.ID, "ik3", t0)
		noErr(t, "RevokeIngestKey", s.RevokeIngestKey(t.Context(), a.ID, "ik2", at(time.Hour)))
		k2.RevokedAt = at(time.Hour)
		keys, err := s.ListIngestKeys(t.Context(), a.ID)
		noErr(t, "ListIngestKeys", err)
		equal(t, "acme's keys", keys, []*store.IngestKey{k1, k2})
		none, err := s.ListIngestKeys(t.Context(), "no-such-server")
		noErr(t, "ListIngestKeys of nobody", err)
		if none == nil || len(none) != 0 {
			t.Errorf("keys of an unknown server: %#v, want a non-nil empty list", none)
		}
	}},
})
