package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

// RevokeToken revokes one of the server's tokens and appends it to the feed.
// It returns the hash if it was live, nothing if it was already revoked, and
// an error wrapping store.ErrNotFound if the server has no such token.
func (s *Store) RevokeToken(ctx context.Context, serverID, hash string, now time.Time) ([]string, error) {
	return s.revoke(ctx, "revoke token", byHash, []any{serverID, hash}, now)
}

// RevokeFamily revokes every live token of one of the server's families and
// appends them to the feed.
func (s *Store) RevokeFamily(ctx context.Context, serverID, familyID string, now time.Time) ([]string, error) {
	return s.revoke(ctx, "revoke family", byFamily, []any{serverID, familyID}, now)
}

// RevokeClientTokens revokes every live token of a client.
func (s *Store) RevokeClientTokens(ctx context.Context, serverID, clientID string, now time.Time) ([]string, error) {
	return s.revoke(ctx, "revoke client tokens", byClient, []any{serverID, clientID}, now)
}

// RevokeByCode marks the server's code revoked and revokes every live token
// of every family that started from it, including tokens from refreshes that
// do not carry the code hash, in one transaction. The mark is set first, by
// an UPDATE that queues behind an IssueCodeTokens holding the code's row (or
// the single SQLite writer), so the revoking statement that follows sees the
// tokens such an issue committed, and every later issue finds the mark.
func (s *Store) RevokeByCode(ctx context.Context, serverID, codeHash string, now time.Time) ([]string, error) {
	const op = "revoke by code"
	if now.IsZero() {
		return nil, fmt.Errorf("%s: %s: zero time would leave the tokens live", s.d.Name, op)
	}
	at := now.UnixMilli()
	var hashes []string
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q.markCodeRevoked, at, codeHash, serverID); err != nil {
			return err
		}
		var err error
		hashes, err = s.revokeTx(ctx, tx, byCode, []any{serverID, codeHash, serverID, codeHash}, at)
		return err
	})
	if err != nil {
		return nil, s.wrap(op, err)
	}
	return hashes, nil
}

// revoke runs [Store.revokeTx] in a transaction of its own. Revoking by
// hash and matching no token at all (live or not) is ErrNotFound.
func (s *Store) revoke(ctx context.Context, op string, set revocationSet, args []any, now time.Time) ([]string, error) {
	if now.IsZero() {
		return nil, fmt.Errorf("%s: %s: zero time would leave the tokens live", s.d.Name, op)
	}
	var hashes []string
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if hashes, err = s.revokeTx(ctx, tx, set, args, now.UnixMilli()); err != nil {
			return err
		}
		if len(hashes) == 0 && set == byHash {
			var one int
			return tx.QueryRowContext(ctx, s.q.tokenExists, args...).Scan(&one)
		}
		return nil
	})
	if err != nil {
		return nil, s.wrap(op, err)
	}
	return hashes, nil
}

// revokeTx sets revoked_at to at on the live tokens of the set and appends
// one feed entry per token it revoked, within tx, so the feed holds exactly
// the tokens that died and each once: a token being revoked by two
// transactions at once is row-locked by the first UPDATE, and the second,
// after re-checking "revoked_at IS NULL", no longer matches it.
//
// With [Dialect.RepeatRevocation] the UPDATE is repeated until it revokes
// nothing more. On PostgreSQL a refresh rotating a token of the set holds
// that token's row lock while it inserts the next tokens; the UPDATE waits
// for it, but under READ COMMITTED the rows that refresh inserted are not in
// the statement's snapshot. The next pass, a new statement, sees them. Any
// rotation that locks a token after this UPDATE did finds it revoked and
// issues nothing. (SQLite's writers run one at a time: one pass sees all.)
//
// Before appending, the transaction runs [Dialect.LockFeed], which on
// PostgreSQL locks the feed table against other appenders (EXCLUSIVE mode
// still lets readers in) until it commits. Feed sequence numbers are drawn
// at insert time, so this makes them become visible in order: without it, a
// transaction holding seq 7 could commit after one holding seq 8, and a
// resource server that had already read 8 would resume past 7 and never see
// that revocation. Entries are appended in hash order so the result does not
// depend on the query plan.
func (s *Store) revokeTx(ctx context.Context, tx *sql.Tx, set revocationSet, args []any, at int64) ([]string, error) {
	type revoked struct{ hash, serverID string }
	var got []revoked
	updateArgs := append([]any{at}, args...)
	for {
		n := len(got)
		rows, err := tx.QueryContext(ctx, s.q.revoke[set], updateArgs...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var r revoked
			if err := rows.Scan(&r.hash, &r.serverID); err != nil {
				rows.Close()
				return nil, err
			}
			got = append(got, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if len(got) == n || !s.d.RepeatRevocation {
			break
		}
	}
	if len(got) == 0 {
		return nil, nil
	}
	slices.SortFunc(got, func(a, b revoked) int { return cmp.Compare(a.hash, b.hash) })
	if s.q.lockFeed != "" {
		if _, err := tx.ExecContext(ctx, s.q.lockFeed); err != nil {
			return nil, err
		}
	}
	hashes := make([]string, len(got))
	for i, r := range got {
		hashes[i] = r.hash
	}
	for len(got) > 0 {
		n := min(len(got), maxFeedRows)
		feedArgs := make([]any, 0, 3*n)
		for _, r := range got[:n] {
			feedArgs = append(feedArgs, r.serverID, r.hash, at)
		}
		if _, err := tx.ExecContext(ctx, s.q.appendFeed[n], feedArgs...); err != nil {
			return nil, err
		}
		got = got[n:]
	}
	return hashes, nil
}

// Revocations returns a server's feed entries with Seq > after, oldest
// first, at most limit of them (all of them if limit <= 0).
func (s *Store) Revocations(ctx context.Context, serverID string, after int64, limit int) ([]store.Revocation, error) {
	const op = "revocations"
	lim := int64(limit)
	if limit <= 0 {
		lim = math.MaxInt64
	}
	rows, err := s.read.QueryContext(ctx, s.q.revocations, serverID, after, lim)
	if err != nil {
		return nil, s.wrap(op, err)
	}
	defer rows.Close()
	out := []store.Revocation{}
	for rows.Next() {
		var (
			r  store.Revocation
			at sql.NullInt64
		)
		if err := rows.Scan(&r.Seq, &r.ServerID, &r.TokenHash, &at); err != nil {
			return nil, s.wrap(op, err)
		}
		r.RevokedAt = fromMillis(at)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(op, err)
	}
	return out, nil
}

// LatestRevocationSeq returns the highest Seq of the server's feed, 0 if empty.
func (s *Store) LatestRevocationSeq(ctx context.Context, serverID string) (int64, error) {
	var seq int64
	err := s.queryRow(ctx, s.read, s.q.latestRevocationSeq, serverID).Scan(&seq)
	return seq, s.wrap("latest revocation seq", err)
}
