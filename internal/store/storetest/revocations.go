package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

// feedHashes returns the token hashes of a server's whole feed, checking on
// the way that Seq strictly increases and every entry is the server's.
func feedHashes(t *testing.T, s store.Revocations, serverID string) []string {
	t.Helper()
	feed, err := s.Revocations(t.Context(), serverID, 0, 0)
	noErr(t, "Revocations", err)
	var hashes []string
	var last int64
	for _, r := range feed {
		if r.Seq <= last {
			t.Errorf("feed Seq %d after %d: not increasing", r.Seq, last)
		}
		if r.ServerID != serverID {
			t.Errorf("feed of server %q holds an entry of server %q", serverID, r.ServerID)
		}
		last = r.Seq
		hashes = append(hashes, r.TokenHash)
	}
	return hashes
}

// revokedSet reports for each token whether it is revoked.
func revokedSet(t *testing.T, s store.Grants, tokens ...*store.Token) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, tok := range tokens {
		out[tok.Hash] = !mustToken(t, s, tok.ServerID, tok.Hash).RevokedAt.IsZero()
	}
	return out
}

var revocationCases = []testCase{
	{"Revoke/TokenIsRevokedOnceAndFedOnce", func(t *testing.T, s store.Store) {
		sv := newServer(t, s, "acme")
		tok := newToken(tokenFixture{serverID: sv.ID, family: "f1"})
		other := newToken(tokenFixture{serverID: sv.ID, family: "f1"})
		issue(t, s, tok, other)
		got, err := s.RevokeToken(t.Context(), tok.ServerID, tok.Hash, at(time.Minute))
		noErr(t, "RevokeToken", err)
		equal(t, "newly revoked", got, []string{tok.Hash})
		equal(t, "RevokedAt", mustToken(t, s, tok.ServerID, tok.Hash).RevokedAt, at(time.Minute))
		if !mustToken(t, s, other.ServerID, other.Hash).RevokedAt.IsZero() {
			t.Error("RevokeToken revoked another token of the family")
		}

		got, err = s.RevokeToken(t.Context(), tok.ServerID, tok.Hash, at(2*time.Minute))
		noErr(t, "second RevokeToken", err)
		if len(got) != 0 {
			t.Errorf("second RevokeToken newly revoked %v, want none", got)
		}
		equal(t, "RevokedAt after second revoke", mustToken(t, s, tok.ServerID, tok.Hash).RevokedAt, at(time.Minute))
		equal(t, "feed", feedHashes(t, s, sv.ID), []string{tok.Hash})
	}},
	{"Revoke/UnknownTokenNotFound", func(t *testing.T, s store.Store) {
		sv := newServer(t, s, "acme")
		_, err := s.RevokeToken(t.Context(), sv.ID, "nope", t0)
		wantErr(t, "RevokeToken(unknown)", err, store.ErrNotFound)
	}},
	{"Revoke/FamilyTakesOnlyItsLiveTokens", func(t *testing.T, s store.Store) {
		sv := newServer(t, s, "acme")
		f1a := newToken(tokenFixture{serverID: sv.ID, family: "f1"})
		f1b := newToken(tokenFixture{kind: store.KindRefresh, serverID: sv.ID, family: "f1"})
		f1dead := newToken(tokenFixture{serverID: sv.ID, family: "f1"})
		f2 := newToken(tokenFixture{serverID: sv.ID, family: "f2"})
		issue(t, s, f1a, f1b, f1dead, f2)
		_, err := s.RevokeToken(t.Context(), sv.ID, f1dead.Hash, t0)
		noErr(t, "RevokeToken", err)

		got, err := s.RevokeFamily(t.Context(), sv.ID, "f1", at(time.Minute))
		noErr(t, "RevokeFamily", err)
		if !sameSet(got, []string{f1a.Hash, f1b.Hash}) {
			t.Errorf("RevokeFamily newly revoked %v, want the two live tokens of f1", got)
		}
		equal(t, "revoked", revokedSet(t, s, f1a, f1b, f1dead, f2),
			map[string]bool{f1a.Hash: true, f1b.Hash: true, f1dead.Hash: true, f2.Hash: false})
		equal(t, "f1dead keeps its first RevokedAt", mustToken(t, s, f1dead.ServerID, f1dead.Hash).RevokedAt, t0)
		if feed := feedHashes(t, s, sv.ID); len(feed) != 3 || !sameSet(feed, []string{f1dead.Hash, f1a.Hash, f1b.Hash}) {
			t.Errorf("feed = %v, want each revoked token exactly once", feed)
		}

		got, err = s.RevokeFamily(t.Context(), sv.ID, "f1", at(2*time.Minute))
		noErr(t, "second RevokeFamily", err)
		if len(got) != 0 {
			t.Errorf("second RevokeFamily newly revoked %v, want none", got)
		}
		got, err = s.RevokeFamily(t.Context(), sv.ID, "no-such-family", t0)
		noErr(t, "RevokeFamily(unknown)", err)
		if len(got) != 0 {
			t.Errorf("RevokeFamily(unknown) = %v", got)
		}
	}},
	{"Revoke/ByCodeTakesWholeFamiliesIncludingRefreshedTokens", func(t *testing.T, s store.Store) {
		sv := newServer(t, s, "acme")
		// Family f1 started from code1: the first pair carries the code hash,
		// a refreshed pair carries it too, and a pair issued by an older
		// implementation carries only the family.
		first := newToken(tokenFixture{serverID: sv.ID, family: "f1", code: "code1"})
		firstRT := newToken(tokenFixture{kind: store.KindRefresh, serverID: sv.ID, family: "f1", code: "code1"})
		refreshed := newToken(tokenFixture{serverID: sv.ID, family: "f1", code: "code1"})
		familyOnly := newToken(tokenFixture{kind: store.KindRefresh, serverID: sv.ID, family: "f1"})
		otherCode := newToken(tokenFixture{serverID: sv.ID, family: "f2", code: "code2"})
		issue(t, s, first, firstRT, refreshed, familyOnly, otherCode)

		got, err := s.RevokeByCode(t.Context(), sv.ID, "code1", at(time.Minute))
		noErr(t, "RevokeByCode", err)
		if !sameSet(got, []string{first.Hash, firstRT.Hash, refreshed.Hash, familyOnly.Hash}) {
			t.Errorf("RevokeByCode newly revoked %v, want all four tokens of family f1", got)
		}
		equal(t, "code2's token revoked", revokedSet(t, s, otherCode)[otherCode.Hash], false)
		got, err = s.RevokeByCode(t.Context(), sv.ID, "code1", at(2*time.Minute))
		noErr(t, "second RevokeByCode", err)
		if len(got) != 0 {
			t.Errorf("second RevokeByCode newly revoked %v", got)
		}
		got, err = s.RevokeByCode(t.Context(), sv.ID, "never-redeemed", t0)
		noErr(t, "RevokeByCode(unknown)", err)
		if len(got) != 0 {
			t.Errorf("RevokeByCode(unknown) = %v", got)
		}
	}},
	{"Revoke/AnotherServersIDsRevokeNothing", func(t *testing.T, s store.Store) {
		a, b := newServer(t, s, "a"), newServer(t, s, "b")
		c := newCode(t, s, a.ID)
		_, err := s.RedeemAuthCode(t.Context(), a.ID, c.Hash, at(time.Minute))
		noErr(t, "RedeemAuthCode", err)
		access := newToken(tokenFixture{serverID: a.ID, family: "f1", code: c.Hash})
		refresh := newToken(tokenFixture{kind: store.KindRefresh, serverID: a.ID, family: "f1", code: c.Hash})
		issue(t, s, access, refresh)

		_, err = s.RevokeToken(t.Context(), b.ID, access.Hash, at(time.Minute))
		wantErr(t, "RevokeToken under another server", err, store.ErrNotFound)
		got, err := s.RevokeFamily(t.Context(), b.ID, "f1", at(time.Minute))
		noErr(t, "RevokeFamily under another server", err)
		equal(t, "RevokeFamily under another server revoked", len(got), 0)
		got, err = s.RevokeByCode(t.Context(), b.ID, c.Hash, at(time.Minute))
		noErr(t, "RevokeByCode under another server", err)
		equal(t, "RevokeByCode under another server revoked", len(got), 0)

		equal(t, "A's tokens revoked", revokedSet(t, s, access, refresh), map[string]bool{access.Hash: false, refresh.Hash: false})
		equal(t, "A's feed", len(feedHashes(t, s, a.ID)), 0)
		equal(t, "B's feed", len(feedHashes(t, s, b.ID)), 0)
		// The code was not marked revoked either: it still issues tokens.
		more := newToken(tokenFixture{serverID: a.ID, family: "f1", code: c.Hash})
		noErr(t, "IssueCodeTokens after another server's RevokeByCode", s.IssueCodeTokens(t.Context(), a.ID, c.Hash, more))
	}},
	{"Revoke/ClientTokensOnlyThatClientOnThatServer", func(t *testing.T, s store.Store) {
		a, b := newServer(t, s, "a"), newServer(t, s, "b")
		mine1 := newToken(tokenFixture{serverID: a.ID, clientID: "c1", family: "f1"})
		mine2 := newToken(tokenFixture{kind: store.KindRefresh, serverID: a.ID, clientID: "c1", family: "f2"})
		otherClient := newToken(tokenFixture{serverID: a.ID, clientID: "c2", family: "f3"})
		otherServer := newToken(tokenFixture{serverID: b.ID, clientID: "c1", family: "f4"})
		issue(t, s, mine1, mine2, otherClient, otherServer)
		got, err := s.RevokeClientTokens(t.Context(), a.ID, "c1", at(time.Minute))
		noErr(t, "RevokeClientTokens", err)
		if !sameSet(got, []string{mine1.Hash, mine2.Hash}) {
			t.Errorf("RevokeClientTokens newly revoked %v, want c1's two tokens on A", got)
		}
		equal(t, "revoked", revokedSet(t, s, mine1, mine2, otherClient, otherServer),
			map[string]bool{mine1.Hash: true, mine2.Hash: true, otherClient.Hash: false, otherServer.Hash: false})
		if feed := feedHashes(t, s, b.ID); len(feed) != 0 {
			t.Errorf("server B's feed got %v from revoking server A's client", feed)
		}
	}},
	{"Feed/InOrderPerServerWithCursorAndLimit", func(t *testing.T, s store.Store) {
		a, b := newServer(t, s, "a"), newServer(t, s, "b")
		seq, err := s.LatestRevocationSeq(t.Context(), a.ID)
		noErr(t, "LatestRevocationSeq(empty)", err)
		equal(t, "LatestRevocationSeq of an empty feed", seq, int64(0))

		var wantA, wantB []string
		for i := range 6 {
			sv, want := a, &wantA
			if i%3 == 2 {
				sv, want = b, &wantB
			}
			tok := newToken(tokenFixture{serverID: sv.ID, family: "f"})
			issue(t, s, tok)
			_, err := s.RevokeToken(t.Context(), tok.ServerID, tok.Hash, at(time.Duration(i)*time.Second))
			noErr(t, "RevokeToken", err)
			*want = append(*want, tok.Hash)
		}
		equal(t, "A's feed in revocation order", feedHashes(t, s, a.ID), wantA)
		equal(t, "B's feed in revocation order", feedHashes(t, s, b.ID), wantB)

		all, err := s.Revocations(t.Context(), a.ID, 0, 100)
		noErr(t, "Revocations", err)
		if len(all) != len(wantA) {
			t.Fatalf("Revocations(limit 100) = %d entries, want %d", len(all), len(wantA))
		}
		for i, r := range all {
			equal(t, "entry RevokedAt", r.RevokedAt.IsZero(), false)
			if r.TokenHash != wantA[i] {
				t.Errorf("entry %d = %q", i, r.TokenHash)
			}
		}
		page, err := s.Revocations(t.Context(), a.ID, all[0].Seq, 2)
		noErr(t, "Revocations(after first, limit 2)", err)
		equal(t, "page", page, all[1:3])
		rest, err := s.Revocations(t.Context(), a.ID, all[3].Seq, 10)
		noErr(t, "Revocations(after last)", err)
		if len(rest) != 0 {
			t.Errorf("Revocations after the last Seq = %v", rest)
		}
		seq, err = s.LatestRevocationSeq(t.Context(), a.ID)
		noErr(t, "LatestRevocationSeq", err)
		equal(t, "LatestRevocationSeq(A)", seq, all[len(all)-1].Seq)
		seqB, err := s.LatestRevocationSeq(t.Context(), b.ID)
		noErr(t, "LatestRevocationSeq(B)", err)
		bFeed, err := s.Revocations(t.Context(), b.ID, 0, 0)
		noErr(t, "Revocations(B)", err)
		equal(t, "LatestRevocationSeq(B)", seqB, bFeed[len(bFeed)-1].Seq)
	}},
	{"Feed/EntryCarriesServerHashAndTime", func(t *testing.T, s store.Store) {
		sv := newServer(t, s, "acme")
		tok := newToken(tokenFixture{serverID: sv.ID, family: "f1"})
		issue(t, s, tok)
		_, err := s.RevokeToken(t.Context(), tok.ServerID, tok.Hash, at(time.Minute))
		noErr(t, "RevokeToken", err)
		feed, err := s.Revocations(t.Context(), sv.ID, 0, 10)
		noErr(t, "Revocations", err)
		if len(feed) != 1 {
			t.Fatalf("feed = %v, want one entry", feed)
		}
		want := store.Revocation{Seq: feed[0].Seq, ServerID: sv.ID, TokenHash: tok.Hash, RevokedAt: at(time.Minute)}
		equal(t, "entry", feed[0], want)
		if feed[0].Seq <= 0 {
			t.Errorf("Seq = %d, want > 0 so that 0 can mean \"from the start\"", feed[0].Seq)
		}
	}},
	{"Feed/SeqNeverReusedAfterPurge", func(t *testing.T, s store.Store) {
		sv := newServer(t, s, "acme")
		old := newToken(tokenFixture{serverID: sv.ID, family: "f1"})
		issue(t, s, old)
		_, err := s.RevokeToken(t.Context(), sv.ID, old.Hash, at(-48*time.Hour))
		noErr(t, "RevokeToken", err)
		before, err := s.LatestRevocationSeq(t.Context(), sv.ID)
		noErr(t, "LatestRevocationSeq", err)
		_, err = s.PurgeExpired(t.Context(), at(-24*time.Hour))
		noErr(t, "PurgeExpired", err)
		if feed := feedHashes(t, s, sv.ID); len(feed) != 0 {
			t.Fatalf("feed after purge = %v, want empty", feed)
		}
		tok := newToken(tokenFixture{serverID: sv.ID, family: "f2"})
		issue(t, s, tok)
		_, err = s.RevokeToken(t.Context(), tok.ServerID, tok.Hash, t0)
		noErr(t, "RevokeToken", err)
		after, err := s.LatestRevocationSeq(t.Context(), sv.ID)
		noErr(t, "LatestRevocationSeq", err)
		if after <= before {
			t.Errorf("Seq after purge = %d, not above the purged %d: a resuming reader would skip it", after, before)
		}
	}},
	{"Feed/ConcurrentRevocationsAllFedWithDistinctSeqs", func(t *testing.T, s store.Store) {
		sv := newServer(t, s, "acme")
		var tokens []*store.Token
		for range 20 {
			tokens = append(tokens, newToken(tokenFixture{serverID: sv.ID, family: "f"}))
		}
		issue(t, s, tokens...)
		errs := make(chan error, len(tokens))
		for _, tok := range tokens {
			go func() {
				_, err := s.RevokeToken(t.Context(), tok.ServerID, tok.Hash, t0)
				errs <- err
			}()
		}
		for range tokens {
			noErr(t, "concurrent RevokeToken", <-errs)
		}
		feed := feedHashes(t, s, sv.ID)
		var want []string
		for _, tok := range tokens {
			want = append(want, tok.Hash)
		}
		slices.Sort(feed)
		slices.Sort(want)
		equal(t, "feed", feed, want)
	}},
}
