package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/store/columns"
)

const serverColumns = `id, slug, name, resource_url, scopes, default_scopes, allow_signup,
	access_token_ttl_ms, refresh_token_ttl_ms, client_id, client_secret_hash, created_at`

func scanServer(sc scanner) (*store.Server, error) {
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
	if s.Scopes, err = columns.FromList(scopes); err != nil {
		return nil, err
	}
	if s.DefaultScopes, err = columns.FromList(defaults); err != nil {
		return nil, err
	}
	s.AccessTokenTTL = time.Duration(accessTTL) * time.Millisecond
	s.RefreshTokenTTL = time.Duration(refreshTTL) * time.Millisecond
	s.CreatedAt = fromMillis(created)
	return &s, nil
}

// CreateServer adds a server; a duplicate slug (or id) wraps store.ErrConflict.
func (s *Store) CreateServer(ctx context.Context, sv *store.Server) error {
	_, err := s.writer.ExecContext(ctx, `INSERT INTO servers (`+serverColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		sv.ID, sv.Slug, sv.Name, sv.ResourceURL, columns.List(sv.Scopes), columns.List(sv.DefaultScopes), sv.AllowSignup,
		sv.AccessTokenTTL.Milliseconds(), sv.RefreshTokenTTL.Milliseconds(), sv.ClientID, sv.ClientSecretHash, millis(sv.CreatedAt))
	return wrap(fmt.Sprintf("create server %q", sv.Slug), err)
}

// ServerBySlug returns the server with the slug: one lookup in the slug's unique index.
func (s *Store) ServerBySlug(ctx context.Context, slug string) (*store.Server, error) {
	qctx, err := hotContext(ctx)
	if err != nil {
		return nil, wrap(fmt.Sprintf("server %q", slug), err)
	}
	sv, err := scanServer(s.hot.serverBySlug.QueryRowContext(qctx, slug))
	if err != nil {
		return nil, wrap(fmt.Sprintf("server %q", slug), err)
	}
	return sv, nil
}

// ListServers returns all servers ordered by slug.
func (s *Store) ListServers(ctx context.Context) ([]*store.Server, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+serverColumns+` FROM servers ORDER BY slug`)
	if err != nil {
		return nil, wrap("list servers", err)
	}
	defer rows.Close()
	var out []*store.Server
	for rows.Next() {
		sv, err := scanServer(rows)
		if err != nil {
			return nil, wrap("list servers", err)
		}
		out = append(out, sv)
	}
	return out, wrap("list servers", rows.Err())
}

// UpdateServer replaces every field of the server with sv.ID except ID, Slug and CreatedAt.
func (s *Store) UpdateServer(ctx context.Context, sv *store.Server) error {
	res, err := s.writer.ExecContext(ctx, `UPDATE servers SET name = ?, resource_url = ?, scopes = ?, default_scopes = ?,
	allow_signup = ?, access_token_ttl_ms = ?, refresh_token_ttl_ms = ?, client_id = ?, client_secret_hash = ?
	WHERE id = ?`,
		sv.Name, sv.ResourceURL, columns.List(sv.Scopes), columns.List(sv.DefaultScopes), sv.AllowSignup,
		sv.AccessTokenTTL.Milliseconds(), sv.RefreshTokenTTL.Milliseconds(), sv.ClientID, sv.ClientSecretHash, sv.ID)
	return affected(fmt.Sprintf("update server %q", sv.ID), res, err)
}
