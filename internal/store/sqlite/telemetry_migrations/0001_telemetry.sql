-- 0001_telemetry: spans, their rollups and metric points (the telemetry
-- database; on SQLite a file of its own beside the main database).
--
-- Times are unix nanoseconds (UTC), durations nanoseconds, histograms the
-- compact encoding of package telemetry. No foreign keys: on SQLite the
-- servers table is in the other file, and a span batch should not pay a
-- lookup per row. The PostgreSQL store's 0001 is the same schema in its
-- dialect (identity column, BYTEA, heap tables).

-- Every span. One index, spans_key, serves deduplication, the newest-first
-- span list, trace lookups within a time range and retention: it starts
-- with the tenant and the span's start time, so a batch's entries land at
-- the end of its tenant's part of the index (a few pages per transaction),
-- where an index led by the random trace id would dirty a page per span.
-- A re-sent span carries the same start, so (server_id, start_ns, trace_id,
-- span_id) skips re-sends exactly.
-- Rows are appended in id (rowid) order.
CREATE TABLE spans (
    id             INTEGER PRIMARY KEY,
    server_id      TEXT    NOT NULL,
    trace_id       BLOB    NOT NULL,
    span_id        BLOB    NOT NULL,
    parent_span_id BLOB,
    name           TEXT    NOT NULL,
    kind           INTEGER NOT NULL,
    start_ns       BIGINT  NOT NULL,
    duration_ns    BIGINT  NOT NULL,
    status         INTEGER NOT NULL,
    failed         BOOLEAN NOT NULL,
    method         TEXT    NOT NULL,
    tool           TEXT    NOT NULL,
    user_id        TEXT    NOT NULL,
    client_id      TEXT    NOT NULL,
    session_id     TEXT    NOT NULL,
    error_type     TEXT    NOT NULL,
    attributes     BLOB
);

CREATE UNIQUE INDEX spans_key ON spans (server_id, start_ns, trace_id, span_id);

-- Rollups of calls, one row per server × tier × bucket × key, at two tiers:
-- width_ns 60e9 (the minute starting at bucket_ns) and 3600e9 (the hour).
-- A range is answered from whole hours in the middle and minutes at the
-- edges. WITHOUT ROWID keeps each table one b-tree clustered by its key,
-- so a range of buckets is one contiguous read.

-- Everything a server's calls add up to, per bucket; users is the number of
-- distinct user ids in the bucket (rollup_users' rows), kept exact as rows
-- are added there.
CREATE TABLE rollup_totals (
    server_id   TEXT   NOT NULL,
    width_ns    BIGINT NOT NULL,
    bucket_ns   BIGINT NOT NULL,
    calls       BIGINT NOT NULL,
    errors      BIGINT NOT NULL,
    duration_ns BIGINT NOT NULL,
    users       BIGINT NOT NULL,
    histogram   BLOB   NOT NULL,
    PRIMARY KEY (server_id, width_ns, bucket_ns)
) WITHOUT ROWID;

-- Per method × tool × outcome ("ok" or "error").
CREATE TABLE rollup_ops (
    server_id   TEXT   NOT NULL,
    width_ns    BIGINT NOT NULL,
    bucket_ns   BIGINT NOT NULL,
    method      TEXT   NOT NULL,
    tool        TEXT   NOT NULL,
    outcome     TEXT   NOT NULL,
    calls       BIGINT NOT NULL,
    errors      BIGINT NOT NULL,
    duration_ns BIGINT NOT NULL,
    histogram   BLOB   NOT NULL,
    PRIMARY KEY (server_id, width_ns, bucket_ns, method, tool, outcome)
) WITHOUT ROWID;

-- Per user id (calls with a user only): the top-users list, and the
-- presence rows distinct users are counted from.
CREATE TABLE rollup_users (
    server_id   TEXT   NOT NULL,
    width_ns    BIGINT NOT NULL,
    bucket_ns   BIGINT NOT NULL,
    user_id     TEXT   NOT NULL,
    calls       BIGINT NOT NULL,
    errors      BIGINT NOT NULL,
    duration_ns BIGINT NOT NULL,
    histogram   BLOB   NOT NULL,
    PRIMARY KEY (server_id, width_ns, bucket_ns, user_id)
) WITHOUT ROWID;

-- Per OAuth client id (calls with a client only).
CREATE TABLE rollup_clients (
    server_id   TEXT   NOT NULL,
    width_ns    BIGINT NOT NULL,
    bucket_ns   BIGINT NOT NULL,
    client_id   TEXT   NOT NULL,
    calls       BIGINT NOT NULL,
    errors      BIGINT NOT NULL,
    duration_ns BIGINT NOT NULL,
    histogram   BLOB   NOT NULL,
    PRIMARY KEY (server_id, width_ns, bucket_ns, client_id)
) WITHOUT ROWID;

-- Histogram metric points as OTLP sent them, one row per point, kept for a
-- later console. series is a hash of (name, attributes), which name one
-- series; a re-sent point (same series, start and time) is stored once.
CREATE TABLE metric_points (
    server_id  TEXT             NOT NULL,
    series     BLOB             NOT NULL,
    start_ns   BIGINT           NOT NULL,
    time_ns    BIGINT           NOT NULL,
    name       TEXT             NOT NULL,
    attributes BLOB             NOT NULL,
    delta      BOOLEAN          NOT NULL,
    count      BIGINT           NOT NULL,
    sum        DOUBLE PRECISION NOT NULL,
    bounds     TEXT             NOT NULL,
    counts     TEXT             NOT NULL,
    PRIMARY KEY (server_id, series, start_ns, time_ns)
) WITHOUT ROWID;

CREATE INDEX metric_points_time ON metric_points (server_id, time_ns);
