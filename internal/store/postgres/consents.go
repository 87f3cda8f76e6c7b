package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/mcp-obs/mcp-obs/internal/store/columns"
)

// SaveConsent adds scopes to what the user has granted the client. Scopes
// granted before keep their order; new ones follow in the order given.
//
// The merge is read-modify-write, so it runs in a transaction that first
// makes sure the row exists and then locks it (SELECT … FOR UPDATE): two
// replicas saving consent for the same user and client at once queue on the
// row, and neither loses the other's scopes.
func (s *Store) SaveConsent(ctx context.Context, serverID, userID, clientID string, scopes []string) error {
	const op = "save consent"
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO consents (server_id, user_id, client_id, scopes) VALUES ($1, $2, $3, '[]')
		ON CONFLICT (server_id, user_id, client_id) DO NOTHING`, serverID, userID, clientID); err != nil {
			return err
		}
		var prev string
		if err := tx.QueryRow(ctx, `SELECT scopes FROM consents WHERE server_id = $1 AND user_id = $2 AND client_id = $3
		FOR UPDATE`, serverID, userID, clientID).Scan(&prev); err != nil {
			return err
		}
		granted, err := columns.FromList(prev)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE consents SET scopes = $4 WHERE server_id = $1 AND user_id = $2 AND client_id = $3`,
			serverID, userID, clientID, columns.List(mergeScopes(granted, scopes)))
		return err
	})
	return wrap(op, err)
}

// mergeScopes returns a followed by the scopes of b not already in it, without duplicates.
func mergeScopes(a, b []string) []string {
	seen := make(map[string]bool, len(a)+len(b))
	out := make([]string, 0, len(a)+len(b))
	for _, ss := range [][]string{a, b} {
		for _, sc := range ss {
			if !seen[sc] {
				seen[sc] = true
				out = append(out, sc)
			}
		}
	}
	return out
}

// Consent returns the scopes the user has granted the client, or an error
// wrapping store.ErrNotFound if the user never consented.
func (s *Store) Consent(ctx context.Context, serverID, userID, clientID string) ([]string, error) {
	const op = "consent"
	var scopes string
	err := s.pool.QueryRow(ctx, `SELECT scopes FROM consents WHERE server_id = $1 AND user_id = $2 AND client_id = $3`,
		serverID, userID, clientID).Scan(&scopes)
	if err != nil {
		return nil, wrap(op, err)
	}
	out, err := columns.FromList(scopes)
	return out, wrap(op, err)
}
