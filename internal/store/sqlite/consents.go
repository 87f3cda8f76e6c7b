package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/mcp-obs/mcp-obs/internal/store/columns"
)

// SaveConsent adds scopes to what the user has granted the client. Scopes
// granted before keep their order; new ones follow in the order given.
func (s *Store) SaveConsent(ctx context.Context, serverID, userID, clientID string, scopes []string) error {
	const op = "save consent"
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return wrap(op, err)
	}
	defer tx.Rollback()

	var prev string
	err = tx.QueryRowContext(ctx, `SELECT scopes FROM consents WHERE server_id = ? AND user_id = ? AND client_id = ?`,
		serverID, userID, clientID).Scan(&prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return wrap(op, err)
	}
	granted, err := columns.FromList(prev)
	if err != nil {
		return wrap(op, err)
	}
	merged := mergeScopes(granted, scopes)
	if _, err := tx.ExecContext(ctx, `INSERT INTO consents (server_id, user_id, client_id, scopes) VALUES (?, ?, ?, ?)
	ON CONFLICT (server_id, user_id, client_id) DO UPDATE SET scopes = excluded.scopes`,
		serverID, userID, clientID, columns.List(merged)); err != nil {
		return wrap(op, err)
	}
	return wrap(op, tx.Commit())
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
	err := s.reader.QueryRowContext(ctx, `SELECT scopes FROM consents WHERE server_id = ? AND user_id = ? AND client_id = ?`,
		serverID, userID, clientID).Scan(&scopes)
	if err != nil {
		return nil, wrap(op, err)
	}
	out, err := columns.FromList(scopes)
	return out, wrap(op, err)
}
