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

// Conditions selecting the tokens each revocation takes, each scoped by the
// server id (the first argument) and served by an index of the tokens table.
const (
	whereHash   = `server_id = ? AND hash = ?`
	whereFamily = `server_id = ? AND family_id = ?`
	whereParent = `server_id = ? AND parent_hash = ?`
	whereCode   = `server_id = ? AND (code_hash = ? OR family_id IN (SELECT family_id FROM tokens WHERE server_id = ? AND code_hash = ?))`
	whereClient = `server_id = ? AND client_id = ?`
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
// do not carry the code hash, in one writer transaction: IssueCodeTokens,
// also a writer transaction, runs wholly before it (and its tokens are
// revoked here) or wholly after (and finds the mark).
func (s *Store) RevokeByCode(ctx context.Context, serverID, codeHash string, now time.Time) ([]string, error) {
	const op = "revoke by code"
	if now.IsZero() {
		return nil, fmt.Errorf("sqlite: %s: zero time would leave the tokens live", op)
	}
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE auth_codes SET revoked_at = ? WHERE hash = ? AND server_id = ? AND revoked_at IS NULL`,
		now.UnixMilli(), codeHash, serverID); err != nil {
		return nil, wrap(op, err)
	}
	hashes, err := revokeTx(ctx, tx, whereCode, []any{serverID, codeHash, serverID, codeHash}, now.UnixMilli())
	if err != nil {
		return nil, wrap(op, err)
	}
	if err := tx.Commit(); err != nil {
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
		return nil, fmt.Errorf("sqlite: %s: zero time would leave the tokens live", op)
	}
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer tx.Rollback()
	hashes, err := revokeTx(ctx, tx, where, args, now.UnixMilli())
	if err != nil {
		return nil, wrap(op, err)
	}
	if len(hashes) == 0 && mustExist {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM tokens WHERE `+where, args...).Scan(&one); err != nil {
			return nil, wrap(op, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, wrap(op, err)
	}
	return hashes, nil
}

// revokeTx sets revoked_at to at on the live tokens matching where and
// appends one feed entry per token it revoked, within tx, so the feed holds
// exactly the tokens that died and each once. Entries are appended in hash
// order so the result does not depend on the query plan.
func revokeTx(ctx context.Context, tx *sql.Tx, where string, args []any, at int64) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `UPDATE tokens SET revoked_at = ? WHERE revoked_at IS NULL AND (`+where+`)
	RETURNING hash, server_id`, append([]any{at}, args...)...)
	if err != nil {
		return nil, err
	}
	type revoked struct{ hash, serverID string }
	var got []revoked
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
	if len(got) == 0 {
		return nil, nil
	}

	slices.SortFunc(got, func(a, b revoked) int { return cmp.Compare(a.hash, b.hash) })
	st, err := tx.PrepareContext(ctx, `INSERT INTO revocations (server_id, token_hash, revoked_at) VALUES (?, ?, ?)`)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	hashes := make([]string, 0, len(got))
	for _, r := range got {
		if _, err := st.ExecContext(ctx, r.serverID, r.hash, at); err != nil {
			return nil, err
		}
		hashes = append(hashes, r.hash)
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
