package postgres

import (
	"context"
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
		created               *int64
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
	_, err := s.pool.Exec(ctx, `INSERT INTO servers (`+serverColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		sv.ID, sv.Slug, sv.Name, sv.ResourceURL, columns.List(sv.Scopes), columns.List(sv.DefaultScopes), sv.AllowSignup,
		sv.AccessTokenTTL.Milliseconds(), sv.RefreshTokenTTL.Milliseconds(), sv.ClientID, sv.ClientSecretHash, millis(sv.CreatedAt))
	return wrap(fmt.Sprintf("create server %q", sv.Slug), err)
}

// ServerBySlug returns the server with the slug: one lookup in the slug's unique index.
func (s *Store) ServerBySlug(ctx context.Context, slug string) (*store.Server, error) {
	sv, err := scanServer(s.pool.QueryRow(ctx, `SELECT `+serverColumns+` FROM servers WHERE slug = $1`, slug))
	if err != nil {
		return nil, wrap(fmt.Sprintf("server %q", slug), err)
	}
	return sv, nil
}

// ListServers returns all servers ordered by slug (a non-nil empty slice if none).
func (s *Store) ListServers(ctx context.Context) ([]*store.Server, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+serverColumns+` FROM servers ORDER BY slug`)
	if err != nil {
		return nil, wrap("list servers", err)
	}
	defer rows.Close()
	out := []*store.Server{}
	for rows.Next() {
		sv, err := scanServer(rows)
		if err != nil {
			return nil, wrap("list servers", err)
		}
		out = append(out, sv)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list servers", err)
	}
	return out, nil
}

// UpdateServer replaces every field of the server with sv.ID except ID, Slug and CreatedAt.
func (s *Store) UpdateServer(ctx context.Context, sv *store.Server) error {
	tag, err := s.pool.Exec(ctx, `UPDATE servers SET name = $1, resource_url = $2, scopes = $3, default_scopes = $4,
	allow_signup = $5, access_token_ttl_ms = $6, refresh_token_ttl_ms = $7, client_id = $8, client_secret_hash = $9
	WHERE id = $10`,
		sv.Name, sv.ResourceURL, columns.List(sv.Scopes), columns.List(sv.DefaultScopes), sv.AllowSignup,
		sv.AccessTokenTTL.Milliseconds(), sv.RefreshTokenTTL.Milliseconds(), sv.ClientID, sv.ClientSecretHash, sv.ID)
	return affected(fmt.Sprintf("update server %q", sv.ID), tag, err)
}
