package sqlstore

import (
	"context"
	"database/sql"
	"time"
)

// PurgeExpired deletes, in one transaction, authorization codes, sessions and
// tokens that expired before cutoff and feed entries revoked before cutoff.
// Rows without an expiry are kept. It returns how many rows it removed.
func (s *Store) PurgeExpired(ctx context.Context, cutoff time.Time) (int, error) {
	at := cutoff.UnixMilli()
	var total int
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		total = 0
		for _, q := range s.q.purge {
			res, err := tx.ExecContext(ctx, q, at)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			total += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, s.wrap("purge expired", err)
	}
	return total, nil
}
