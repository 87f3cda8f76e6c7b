package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

// Conditions selecting the tokens each revocation takes; each is served by
// an index of the tokens table.
const (
	whereHash   = `hash = ?`
	whereFamily = `family_id = ?`
	whereCode   = `code_hash = ? OR family_id IN (SELECT family_id FROM tokens WHERE code_hash = ?)`
	whereClient = `server_id = ? AND client_id = ?`
)

// RevokeToken revokes one token and appends it to the feed. It returns the
// hash if it was live, nothing if it was already revoked, and an error
// wrapping store.ErrNotFound if there is no such token.
func (s *Store) RevokeToken(ctx context.Context, hash string, now time.Time) ([]string, error) {
	return s.revoke(ctx, "revoke token", whereHash, []any{hash}, true, now)
}

// RevokeFamily revokes every live token of a family and appends them to the feed.
func (s *Store) RevokeFamily(ctx context.Context, familyID string, now time.Time) ([]string, error) {
	return s.revoke(ctx, "revoke family", whereFamily, []any{familyID}, false, now)
}

// RevokeByCode revokes every live token of every family that started from
// the code, including tokens from refreshes that do not carry the code hash.
func (s *Store) RevokeByCode(ctx context.Context, codeHash string, now time.Time) ([]string, error) {
	return s.revoke(ctx, "revoke by code", whereCode, []any{codeHash, codeHash}, false, now)
}

// RevokeClientTokens revokes every live token of a client.
func (s *Store) RevokeClientTokens(ctx context.Context, serverID, clientID string, now time.Time) ([]string, error) {
	return s.revoke(ctx, "revoke client tokens", whereClient, []any{serverID, clientID}, false, now)
}

// revoke sets revoked_at on the live tokens matching where and appends one
// feed entry per token it revoked, all in one transaction, so the feed holds
// exactly the tokens that died and each once. Entries are appended in hash
// order so the result does not depend on the query plan. With mustExist,
// matching no token at all (live or not) is ErrNotFound.
func (s *Store) revoke(ctx context.Context, op, where string, args []any, mustExist bool, now time.Time) ([]string, error) {
	if now.IsZero() {
		return nil, fmt.Errorf("sqlite: %s: zero time would leave the tokens live", op)
	}
	at := now.UnixMilli()
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer tx.Rollback()

	rows, err := tx.QueryContext(ctx, `UPDATE tokens SET revoked_at = ? WHERE revoked_at IS NULL AND (`+where+`)
	RETURNING hash, server_id`, append([]any{at}, args...)...)
	if err != nil {
		return nil, wrap(op, err)
	}
	type revoked struct{ hash, serverID string }
	var got []revoked
	for rows.Next() {
		var r revoked
		if err := rows.Scan(&r.hash, &r.serverID); err != nil {
			rows.Close()
			return nil, wrap(op, err)
		}
		got = append(got, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, wrap(op, err)
	}

	if len(got) == 0 {
		if mustExist {
			var one int
			if err := tx.QueryRowContext(ctx, `SELECT 1 FROM tokens WHERE `+where, args...).Scan(&one); err != nil {
				return nil, wrap(op, err)
			}
		}
		return nil, nil
	}

	slices.SortFunc(got, func(a, b revoked) int { return cmp.Compare(a.hash, b.hash) })
	st, err := tx.PrepareContext(ctx, `INSERT INTO revocations (server_id, token_hash, revoked_at) VALUES (?, ?, ?)`)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer st.Close()
	hashes := make([]string, 0, len(got))
	for _, r := range got {
		if _, err := st.ExecContext(ctx, r.serverID, r.hash, at); err != nil {
			return nil, wrap(op, err)
		}
		hashes = append(hashes, r.hash)
	}
	if err := tx.Commit(); err != nil {
		return nil, wrap(op, err)
	}
	return hashes, nil
}

// Revocations returns a server's feed entries with Seq > after, oldest
// first, at most limit of them (all of them if limit <= 0).
func (s *Store) Revocations(ctx context.Context, serverID string, after int64, limit int) ([]store.Revocation, error) {
	const op = "revocations"
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := s.reader.QueryContext(ctx, `SELECT seq, server_id, token_hash, revoked_at FROM revocations
	WHERE server_id = ? AND seq > ? ORDER BY seq LIMIT ?`, serverID, after, limit)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	var out []store.Revocation
	for rows.Next() {
		var (
			r  store.Revocation
			at sql.NullInt64
		)
		if err := rows.Scan(&r.Seq, &r.ServerID, &r.TokenHash, &at); err != nil {
			return nil, wrap(op, err)
		}
		r.RevokedAt = fromMillis(at)
		out = append(out, r)
	}
	return out, wrap(op, rows.Err())
}

// LatestRevocationSeq returns the highest Seq of the server's feed, 0 if empty.
func (s *Store) LatestRevocationSeq(ctx context.Context, serverID string) (int64, error) {
	var seq int64
	err := s.reader.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM revocations WHERE server_id = ?`, serverID).Scan(&seq)
	return seq, wrap("latest revocation seq", err)
}
