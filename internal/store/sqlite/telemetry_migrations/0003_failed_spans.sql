-- 0003_failed_spans: an index of the failed spans alone.
--
-- A span list of errors (status=error) walks the spans newest first and
-- keeps the failed ones; when few or none failed in the range, that walk
-- read every span of it (about 0.7 s over a million). This index holds the
-- failed spans only (about one in twenty), in the order of the list, so the
-- walk reads only them, and it costs ingest an entry per failed span.
CREATE INDEX spans_failed ON spans (server_id, start_ns, trace_id, span_id) WHERE failed;
