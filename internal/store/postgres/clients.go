package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/store/columns"
)

const clientColumns = `server_id, client_id, name, redirect_uris, grant_types, response_types,
	token_endpoint_auth_method, secret_hash, registration_token_hash, scope, client_uri, logo_uri,
	source, issued_at, last_used_at, cached_until`

const clientPlaceholders = `$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16`

func clientArgs(c *store.Client) []any {
	return []any{c.ServerID, c.ClientID, c.Name, columns.List(c.RedirectURIs), columns.List(c.GrantTypes), columns.List(c.ResponseTypes),
		c.TokenEndpointAuthMethod, c.SecretHash, c.RegistrationTokenHash, c.Scope, c.ClientURI, c.LogoURI,
		c.Source, millis(c.IssuedAt), millis(c.LastUsedAt), millis(c.CachedUntil)}
}

func scanClient(sc scanner) (*store.Client, error) {
	var (
		c                           store.Client
		uris, grants, responses     string
		issued, lastUsed, cachedTil *int64
	)
	if err := sc.Scan(&c.ServerID, &c.ClientID, &c.Name, &uris, &grants, &responses,
		&c.TokenEndpointAuthMethod, &c.SecretHash, &c.RegistrationTokenHash, &c.Scope, &c.ClientURI, &c.LogoURI,
		&c.Source, &issued, &lastUsed, &cachedTil); err != nil {
		return nil, err
	}
	var err error
	if c.RedirectURIs, err = columns.FromList(uris); err != nil {
		return nil, err
	}
	if c.GrantTypes, err = columns.FromList(grants); err != nil {
		return nil, err
	}
	if c.ResponseTypes, err = columns.FromList(responses); err != nil {
		return nil, err
	}
	c.IssuedAt, c.LastUsedAt, c.CachedUntil = fromMillis(issued), fromMillis(lastUsed), fromMillis(cachedTil)
	return &c, nil
}

// CreateClient adds a client; a duplicate (ServerID, ClientID) wraps store.ErrConflict.
func (s *Store) CreateClient(ctx context.Context, c *store.Client) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO clients (`+clientColumns+`) VALUES (`+clientPlaceholders+`)`, clientArgs(c)...)
	return wrap(fmt.Sprintf("create client %q", c.ClientID), err)
}

// PutClient inserts the client or replaces every field of the existing one,
// in one statement, updating in place so nothing that refers to it is disturbed.
func (s *Store) PutClient(ctx context.Context, c *store.Client) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO clients (`+clientColumns+`) VALUES (`+clientPlaceholders+`)
	ON CONFLICT (server_id, client_id) DO UPDATE SET
		name = excluded.name, redirect_uris = excluded.redirect_uris, grant_types = excluded.grant_types,
		response_types = excluded.response_types, token_endpoint_auth_method = excluded.token_endpoint_auth_method,
		secret_hash = excluded.secret_hash, registration_token_hash = excluded.registration_token_hash,
		scope = excluded.scope, client_uri = excluded.client_uri, logo_uri = excluded.logo_uri,
		source = excluded.source, issued_at = excluded.issued_at, last_used_at = excluded.last_used_at,
		cached_until = excluded.cached_until`, clientArgs(c)...)
	return wrap(fmt.Sprintf("put client %q", c.ClientID), err)
}

// Client returns a server's client: one primary-key lookup.
func (s *Store) Client(ctx context.Context, serverID, clientID string) (*store.Client, error) {
	c, err := scanClient(s.pool.QueryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE server_id = $1 AND client_id = $2`,
		serverID, clientID))
	if err != nil {
		return nil, wrap(fmt.Sprintf("client %q", clientID), err)
	}
	return c, nil
}

// DeleteClient removes a client and nothing else; a missing client wraps store.ErrNotFound.
func (s *Store) DeleteClient(ctx context.Context, serverID, clientID string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM clients WHERE server_id = $1 AND client_id = $2`, serverID, clientID)
	return affected(fmt.Sprintf("delete client %q", clientID), tag, err)
}

// TouchClient sets the client's LastUsedAt.
func (s *Store) TouchClient(ctx context.Context, serverID, clientID string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE clients SET last_used_at = $1 WHERE server_id = $2 AND client_id = $3`,
		millis(at), serverID, clientID)
	return affected(fmt.Sprintf("touch client %q", clientID), tag, err)
}

// DeleteUnusedClients removes clients that never completed an authorization
// and were issued before the cutoff: anonymous registrations, and cached
// metadata documents nobody used (fetched again if they are ever needed).
func (s *Store) DeleteUnusedClients(ctx context.Context, issuedBefore time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM clients WHERE last_used_at IS NULL AND issued_at < $1`, issuedBefore.UnixMilli())
	if err != nil {
		return 0, wrap("delete unused clients", err)
	}
	return int(tag.RowsAffected()), nil
}
