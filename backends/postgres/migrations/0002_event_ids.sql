-- 0002: an event ID is unique within its stream. A store that reused an
-- ID in a stream before this rule fails this migration, naming the
-- stream and ID, and is left as it was.
DROP INDEX {schema}.events_stream_id;
CREATE UNIQUE INDEX events_stream_id ON {schema}.events (stream, id);
