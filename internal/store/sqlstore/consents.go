package sqlstore

import (
	"context"
	"database/sql"

	"github.com/mcp-obs/mcp-obs/internal/scope"
)

// SaveConsent adds scopes to what the user has granted the client. Scopes
// granted before keep their order; new ones follow in the order given.
//
// The merge is read-modify-write, so it runs in a transaction that first
// makes sure the row exists and then reads it with [Dialect.LockRows]: two
// processes saving consent for the same user and client at once queue on
// the row (or, on SQLite, on the single writer), and neither loses the
// other's scopes.
func (s *Store) SaveConsent(ctx context.Context, serverID, userID, clientID string, scopes []string) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q.ensureConsent, serverID, userID, clientID); err != nil {
			return err
		}
		var prev string
		if err := tx.QueryRowContext(ctx, s.q.consentForUpdate, serverID, userID, clientID).Scan(&prev); err != nil {
			return err
		}
		granted, err := fromList(prev)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q.updateConsent, list(scope.Union(granted, scopes)), serverID, userID, clientID)
		return err
	})
	return s.wrap("save consent", err)
}

// Consent returns the scopes the user has granted the client, or an error
// wrapping store.ErrNotFound if the user never consented.
func (s *Store) Consent(ctx context.Context, serverID, userID, clientID string) ([]string, error) {
	const op = "consent"
	var scopes string
	if err := s.queryRow(ctx, s.read, s.q.consent, serverID, userID, clientID).Scan(&scopes); err != nil {
		return nil, s.wrap(op, err)
	}
	out, err := fromList(scopes)
	return out, s.wrap(op, err)
}
