-- 0001_init: the platform's tables (PostgreSQL).
--
-- The same schema as the SQLite store's 0001_init, so both stores share one
-- encoding: TEXT keys, BIGINT unix milliseconds (UTC) for times with NULL
-- meaning "zero time", BIGINT milliseconds for durations, JSON arrays in TEXT
-- for string lists, BOOLEAN for flags. Only the feed's seq column differs.

CREATE TABLE servers (
    id                   TEXT    NOT NULL PRIMARY KEY,
    slug                 TEXT    NOT NULL UNIQUE,
    name                 TEXT    NOT NULL,
    resource_url         TEXT    NOT NULL,
    scopes               TEXT    NOT NULL,
    default_scopes       TEXT    NOT NULL,
    allow_signup         BOOLEAN NOT NULL,
    access_token_ttl_ms  BIGINT  NOT NULL,
    refresh_token_ttl_ms BIGINT  NOT NULL,
    client_id            TEXT    NOT NULL,
    client_secret_hash   TEXT    NOT NULL,
    created_at           BIGINT
);

CREATE TABLE clients (
    server_id                  TEXT NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    client_id                  TEXT NOT NULL,
    name                       TEXT NOT NULL,
    redirect_uris              TEXT NOT NULL,
    grant_types                TEXT NOT NULL,
    response_types             TEXT NOT NULL,
    token_endpoint_auth_method TEXT NOT NULL,
    secret_hash                TEXT NOT NULL,
    registration_token_hash    TEXT NOT NULL,
    scope                      TEXT NOT NULL,
    client_uri                 TEXT NOT NULL,
    logo_uri                   TEXT NOT NULL,
    source                     TEXT NOT NULL,
    issued_at                  BIGINT,
    last_used_at               BIGINT,
    cached_until               BIGINT,
    PRIMARY KEY (server_id, client_id)
);

-- The sweep of abandoned dynamic registrations reads only never-used DCR clients.
CREATE INDEX clients_unused_dcr ON clients (issued_at) WHERE source = 'dcr' AND last_used_at IS NULL;

CREATE TABLE users (
    server_id     TEXT NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    id            TEXT NOT NULL,
    email         TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    BIGINT,
    PRIMARY KEY (server_id, id),
    UNIQUE (server_id, email)
);

CREATE TABLE sessions (
    id_hash    TEXT NOT NULL PRIMARY KEY,
    server_id  TEXT NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL,
    created_at BIGINT,
    expires_at BIGINT
);

CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE consents (
    server_id TEXT NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL,
    client_id TEXT NOT NULL,
    scopes    TEXT NOT NULL,
    PRIMARY KEY (server_id, user_id, client_id)
);

CREATE TABLE auth_codes (
    hash           TEXT NOT NULL PRIMARY KEY,
    server_id      TEXT NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    client_id      TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    resource       TEXT NOT NULL,
    scopes         TEXT NOT NULL,
    created_at     BIGINT,
    expires_at     BIGINT,
    used_at        BIGINT
);

CREATE INDEX auth_codes_expires_at ON auth_codes (expires_at);

CREATE TABLE tokens (
    hash       TEXT NOT NULL PRIMARY KEY,
    kind       TEXT NOT NULL,
    server_id  TEXT NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    resource   TEXT NOT NULL,
    family_id  TEXT NOT NULL,
    code_hash  TEXT NOT NULL,
    issued_at  BIGINT,
    expires_at BIGINT,
    revoked_at BIGINT,
    rotated_at BIGINT
);

CREATE INDEX tokens_family_id ON tokens (family_id);
CREATE INDEX tokens_code_hash ON tokens (code_hash);
CREATE INDEX tokens_server_client ON tokens (server_id, client_id);
CREATE INDEX tokens_expires_at ON tokens (expires_at);

-- The revocation feed. seq must never be reused, even after old entries are
-- purged, because resource servers resume from it.
CREATE TABLE revocations (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    server_id  TEXT   NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    token_hash TEXT   NOT NULL,
    revoked_at BIGINT NOT NULL
);

CREATE INDEX revocations_server_seq ON revocations (server_id, seq);
CREATE INDEX revocations_revoked_at ON revocations (revoked_at);
