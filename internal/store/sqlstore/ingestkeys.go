package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

const ingestKeyColumns = `id, server_id, secret_hash, name, created_at, revoked_at`

func scanIngestKey(sc Row) (*store.IngestKey, error) {
	var (
		k                store.IngestKey
		created, revoked sql.NullInt64
	)
	if err := sc.Scan(&k.ID, &k.ServerID, &k.SecretHash, &k.Name, &created, &revoked); err != nil {
		return nil, err
	}
	k.CreatedAt, k.RevokedAt = fromMillis(created), fromMillis(revoked)
	return &k, nil
}

// CreateIngestKey stores an ingest key; a duplicate id wraps
// store.ErrConflict, an unknown server store.ErrNotFound.
func (s *Store) CreateIngestKey(ctx context.Context, k *store.IngestKey) error {
	_, err := s.write.ExecContext(ctx, s.q.createIngestKey,
		k.ID, k.ServerID, k.SecretHash, k.Name, millis(k.CreatedAt), millis(k.RevokedAt))
	return s.wrap(fmt.Sprintf("create ingest key %q", k.ID), err)
}

// LiveIngestKey returns the key with this id unless it is revoked: one
// primary-key probe, on every ingest request that carries a key.
func (s *Store) LiveIngestKey(ctx context.Context, id string) (*store.IngestKey, error) {
	op := fmt.Sprintf("ingest key %q", id)
	row, err := s.lookupRow(ctx, lookupIngestKey, id)
	if err != nil {
		return nil, s.wrap(op, err)
	}
	k, err := scanIngestKey(row)
	if err != nil {
		return nil, s.wrap(op, err)
	}
	return k, nil
}

// ListIngestKeys returns a server's keys, revoked ones too, oldest first
// (a non-nil empty slice if none).
func (s *Store) ListIngestKeys(ctx context.Context, serverID string) ([]*store.IngestKey, error) {
	const op = "list ingest keys"
	rows, err := s.read.QueryContext(ctx, s.q.listIngestKeys, serverID)
	if err != nil {
		return nil, s.wrap(op, err)
	}
	defer rows.Close()
	out := []*store.IngestKey{}
	for rows.Next() {
		k, err := scanIngestKey(rows)
		if err != nil {
			return nil, s.wrap(op, err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(op, err)
	}
	return out, nil
}

// RevokeIngestKey marks one of the server's keys revoked at now; a key
// revoked before keeps its first revocation time. The statement is scoped by
// the server, so another server's key id matches nothing (ErrNotFound).
func (s *Store) RevokeIngestKey(ctx context.Context, serverID, id string, now time.Time) error {
	op := fmt.Sprintf("revoke ingest key %q", id)
	if now.IsZero() {
		return fmt.Errorf("%s: %s: zero time would leave the key live", s.d.Name, op)
	}
	res, err := s.write.ExecContext(ctx, s.q.revokeIngestKey, now.UnixMilli(), serverID, id)
	return s.affected(op, res, err)
}
