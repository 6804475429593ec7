-- 0004: guessed commits write no hot row.
--
-- A guessed commit (see doc.go) now writes only its events (and the rows
-- of streams it creates): it takes the positions after the last one its
-- store saw committed, which the events' primary key refuses when they
-- are taken, and it no longer moves streams.head or log_state.last_pos.
-- So those two columns are floors: a stream's head is the greater of
-- streams.head and the highest seq stored for it, and the log's last
-- position the greater of log_state.last_pos and the highest position
-- stored (a compaction raises both floors before it deletes events).
--
-- Instead of the log_state row lock, a guessed commit holds a shared
-- transaction-level advisory lock (key k, the store's own), which every
-- other writer of the store (locked commits, metadata writes,
-- compactions) takes exclusively, in place of the row lock (a locked
-- commit, too, now moves neither column but for kv). guess_gen takes it
-- and then reads the metadata generation in a statement of its own, so
-- with a snapshot taken after the lock was granted (a volatile function's
-- statements each take one under READ COMMITTED): true when it is still
-- g. PL/pgSQL, since it keeps its plans across calls.
CREATE FUNCTION {schema}.guess_gen(k bigint, g bigint) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	PERFORM pg_advisory_xact_lock_shared(k);
	RETURN EXISTS (SELECT 1 FROM {schema}.log_state WHERE id = 1 AND meta_gen = g);
END
$$;

