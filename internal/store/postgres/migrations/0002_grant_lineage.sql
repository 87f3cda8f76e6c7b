-- 0002_grant_lineage (PostgreSQL): what the token endpoint needs to keep one live chain per grant.
--
-- auth_codes.revoked_at: set when a replay of the code revoked what it
-- issued; tokens are issued from a code only while it is NULL, in the same
-- transaction, so a replay racing the first redemption cannot miss its tokens.
--
-- tokens.parent_hash: the refresh token a token was issued from ('' for
-- tokens issued from a code), so a retry of a refresh token within the grace
-- window can revoke exactly what the earlier use issued.
--
-- The same as the SQLite store's 0002_grant_lineage.

ALTER TABLE auth_codes ADD COLUMN revoked_at BIGINT;

ALTER TABLE tokens ADD COLUMN parent_hash TEXT NOT NULL DEFAULT '';

CREATE INDEX tokens_parent_hash ON tokens (parent_hash);
