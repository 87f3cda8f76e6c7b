package sqlite

import (
	"context"
	"time"
)

// PurgeExpired deletes, in one transaction, authorization codes, sessions and
// tokens that expired before cutoff and feed entries revoked before cutoff.
// Rows without an expiry are kept. It returns how many rows it removed.
func (s *Store) PurgeExpired(ctx context.Context, cutoff time.Time) (int, error) {
	const op = "purge expired"
	at := cutoff.UnixMilli()
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return 0, wrap(op, err)
	}
	defer tx.Rollback()
	total := 0
	for _, q := range []string{
		`DELETE FROM auth_codes WHERE expires_at < ?`,
		`DELETE FROM sessions WHERE expires_at < ?`,
		`DELETE FROM tokens WHERE expires_at < ?`,
		`DELETE FROM revocations WHERE revoked_at < ?`,
	} {
		res, err := tx.ExecContext(ctx, q, at)
		if err != nil {
			return 0, wrap(op, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, wrap(op, err)
		}
		total += int(n)
	}
	if err := tx.Commit(); err != nil {
		return 0, wrap(op, err)
	}
	return total, nil
}
