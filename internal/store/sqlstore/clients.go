package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

func clientArgs(c *store.Client) []any {
	return []any{c.ServerID, c.ClientID, c.Name, list(c.RedirectURIs), list(c.GrantTypes), list(c.ResponseTypes),
		c.TokenEndpointAuthMethod, c.SecretHash, c.RegistrationTokenHash, c.Scope, c.ClientURI, c.LogoURI,
		c.Source, millis(c.IssuedAt), millis(c.LastUsedAt), millis(c.CachedUntil)}
}

func scanClient(sc Row) (*store.Client, error) {
	var (
		c                           store.Client
		uris, grants, responses     string
		issued, lastUsed, cachedTil sql.NullInt64
	)
	if err := sc.Scan(&c.ServerID, &c.ClientID, &c.Name, &uris, &grants, &responses,
		&c.TokenEndpointAuthMethod, &c.SecretHash, &c.RegistrationTokenHash, &c.Scope, &c.ClientURI, &c.LogoURI,
		&c.Source, &issued, &lastUsed, &cachedTil); err != nil {
		return nil, err
	}
	var err error
	if c.RedirectURIs, err = fromList(uris); err != nil {
		return nil, err
	}
	if c.GrantTypes, err = fromList(grants); err != nil {
		return nil, err
	}
	if c.ResponseTypes, err = fromList(responses); err != nil {
		return nil, err
	}
	c.IssuedAt, c.LastUsedAt, c.CachedUntil = fromMillis(issued), fromMillis(lastUsed), fromMillis(cachedTil)
	return &c, nil
}

// CreateClient adds a client; a duplicate (ServerID, ClientID) wraps store.ErrConflict.
func (s *Store) CreateClient(ctx context.Context, c *store.Client) error {
	_, err := s.write.ExecContext(ctx, s.q.createClient, clientArgs(c)...)
	return s.wrap(fmt.Sprintf("create client %q", c.ClientID), err)
}

// PutClient inserts the client or replaces every field of the existing one,
// in one statement. It updates in place rather than deleting and
// reinserting, so nothing that refers to the client is disturbed.
func (s *Store) PutClient(ctx context.Context, c *store.Client) error {
	_, err := s.write.ExecContext(ctx, s.q.putClient, clientArgs(c)...)
	return s.wrap(fmt.Sprintf("put client %q", c.ClientID), err)
}

// Client returns a server's client: one primary-key lookup.
func (s *Store) Client(ctx context.Context, serverID, clientID string) (*store.Client, error) {
	row, err := s.lookupRow(ctx, lookupClient, serverID, clientID)
	if err != nil {
		return nil, s.wrap(fmt.Sprintf("client %q", clientID), err)
	}
	c, err := scanClient(row)
	if err != nil {
		return nil, s.wrap(fmt.Sprintf("client %q", clientID), err)
	}
	return c, nil
}

// DeleteClient removes a client and nothing else; a missing client wraps store.ErrNotFound.
func (s *Store) DeleteClient(ctx context.Context, serverID, clientID string) error {
	res, err := s.write.ExecContext(ctx, s.q.deleteClient, serverID, clientID)
	return s.affected(fmt.Sprintf("delete client %q", clientID), res, err)
}

// TouchClient sets the client's LastUsedAt.
func (s *Store) TouchClient(ctx context.Context, serverID, clientID string, at time.Time) error {
	res, err := s.write.ExecContext(ctx, s.q.touchClient, millis(at), serverID, clientID)
	return s.affected(fmt.Sprintf("touch client %q", clientID), res, err)
}

// DeleteUnusedClients removes clients that never completed an authorization
// and were issued before the cutoff: anonymous registrations, and cached
// metadata documents nobody used (fetched again if they are ever needed).
func (s *Store) DeleteUnusedClients(ctx context.Context, issuedBefore time.Time) (int, error) {
	const op = "delete unused clients"
	res, err := s.write.ExecContext(ctx, s.q.deleteUnusedClients, issuedBefore.UnixMilli())
	if err != nil {
		return 0, s.wrap(op, err)
	}
	n, err := res.RowsAffected()
	return int(n), s.wrap(op, err)
}
