-- 0001: the global log, stream heads, kv entries and snapshots.
-- {schema} stands for the store's schema, quoted.

-- One row: the last position of the global log and the last kv revision.
-- Every commit that writes locks this row first and holds it to COMMIT:
-- that lock is what makes positions gap-free for readers (see doc.go).
CREATE TABLE {schema}.log_state (
	id       int PRIMARY KEY CHECK (id = 1),
	last_pos bigint NOT NULL,
	kv_rev   bigint NOT NULL
);
INSERT INTO {schema}.log_state (id, last_pos, kv_rev) VALUES (1, 0, 0);

CREATE TABLE {schema}.streams (
	name text COLLATE "C" PRIMARY KEY,
	head bigint NOT NULL
);

CREATE TABLE {schema}.events (
	pos    bigint PRIMARY KEY,
	stream text COLLATE "C" NOT NULL,
	seq    bigint NOT NULL,
	id     uuid NOT NULL,
	type   text NOT NULL,
	at     bigint NOT NULL, -- Unix nanoseconds
	data   bytea NOT NULL,
	UNIQUE (stream, seq)
);
CREATE INDEX events_stream_id ON {schema}.events (stream, id);

CREATE TABLE {schema}.kv (
	key      text COLLATE "C" PRIMARY KEY,
	value    bytea NOT NULL,
	revision bigint NOT NULL
);

CREATE TABLE {schema}.snapshots (
	name    text COLLATE "C" PRIMARY KEY,
	version bigint NOT NULL, -- the uint64's bits
	seq     bigint NOT NULL, -- the uint64's bits
	value   bytea NOT NULL
);
