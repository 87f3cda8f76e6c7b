package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

func scanServer(sc Row) (*store.Server, error) {
	var (
		s                     store.Server
		scopes, defaults      string
		accessTTL, refreshTTL int64
		created               sql.NullInt64
	)
	if err := sc.Scan(&s.ID, &s.Slug, &s.Name, &s.ResourceURL, &scopes, &defaults, &s.AllowSignup,
		&accessTTL, &refreshTTL, &s.ClientID, &s.ClientSecretHash, &created); err != nil {
		return nil, err
	}
	var err error
	if s.Scopes, err = fromList(scopes); err != nil {
		return nil, err
	}
	if s.DefaultScopes, err = fromList(defaults); err != nil {
		return nil, err
	}
	s.AccessTokenTTL = time.Duration(accessTTL) * time.Millisecond
	s.RefreshTokenTTL = time.Duration(refreshTTL) * time.Millisecond
	s.CreatedAt = fromMillis(created)
	return &s, nil
}

// CreateServer adds a server; a duplicate slug (or id) wraps store.ErrConflict.
func (s *Store) CreateServer(ctx context.Context, sv *store.Server) error {
	_, err := s.write.ExecContext(ctx, s.q.createServer,
		sv.ID, sv.Slug, sv.Name, sv.ResourceURL, list(sv.Scopes), list(sv.DefaultScopes), sv.AllowSignup,
		sv.AccessTokenTTL.Milliseconds(), sv.RefreshTokenTTL.Milliseconds(), sv.ClientID, sv.ClientSecretHash, millis(sv.CreatedAt))
	return s.wrap(fmt.Sprintf("create server %q", sv.Slug), err)
}

// ServerBySlug returns the server with the slug: one lookup in the slug's unique index.
func (s *Store) ServerBySlug(ctx context.Context, slug string) (*store.Server, error) {
	row, err := s.lookupRow(ctx, lookupServerBySlug, slug)
	if err != nil {
		return nil, s.wrap(fmt.Sprintf("server %q", slug), err)
	}
	sv, err := scanServer(row)
	if err != nil {
		return nil, s.wrap(fmt.Sprintf("server %q", slug), err)
	}
	return sv, nil
}

// ServerByClientID returns the server whose resource-server client id is
// clientID; an empty clientID wraps store.ErrNotFound without a query.
func (s *Store) ServerByClientID(ctx context.Context, clientID string) (*store.Server, error) {
	op := fmt.Sprintf("server with client id %q", clientID)
	if clientID == "" {
		return nil, s.fail(op, store.ErrNotFound)
	}
	sv, err := scanServer(s.queryRow(ctx, s.read, s.q.serverByClientID, clientID))
	if err != nil {
		return nil, s.wrap(op, err)
	}
	return sv, nil
}

// ListServers returns all servers ordered by slug (a non-nil empty slice if none).
func (s *Store) ListServers(ctx context.Context) ([]*store.Server, error) {
	const op = "list servers"
	rows, err := s.read.QueryContext(ctx, s.q.listServers)
	if err != nil {
		return nil, s.wrap(op, err)
	}
	defer rows.Close()
	out := []*store.Server{}
	for rows.Next() {
		sv, err := scanServer(rows)
		if err != nil {
			return nil, s.wrap(op, err)
		}
		out = append(out, sv)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(op, err)
	}
	return out, nil
}

// UpdateServer reads the server holding its row (the write transaction
// itself on SQLite, FOR UPDATE on PostgreSQL), applies change and stores
// every field but ID, Slug and CreatedAt, in one transaction.
func (s *Store) UpdateServer(ctx context.Context, id string, change func(*store.Server) error) (*store.Server, error) {
	op := fmt.Sprintf("update server %q", id)
	var out *store.Server
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		sv, err := scanServer(tx.QueryRowContext(ctx, s.q.serverForUpdate, id))
		if err != nil {
			return s.wrap(op, err)
		}
		slug, created := sv.Slug, sv.CreatedAt
		if err := change(sv); err != nil {
			return err
		}
		sv.ID, sv.Slug, sv.CreatedAt = id, slug, created // not changeable
		if _, err := tx.ExecContext(ctx, s.q.updateServer,
			sv.Name, sv.ResourceURL, list(sv.Scopes), list(sv.DefaultScopes), sv.AllowSignup,
			sv.AccessTokenTTL.Milliseconds(), sv.RefreshTokenTTL.Milliseconds(), sv.ClientID, sv.ClientSecretHash, id); err != nil {
			return s.wrap(op, err)
		}
		// Read back what was stored, encodings applied, to return exactly
		// what a lookup would.
		out, err = scanServer(tx.QueryRowContext(ctx, s.q.serverForUpdate, id))
		return s.wrap(op, err)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
