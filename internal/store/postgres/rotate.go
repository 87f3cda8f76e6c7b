package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

// RotateRefreshToken applies the rotation rule of [store.Store] in one
// transaction: reading the token, marking it rotated or revoking, and storing
// the new tokens all commit together or not at all, so a crash or a failed
// insert leaves the token as it was and the client's retry is still a first
// use. The transaction starts by locking the token's row (SELECT … FOR
// UPDATE), so concurrent calls for one token, on any number of replicas,
// run one after the other, and each sees what the previous one committed.
func (s *Store) RotateRefreshToken(ctx context.Context, serverID, hash, clientID string, now time.Time, grace time.Duration,
	next ...*store.Token) (*store.Rotation, error) {
	const op = "rotate refresh token"
	if now.IsZero() {
		return nil, fmt.Errorf("postgres: %s: zero time would leave the token unused", op)
	}
	for _, t := range next {
		if t.ParentHash != hash || t.ServerID != serverID {
			return nil, fmt.Errorf("postgres: %s: new token must carry the server id and the used token as parent", op)
		}
	}
	at := now.UnixMilli()
	var rot *store.Rotation
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tok, err := scanToken(tx.QueryRow(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = $1 AND server_id = $2 FOR UPDATE`,
			hash, serverID))
		if err != nil {
			return err
		}
		if tok.Kind != store.KindRefresh || tok.ClientID != clientID {
			return pgx.ErrNoRows // to this client, not a refresh token of its own
		}
		rot = &store.Rotation{Token: tok}
		switch {
		case !tok.RevokedAt.IsZero():
			rot.Outcome = store.RotationRevoked
			return nil
		case tok.RotatedAt.IsZero():
			rot.Outcome = store.RotationFirstUse
			if _, err := tx.Exec(ctx, `UPDATE tokens SET rotated_at = $1 WHERE hash = $2`, at, hash); err != nil {
				return err
			}
		default:
			var usedSuccessors int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM tokens
			WHERE parent_hash = $1 AND server_id = $2 AND kind = 'refresh' AND rotated_at IS NOT NULL`,
				hash, serverID).Scan(&usedSuccessors); err != nil {
				return err
			}
			if now.Sub(tok.RotatedAt) > grace || usedSuccessors > 0 {
				rot.Outcome = store.RotationReuse
				rot.Revoked, err = revokeTx(ctx, tx, whereFamily, []any{serverID, tok.FamilyID}, at)
				return err
			}
			rot.Outcome = store.RotationRetry
			if rot.Revoked, err = revokeTx(ctx, tx, whereParent, []any{serverID, hash}, at); err != nil {
				return err
			}
		}
		return insertTokens(ctx, tx, next)
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	return rot, nil
}
