-- 0003: stream metadata and deletion, kv history, snapshot generations.
--
-- A stream's row now also holds its limits (max_count, max_age in
-- nanoseconds, truncate_before; 0 for none) and its deletion (deleted,
-- tombstone), and may exist with head 0 (metadata set, or deleted, before
-- any append). log_state.meta_gen counts the metadata writes and deletes
-- of the whole store: a guessed commit names the generation it was decided
-- at and is refused when it moved (see doc.go). log_state.kv_compacted is
-- the highest kv revision dropped from history.
ALTER TABLE {schema}.streams
	ADD COLUMN max_count bigint NOT NULL DEFAULT 0,
	ADD COLUMN max_age bigint NOT NULL DEFAULT 0,
	ADD COLUMN truncate_before bigint NOT NULL DEFAULT 0,
	ADD COLUMN deleted boolean NOT NULL DEFAULT false,
	ADD COLUMN tombstone boolean NOT NULL DEFAULT false;
-- An event ID is unique among a stream's visible events only: the ID of
-- a hidden event is free again (see package ops), so the (stream, id)
-- index can no longer be unique. Commits decide the rule under the log
-- lock from the stored events (see doc.go).
DROP INDEX {schema}.events_stream_id;
CREATE INDEX events_stream_id ON {schema}.events (stream, id);

-- The streams with a state of their own, for read-all to filter by.
CREATE INDEX streams_limited ON {schema}.streams (name)
	WHERE max_count > 0 OR max_age > 0 OR truncate_before > 0 OR deleted OR tombstone;

ALTER TABLE {schema}.log_state
	ADD COLUMN meta_gen bigint NOT NULL DEFAULT 0,
	ADD COLUMN kv_compacted bigint NOT NULL DEFAULT 0;

-- The kept versions of each key, the current one included: value NULL
-- marks a delete.
CREATE TABLE {schema}.kv_history (
	revision bigint NOT NULL,
	key      text COLLATE "C" NOT NULL,
	value    bytea,
	PRIMARY KEY (revision, key)
);
CREATE INDEX kv_history_key ON {schema}.kv_history (key, revision);
-- The current entries are the first history of a migrated store.
INSERT INTO {schema}.kv_history (revision, key, value) SELECT revision, key, value FROM {schema}.kv;

-- Snapshot generations: 1, 2, 3, … per name; the old single snapshot is
-- generation 1.
ALTER TABLE {schema}.snapshots ADD COLUMN generation bigint NOT NULL DEFAULT 1;
ALTER TABLE {schema}.snapshots DROP CONSTRAINT snapshots_pkey;
ALTER TABLE {schema}.snapshots ADD PRIMARY KEY (name, generation);

-- What a migrated store's kv history misses (the changes before each
-- key's current version) is unknown, so every revision so far counts as
-- compacted: a watch starts after them, never with a silent gap.
UPDATE {schema}.log_state SET kv_compacted = kv_rev;
