package storetest

import (
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

var purgeCases = []testCase{
	{"Purge/RemovesOnlyWhatExpiredBeforeCutoff", func(t *testing.T, s store.Store) {
		sv := newServer(t, s, "acme")
		u := newUser(t, s, sv.ID, "ada@example.com")
		cutoff := t0
		ctx := t.Context()

		oldCode := newCode(t, s, sv.ID)
		newCodeRow := &store.AuthCode{Hash: "fresh-code", ServerID: sv.ID, CreatedAt: t0, ExpiresAt: at(time.Minute)}
		noErr(t, "CreateAuthCode", s.CreateAuthCode(ctx, newCodeRow))
		oldCode2 := &store.AuthCode{Hash: "stale-code", ServerID: sv.ID, CreatedAt: at(-time.Hour), ExpiresAt: at(-time.Millisecond)}
		noErr(t, "CreateAuthCode", s.CreateAuthCode(ctx, oldCode2))

		noErr(t, "CreateSession", s.CreateSession(ctx, &store.Session{IDHash: "stale", ServerID: sv.ID, UserID: u.ID, ExpiresAt: at(-time.Minute)}))
		noErr(t, "CreateSession", s.CreateSession(ctx, &store.Session{IDHash: "live", ServerID: sv.ID, UserID: u.ID, ExpiresAt: at(time.Minute)}))

		staleTok := newToken(tokenFixture{serverID: sv.ID, family: "f1"})
		staleTok.ExpiresAt = at(-time.Minute)
		liveTok := newToken(tokenFixture{serverID: sv.ID, family: "f1"})
		atCutoff := newToken(tokenFixture{serverID: sv.ID, family: "f1"})
		atCutoff.ExpiresAt = cutoff
		issue(t, s, staleTok, liveTok, atCutoff)

		// Feed: one entry revoked long ago, one just now.
		oldRevoked := newToken(tokenFixture{serverID: sv.ID, family: "f2"})
		oldRevoked.ExpiresAt = at(time.Hour)
		newRevoked := newToken(tokenFixture{serverID: sv.ID, family: "f3"})
		issue(t, s, oldRevoked, newRevoked)
		_, err := s.RevokeToken(ctx, sv.ID, oldRevoked.Hash, at(-time.Hour))
		noErr(t, "RevokeToken", err)
		_, err = s.RevokeToken(ctx, sv.ID, newRevoked.Hash, at(time.Minute))
		noErr(t, "RevokeToken", err)

		n, err := s.PurgeExpired(ctx, cutoff)
		noErr(t, "PurgeExpired", err)
		// stale-code, stale session, staleTok, oldRevoked's feed entry.
		if n != 4 {
			t.Errorf("PurgeExpired removed %d rows, want 4", n)
		}
		_, err = s.RedeemAuthCode(ctx, sv.ID, oldCode2.Hash, t0)
		wantErr(t, "stale code", err, store.ErrNotFound)
		_, err = s.RedeemAuthCode(ctx, sv.ID, oldCode.Hash, t0)
		noErr(t, "code expiring after cutoff", err)
		_, err = s.RedeemAuthCode(ctx, sv.ID, newCodeRow.Hash, t0)
		noErr(t, "fresh code", err)
		_, err = s.Session(ctx, sv.ID, "stale")
		wantErr(t, "stale session", err, store.ErrNotFound)
		_, err = s.Session(ctx, sv.ID, "live")
		noErr(t, "live session", err)
		_, err = s.Token(ctx, sv.ID, staleTok.Hash)
		wantErr(t, "stale token", err, store.ErrNotFound)
		mustToken(t, s, sv.ID, liveTok.Hash)
		mustToken(t, s, sv.ID, atCutoff.Hash)
		mustToken(t, s, sv.ID, oldRevoked.Hash) // revoked but not expired: kept, only its feed entry aged out
		equal(t, "feed after purge", feedHashes(t, s, sv.ID), []string{newRevoked.Hash})
	}},
	{"Purge/NothingToDoIsZero", func(t *testing.T, s store.Store) {
		n, err := s.PurgeExpired(t.Context(), t0)
		noErr(t, "PurgeExpired", err)
		equal(t, "removed", n, 0)
	}},
}
