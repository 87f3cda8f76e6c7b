package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// PurgeExpired deletes, in one transaction, authorization codes, sessions and
// tokens that expired before cutoff and feed entries revoked before cutoff.
// Rows without an expiry are kept. It returns how many rows it removed.
func (s *Store) PurgeExpired(ctx context.Context, cutoff time.Time) (int, error) {
	at := cutoff.UnixMilli()
	total := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, q := range []string{
			`DELETE FROM auth_codes WHERE expires_at < $1`,
			`DELETE FROM sessions WHERE expires_at < $1`,
			`DELETE FROM tokens WHERE expires_at < $1`,
			`DELETE FROM revocations WHERE revoked_at < $1`,
		} {
			tag, err := tx.Exec(ctx, q, at)
			if err != nil {
				return err
			}
			total += int(tag.RowsAffected())
		}
		return nil
	})
	if err != nil {
		return 0, wrap("purge expired", err)
	}
	return total, nil
}
