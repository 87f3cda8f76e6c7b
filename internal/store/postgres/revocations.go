package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

// Conditions selecting the tokens each revocation takes, each scoped by the
// server id ($1) and served by an index of the tokens table.
const (
	whereHash   = `server_id = $1 AND hash = $2`
	whereFamily = `server_id = $1 AND family_id = $2`
	whereParent = `server_id = $1 AND parent_hash = $2`
	whereCode   = `server_id = $1 AND (code_hash = $2 OR family_id IN (SELECT family_id FROM tokens WHERE server_id = $1 AND code_hash = $2))`
	whereClient = `server_id = $1 AND client_id = $2`
)

// RevokeToken revokes one of the server's tokens and appends it to the feed.
// It returns the hash if it was live, nothing if it was already revoked, and
// an error wrapping store.ErrNotFound if the server has no such token.
func (s *Store) RevokeToken(ctx context.Context, serverID, hash string, now time.Time) ([]string, error) {
	return s.revoke(ctx, "revoke token", whereHash, []any{serverID, hash}, true, now)
}

// RevokeFamily revokes every live token of one of the server's families and
// appends them to the feed.
func (s *Store) RevokeFamily(ctx context.Context, serverID, familyID string, now time.Time) ([]string, error) {
	return s.revoke(ctx, "revoke family", whereFamily, []any{serverID, familyID}, false, now)
}

// RevokeByCode marks the server's code revoked and revokes every live token
// of every family that started from it, including tokens from refreshes that
// do not carry the code hash, in one transaction. The mark is set first, by
// an UPDATE that queues behind an IssueCodeTokens holding the code's row, so
// the revoking statement that follows sees the tokens such an issue
// committed, and every later issue finds the mark.
func (s *Store) RevokeByCode(ctx context.Context, serverID, codeHash string, now time.Time) ([]string, error) {
	const op = "revoke by code"
	if now.IsZero() {
		return nil, fmt.Errorf("postgres: %s: zero time would leave the tokens live", op)
	}
	at := now.UnixMilli()
	var hashes []string
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE auth_codes SET revoked_at = $3 WHERE hash = $1 AND server_id = $2 AND revoked_at IS NULL`,
			codeHash, serverID, at); err != nil {
			return err
		}
		var err error
		hashes, err = revokeTx(ctx, tx, whereCode, []any{serverID, codeHash}, at)
		return err
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	return hashes, nil
}

// RevokeClientTokens revokes every live token of a client.
func (s *Store) RevokeClientTokens(ctx context.Context, serverID, clientID string, now time.Time) ([]string, error) {
	return s.revoke(ctx, "revoke client tokens", whereClient, []any{serverID, clientID}, false, now)
}

// revoke runs [revokeTx] in a transaction of its own. With mustExist,
// matching no token at all (live or not) is ErrNotFound.
func (s *Store) revoke(ctx context.Context, op, where string, args []any, mustExist bool, now time.Time) ([]string, error) {
	if now.IsZero() {
		return nil, fmt.Errorf("postgres: %s: zero time would leave the tokens live", op)
	}
	var hashes []string
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if hashes, err = revokeTx(ctx, tx, where, args, now.UnixMilli()); err != nil {
			return err
		}
		if len(hashes) == 0 && mustExist {
			var one int
			return tx.QueryRow(ctx, `SELECT 1 FROM tokens WHERE `+where+` LIMIT 1`, args...).Scan(&one)
		}
		return nil
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	return hashes, nil
}

// revokeTx sets revoked_at to at on the live tokens matching where and
// appends one feed entry per token it revoked, within tx, so the feed holds
// exactly the tokens that died and each once: a token being revoked by two
// replicas at once is row-locked by the first UPDATE, and the second, after
// re-checking "revoked_at IS NULL", no longer matches it.
//
// The UPDATE is repeated until it revokes nothing more. A refresh rotating a
// token of the set holds that token's row lock while it inserts the next
// tokens; the UPDATE waits for it, but under READ COMMITTED the rows that
// refresh inserted are not in the statement's snapshot. The next pass, a new
// statement, sees them. Any rotation that locks a token after this UPDATE did
// finds it revoked and issues nothing.
//
// Before appending, the transaction locks the feed table against other
// appenders (EXCLUSIVE mode still lets readers in) until it commits. Feed
// sequence numbers are drawn at insert time, so this makes them become
// visible in order: without it, a transaction holding seq 7 could commit
// after one holding seq 8, and a resource server that had already read 8
// would resume past 7 and never see that revocation. Entries are appended in
// hash order so the result does not depend on the query plan.
func revokeTx(ctx context.Context, tx pgx.Tx, where string, args []any, at int64) ([]string, error) {
	type revoked struct{ hash, serverID string }
	var got []revoked
	// The revocation time is the parameter after where's own.
	update := fmt.Sprintf(`UPDATE tokens SET revoked_at = $%d WHERE revoked_at IS NULL AND (%s) RETURNING hash, server_id`,
		len(args)+1, where)
	for {
		rows, err := tx.Query(ctx, update, append(slices.Clone(args), at)...)
		if err != nil {
			return nil, err
		}
		var r revoked
		n := len(got)
		if _, err := pgx.ForEachRow(rows, []any{&r.hash, &r.serverID}, func() error {
			got = append(got, r)
			return nil
		}); err != nil {
			return nil, err
		}
		if len(got) == n {
			break
		}
	}
	if len(got) == 0 {
		return nil, nil
	}
	slices.SortFunc(got, func(a, b revoked) int { return cmp.Compare(a.hash, b.hash) })
	serverIDs := make([]string, len(got))
	hashes := make([]string, len(got))
	for i, r := range got {
		serverIDs[i], hashes[i] = r.serverID, r.hash
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE revocations IN EXCLUSIVE MODE`); err != nil {
		return nil, err
	}
	_, err := tx.Exec(ctx, `INSERT INTO revocations (server_id, token_hash, revoked_at)
	SELECT u.server_id, u.token_hash, $3 FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(server_id, token_hash, n)
	ORDER BY u.n`, serverIDs, hashes, at)
	if err != nil {
		return nil, err
	}
	return hashes, nil
}

// Revocations returns a server's feed entries with Seq > after, oldest
// first, at most limit of them (all of them if limit <= 0).
func (s *Store) Revocations(ctx context.Context, serverID string, after int64, limit int) ([]store.Revocation, error) {
	const op = "revocations"
	var lim *int64 // NULL: no limit
	if limit > 0 {
		l := int64(limit)
		lim = &l
	}
	rows, err := s.pool.Query(ctx, `SELECT seq, server_id, token_hash, revoked_at FROM revocations
	WHERE server_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, serverID, after, lim)
	if err != nil {
		return nil, wrap(op, err)
	}
	out := []store.Revocation{}
	var (
		r  store.Revocation
		ms int64
	)
	if _, err := pgx.ForEachRow(rows, []any{&r.Seq, &r.ServerID, &r.TokenHash, &ms}, func() error {
		r.RevokedAt = time.UnixMilli(ms).UTC()
		out = append(out, r)
		return nil
	}); err != nil {
		return nil, wrap(op, err)
	}
	return out, nil
}

// LatestRevocationSeq returns the highest Seq of the server's feed, 0 if empty.
func (s *Store) LatestRevocationSeq(ctx context.Context, serverID string) (int64, error) {
	var seq int64
	err := s.pool.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM revocations WHERE server_id = $1`, serverID).Scan(&seq)
	return seq, wrap("latest revocation seq", err)
}
