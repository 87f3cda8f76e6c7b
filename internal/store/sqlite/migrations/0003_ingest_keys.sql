-- 0003_ingest_keys: per-tenant telemetry ingest keys. They are authorization
-- data (a key lets its holder write a tenant's telemetry), so they live in
-- this, the main, database, never in the telemetry database. Only the hash of
-- a key's value is stored; its id (carried in the value) is the lookup key.
--
-- Valid PostgreSQL as well; the PostgreSQL store's 0003 is the same.

CREATE TABLE ingest_keys (
    id          TEXT NOT NULL PRIMARY KEY,
    server_id   TEXT NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL,
    name        TEXT NOT NULL,
    created_at  BIGINT,
    revoked_at  BIGINT
);

CREATE INDEX ingest_keys_server ON ingest_keys (server_id, created_at, id);
