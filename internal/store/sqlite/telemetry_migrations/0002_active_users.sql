-- 0002_active_users: a 5-minute tier of distinct-user rows.
--
-- A time series whose step is a multiple of 5 minutes (a day at 5 or 15
-- minutes, the common dashboard views) counts each step's distinct users
-- from these rows: at most one row per user and 5 minutes, a fifth of
-- rollup_users' minute rows, and narrow (no figures), so a day of 200
-- users is at most 57,600 short rows instead of 288,000 wide ones. Steps of
-- whole hours read the hour rows of rollup_users, other steps its minutes.
--
-- bucket_ns is the start of the 5 minutes (a multiple of 300e9). The writer
-- adds a user's row, in the transaction that writes its rollups, whenever
-- it adds the user's row of a minute of those 5, so a user with a minute row
-- always has the row of its 5 minutes. Retention deletes a row once its 5
-- minutes have all ended before the cutoff, after the minute rows.
CREATE TABLE rollup_active_users (
    server_id TEXT   NOT NULL,
    bucket_ns BIGINT NOT NULL,
    user_id   TEXT   NOT NULL,
    PRIMARY KEY (server_id, bucket_ns, user_id)
) WITHOUT ROWID;

-- The rows of what is stored already, from the minute rows (times are never
-- before 1970, so bucket_ns is not negative and % rounds down).
INSERT INTO rollup_active_users (server_id, bucket_ns, user_id)
SELECT DISTINCT server_id, bucket_ns - bucket_ns % 300000000000, user_id
FROM rollup_users WHERE width_ns = 60000000000;
