package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// hotStatements are the lookups every introspection (server by slug, token,
// user) and every authorization (client) makes, prepared once so a request
// pays for a primary-key probe only, not for parsing SQL.
type hotStatements struct {
	serverBySlug *sql.Stmt
	token        *sql.Stmt
	user         *sql.Stmt
	client       *sql.Stmt
}

func prepareHot(ctx context.Context, db *sql.DB) (*hotStatements, error) {
	h := &hotStatements{}
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&h.serverBySlug, `SELECT ` + serverColumns + ` FROM servers WHERE slug = ?`},
		{&h.token, `SELECT ` + tokenColumns + ` FROM tokens WHERE hash = ?`},
		{&h.user, `SELECT ` + userColumns + ` FROM users WHERE server_id = ? AND id = ?`},
		{&h.client, `SELECT ` + clientColumns + ` FROM clients WHERE server_id = ? AND client_id = ?`},
	} {
		st, err := db.PrepareContext(ctx, p.query)
		if err != nil {
			h.close()
			return nil, fmt.Errorf("prepare %q: %w", p.query, err)
		}
		*p.dst = st
	}
	return h, nil
}

func (h *hotStatements) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{h.serverBySlug, h.token, h.user, h.client} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}
