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
//
// They run under [hotContext]: see there why.
type hotStatements struct {
	serverBySlug *sql.Stmt
	token        *sql.Stmt
	user         *sql.Stmt
	client       *sql.Stmt
}

// The hot lookups, each one probe of a unique index.
const (
	queryServerBySlug = `SELECT ` + serverColumns + ` FROM servers WHERE slug = ?`
	queryToken        = `SELECT ` + tokenColumns + ` FROM tokens WHERE hash = ? AND server_id = ?`
	queryUser         = `SELECT ` + userColumns + ` FROM users WHERE server_id = ? AND id = ?`
	queryClient       = `SELECT ` + clientColumns + ` FROM clients WHERE server_id = ? AND client_id = ?`
)

func prepareHot(ctx context.Context, db *sql.DB) (*hotStatements, error) {
	h := &hotStatements{}
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&h.serverBySlug, queryServerBySlug},
		{&h.token, queryToken},
		{&h.user, queryUser},
		{&h.client, queryClient},
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

// hotContext returns the context a hot lookup runs under: ctx without its
// cancellation, or ctx's error if it is already done. A cancellable context
// costs database/sql and the driver a watcher goroutine per query, which
// doubled the CPU cost of these primary-key probes (measured by
// BenchmarkIntrospection); the probes finish in microseconds, so there is
// nothing worth interrupting once they have started.
func hotContext(ctx context.Context) (context.Context, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return context.WithoutCancel(ctx), nil
}
