package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

// RotateRefreshToken applies the rotation rule of [store.Store] in one
// writer transaction: reading the token, marking it rotated or revoking,
// and storing the new tokens all commit together or not at all, so a crash
// or a failed insert leaves the token as it was and the client's retry is
// still a first use. Writer transactions run one at a time on the single
// writer connection, which serialises concurrent calls for one token.
func (s *Store) RotateRefreshToken(ctx context.Context, serverID, hash, clientID string, now time.Time, grace time.Duration,
	next ...*store.Token) (*store.Rotation, error) {
	const op = "rotate refresh token"
	if now.IsZero() {
		return nil, fmt.Errorf("sqlite: %s: zero time would leave the token unused", op)
	}
	for _, t := range next {
		if t.ParentHash != hash || t.ServerID != serverID {
			return nil, fmt.Errorf("sqlite: %s: new token must carry the server id and the used token as parent", op)
		}
	}
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer tx.Rollback()
	tok, err := scanToken(tx.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = ? AND server_id = ?`, hash, serverID))
	if err != nil {
		return nil, wrap(op, err)
	}
	if tok.Kind != store.KindRefresh || tok.ClientID != clientID {
		return nil, notFound(op)
	}
	rot := &store.Rotation{Token: tok}
	at := now.UnixMilli()
	switch {
	case !tok.RevokedAt.IsZero():
		rot.Outcome = store.RotationRevoked
		return rot, nil
	case tok.RotatedAt.IsZero():
		rot.Outcome = store.RotationFirstUse
		if _, err := tx.ExecContext(ctx, `UPDATE tokens SET rotated_at = ? WHERE hash = ?`, at, hash); err != nil {
			return nil, wrap(op, err)
		}
	default:
		var usedSuccessors int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM tokens
		WHERE parent_hash = ? AND server_id = ? AND kind = 'refresh' AND rotated_at IS NOT NULL`,
			hash, serverID).Scan(&usedSuccessors); err != nil {
			return nil, wrap(op, err)
		}
		if now.Sub(tok.RotatedAt) > grace || usedSuccessors > 0 {
			rot.Outcome = store.RotationReuse
			rot.Revoked, err = revokeTx(ctx, tx, whereFamily, []any{serverID, tok.FamilyID}, at)
			if err != nil {
				return nil, wrap(op, err)
			}
			next = nil
			break
		}
		rot.Outcome = store.RotationRetry
		rot.Revoked, err = revokeTx(ctx, tx, whereParent, []any{serverID, hash}, at)
		if err != nil {
			return nil, wrap(op, err)
		}
	}
	if err := insertTokens(ctx, tx, next); err != nil {
		return nil, wrap(op, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, wrap(op, err)
	}
	return rot, nil
}
