-- 0002_active_users: a 5-minute tier of distinct-user rows (the SQLite
-- store's 0002 is the same, and says more).
--
-- A time series whose step is a multiple of 5 minutes counts each step's
-- distinct users from these rows: at most one narrow row per user and 5
-- minutes, a fifth of rollup_users' minute rows. bucket_ns is the start of
-- the 5 minutes. The writer adds a user's row in the transaction that adds
-- the user's row of a minute of those 5; rows are only ever inserted and
-- deleted (no updates), so the pages are full and index-only scans work
-- once vacuum has marked them visible.
CREATE TABLE rollup_active_users (
    server_id TEXT   NOT NULL,
    bucket_ns BIGINT NOT NULL,
    user_id   TEXT   NOT NULL,
    PRIMARY KEY (server_id, bucket_ns, user_id)
);

-- The rows of what is stored already, from the minute rows (times are never
-- before 1970, so bucket_ns is not negative and % rounds down).
INSERT INTO rollup_active_users (server_id, bucket_ns, user_id)
SELECT DISTINCT server_id, bucket_ns - bucket_ns % 300000000000, user_id
FROM rollup_users WHERE width_ns = 60000000000;
