package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

// RotateRefreshToken applies the rotation rule of [store.Grants] in one
// transaction: reading the token, marking it rotated or revoking, and storing
// the new tokens all commit together or not at all, so a crash or a failed
// insert leaves the token as it was and the client's retry is still a first
// use. The transaction starts by locking the token's row (or, on SQLite, as
// the single writer), so concurrent calls for one token, in any number of
// processes, run one after the other, and each sees what the previous one
// committed.
//
// The common case, a live refresh token's first use by its own client, takes
// one statement: an UPDATE that marks the token rotated only under those
// conditions and returns it, locking the row as it does. Anything else (an
// unknown, revoked or used token, another client's) matches nothing, and the
// token is then read with [Dialect.LockRows] and the rule applied in full.
func (s *Store) RotateRefreshToken(ctx context.Context, serverID, hash, clientID string, now time.Time, grace time.Duration,
	next ...*store.Token) (*store.Rotation, error) {
	const op = "rotate refresh token"
	if now.IsZero() {
		return nil, fmt.Errorf("%s: %s: zero time would leave the token unused", s.d.Name, op)
	}
	for _, t := range next {
		if t.ParentHash != hash || t.ServerID != serverID {
			return nil, fmt.Errorf("%s: %s: new token must carry the server id and the used token as parent", s.d.Name, op)
		}
	}
	at := now.UnixMilli()
	var rot *store.Rotation
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		tok, err := scanToken(tx.QueryRowContext(ctx, s.q.firstUse, at, hash, serverID, clientID))
		switch {
		case err == nil:
			tok.RotatedAt = time.Time{} // as it was before this call
			rot = &store.Rotation{Outcome: store.RotationFirstUse, Token: tok}
			return s.insertTokens(ctx, tx, next)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		tok, err = scanToken(tx.QueryRowContext(ctx, s.q.tokenForUpdate, hash, serverID))
		if err != nil {
			return err
		}
		if tok.Kind != store.KindRefresh || tok.ClientID != clientID {
			return sql.ErrNoRows // to this client, not a refresh token of its own
		}
		rot = &store.Rotation{Token: tok}
		switch {
		case !tok.RevokedAt.IsZero():
			rot.Outcome = store.RotationRevoked
			return nil
		case tok.RotatedAt.IsZero():
			rot.Outcome = store.RotationFirstUse
			if _, err := tx.ExecContext(ctx, s.q.markRotated, at, hash); err != nil {
				return err
			}
		default:
			var usedSuccessors int
			if err := tx.QueryRowContext(ctx, s.q.usedSuccessors, hash, serverID).Scan(&usedSuccessors); err != nil {
				return err
			}
			if now.Sub(tok.RotatedAt) > grace || usedSuccessors > 0 {
				rot.Outcome = store.RotationReuse
				rot.Revoked, err = s.revokeTx(ctx, tx, byFamily, []any{serverID, tok.FamilyID}, at)
				return err
			}
			rot.Outcome = store.RotationRetry
			if rot.Revoked, err = s.revokeTx(ctx, tx, byParent, []any{serverID, hash}, at); err != nil {
				return err
			}
		}
		return s.insertTokens(ctx, tx, next)
	})
	if err != nil {
		return nil, s.wrap(op, err)
	}
	return rot, nil
}
