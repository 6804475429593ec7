package postgres

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// queries are the store's SQL statements, with its schema written in.
type queries struct {
	lock, prefetchHeads, prefetchRevs, prefetchIDs, eventAt    string
	insertEvents, upsertKv, deleteKv                           string
	notify                                                     string
	guessed, guessedOne, guessedOneNew                         string
	eventTime, insertHistory, trimHistory                      string
	readLimited, readAllLimited                                string
	metaWrite, kvHistory, kvWatch, kvRev, snapshotGens         string
	snapshotReadGen, snapshotPrune, stat, statStreams          string
	kvWatchRevision, compact, bumpGen, streamsAll              string
	markCompacted                                              string
	read, readAll, readAllState, head, lastPos, streams        string
	kvGet, kvList, snapshotRead, snapshotWrite                 string
	lockedState, prefetchHead, createStreams, setKvRev, floors string
}

func newQueries(schema string) queries {
	// The token's sequence as a literal for regclass, with the schema's
	// name quoted (it may hold a quote of either kind).
	tokenSeq := "'" + strings.ReplaceAll(schema+".meta_token", "'", "''") + "'"
	s := func(q string) string {
		q = strings.ReplaceAll(q, "{limited}", limitedOf)
		q = strings.ReplaceAll(q, "{head}", headOf)
		q = strings.ReplaceAll(q, "{last}", lastOf)
		q = strings.ReplaceAll(q, "{lockShared}", lockShared)
		q = strings.ReplaceAll(q, "{tokenIs}", tokenIs)
		q = strings.ReplaceAll(q, "{token}", tokenOf)
		q = strings.ReplaceAll(q, "{tokenSeq}", tokenSeq)
		q = strings.ReplaceAll(q, "{key}", strconv.FormatInt(logLockKey(schema), 10))
		return strings.ReplaceAll(q, "{schema}", schema)
	}
	return queries{
		// The log lock every writer but a guessed commit takes first and
		// holds to COMMIT: the advisory lock exclusively (a guessed commit
		// holds it shared, see guess_gen in migration 4). No row lock is
		// taken: every writer of log_state holds the exclusive lock, so a
		// row lock would only add a WAL record to each commit.
		lock: s(`SELECT pg_advisory_xact_lock('{key}'::bigint)`),
		// The log's last position, kv revision and metadata token (the
		// generation guesses are decided at, see migration 6), read under
		// the lock in a statement after it, so with a snapshot that sees
		// every commit that ended before the lock was granted.
		lockedState: s(`SELECT {last}, st.kv_rev, {token} FROM {schema}.log_state st WHERE id = 1`),
		// Raises the floors of the heads of the streams a compaction may
		// delete events of, and of the log's last position, to what the
		// events say, before the events go.
		floors: s(`WITH h AS (UPDATE {schema}.streams s SET head = {head}
				WHERE max_count > 0 OR max_age > 0 OR truncate_before > 0 OR deleted OR tombstone)
			UPDATE {schema}.log_state st SET last_pos = {last} WHERE id = 1`),
		// The heads and states of the streams $1. The highest seqs come by
		// a lateral join rather than {head}'s subquery, which cost a group
		// of 64 streams a quarter more.
		prefetchHeads: s(`SELECT s.name, greatest(s.head, coalesce(m.seq, 0)), s.max_count, s.max_age, s.truncate_before, s.deleted, s.tombstone
			FROM {schema}.streams s LEFT JOIN LATERAL (SELECT e.seq FROM {schema}.events e WHERE e.stream = s.name ORDER BY e.seq DESC LIMIT 1) m ON true
			WHERE s.name = ANY($1::text[])`),
		// prefetchHeads for one stream, $1: a text, not an array, so that
		// the server keeps one generic plan instead of planning the
		// statement again at each commit.
		prefetchHead: s(`SELECT name, {head}, max_count, max_age, truncate_before, deleted, tombstone
			FROM {schema}.streams s WHERE name = $1`),
		prefetchRevs: s(`SELECT key, revision FROM {schema}.kv WHERE key = ANY($1::text[])`),
		prefetchIDs: s(`SELECT e.stream, e.id, e.seq, e.pos FROM {schema}.events e
			JOIN unnest($1::text[], $2::uuid[]) AS k(stream, id) ON e.stream = k.stream AND e.id = k.id`),
		eventAt: s(`SELECT id, pos FROM {schema}.events WHERE stream = $1 AND seq = $2`),
		insertEvents: s(`INSERT INTO {schema}.events (pos, stream, seq, id, type, at, data)
			SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::uuid[], $5::text[], $6::bigint[], $7::bytea[])`),
		// A guessed group in one statement, so in one implicit transaction
		// and one round trip: l takes the shared advisory lock and g, on
		// l's row (so once the lock is granted), says whether the metadata
		// token is still the one the group was decided at (every other
		// part reads g, so they run after it); the events take the
		// positions after the last one the store saw committed, and the
		// streams guessed new get their rows.
		// No hot row is written: heads and the last position are read
		// from the events (see doc.go). A stale guess, a taken position or
		// a stream that exists after all is refused by a unique index,
		// which aborts the whole statement: nothing of it is stored.
		//
		// $1..$7: the events (offsets 1, 2, … from the last position,
		// streams, seqs, IDs, types, times, data); $8: the last position
		// before the group; $9: the channel; $10: the metadata token
		// the group was decided at (when it moved, g is false, nothing is
		// written and no row comes back); $11, $12: the streams guessed
		// new and their heads.
		guessed: s(`WITH l AS (SELECT {lockShared} AS l),
			g AS (SELECT {tokenIs} $10 END AS ok FROM l),
			ins AS (INSERT INTO {schema}.events (pos, stream, seq, id, type, at, data)
				SELECT $8 + u.off, u.stream, u.seq, u.id, u.type, u.at, u.data FROM g,
					unnest($1::bigint[], $2::text[], $3::bigint[], $4::uuid[], $5::text[], $6::bigint[], $7::bytea[])
					AS u(off, stream, seq, id, type, at, data) WHERE g.ok),
			created AS (INSERT INTO {schema}.streams (name, head)
				SELECT u.name, u.head FROM g, unnest($11::text[], $12::bigint[]) AS u(name, head) WHERE g.ok)
			SELECT $8::bigint, pg_notify($9, ($8 + cardinality($1::bigint[]))::text) FROM g WHERE g.ok`),
		// guessed for a group of one event to a known stream, without
		// arrays: $1..$6 the event's stream, seq (its stream's new head),
		// ID, type, time and data; $7 the channel; $8 the metadata
		// token; $9 the event's position. guessedOneNew is the same
		// for a stream guessed new.
		guessedOne: s(`WITH l AS (SELECT {lockShared} AS l),
			g AS (SELECT {tokenIs} $8 END AS ok FROM l),
			ins AS (INSERT INTO {schema}.events (pos, stream, seq, id, type, at, data)
				SELECT $9, $1, $2, $3, $4, $5, $6 FROM g WHERE g.ok)
			SELECT $9::bigint - 1, pg_notify($7, $9::text) FROM g WHERE g.ok`),
		guessedOneNew: s(`WITH l AS (SELECT {lockShared} AS l),
			g AS (SELECT {tokenIs} $8 END AS ok FROM l),
			ins AS (INSERT INTO {schema}.events (pos, stream, seq, id, type, at, data)
				SELECT $9, $1, $2, $3, $4, $5, $6 FROM g WHERE g.ok),
			h AS (INSERT INTO {schema}.streams (name, head) SELECT $1, $2 FROM g WHERE g.ok)
			SELECT $9::bigint - 1, pg_notify($7, $9::text) FROM g WHERE g.ok`),
		// The rows of the streams a locked commit appends to first: a
		// stream's head is read from its events (see doc.go), so a row
		// stored is left as it is.
		createStreams: s(`INSERT INTO {schema}.streams (name, head)
			SELECT * FROM unnest($1::text[], $2::bigint[])
			ON CONFLICT (name) DO NOTHING`),
		upsertKv: s(`INSERT INTO {schema}.kv (key, value, revision)
			SELECT * FROM unnest($1::text[], $2::bytea[], $3::bigint[])
			ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, revision = EXCLUDED.revision`),
		deleteKv: s(`DELETE FROM {schema}.kv WHERE key = ANY($1::text[])`),
		// The kv revision a locked commit that changed kv leaves; the
		// last position is read from the events (see doc.go).
		setKvRev: s(`UPDATE {schema}.log_state SET kv_rev = $1 WHERE id = 1`),
		notify:   `SELECT pg_notify($1, $2)`,
		// One statement, so that the page and the head come from one
		// snapshot.
		// h.limited says that the stream has a state of its own: then no
		// events come, and the read is made again with readLimited.
		read: s(`SELECT h.head, h.limited, e.pos, e.seq, e.id, e.type, e.at, e.data
			FROM (SELECT coalesce(max({head}), 0) AS head,
					coalesce(bool_or(max_count > 0 OR max_age > 0 OR truncate_before > 0 OR deleted OR tombstone), false) AS limited
				FROM {schema}.streams s WHERE name = $1) h
			LEFT JOIN LATERAL (SELECT pos, seq, id, type, at, data FROM {schema}.events
				WHERE stream = $1 AND seq >= $2 AND NOT h.limited ORDER BY seq LIMIT $3) e ON true`),
		// read with the stream's state, in one snapshot: $1 stream, $2
		// from, $3 limit, $4 now (Unix ns). The events the limits hide are
		// left out (firstSeq and the max-age bound, as ops.StreamState
		// says); h.first is the first seq the seq-based limits leave.
		readLimited: s(`SELECT h.head, h.max_count, h.max_age, h.truncate_before, h.deleted, h.tombstone,
				e.pos, e.seq, e.id, e.type, e.at, e.data
			FROM (SELECT coalesce(max({head}), 0) AS head, coalesce(max(max_count), 0) AS max_count,
					coalesce(max(max_age), 0) AS max_age, coalesce(max(truncate_before), 0) AS truncate_before,
					coalesce(bool_or(deleted), false) AS deleted, coalesce(bool_or(tombstone), false) AS tombstone
				FROM {schema}.streams s WHERE name = $1) h
			LEFT JOIN LATERAL (SELECT pos, seq, id, type, at, data FROM {schema}.events
				WHERE stream = $1 AND NOT h.tombstone
					AND seq >= greatest($2, h.truncate_before, CASE WHEN h.max_count > 0 THEN h.head - h.max_count + 1 ELSE 0 END)
					AND (h.max_age = 0 OR $4 - at < h.max_age)
				ORDER BY seq LIMIT $3) e ON true`),
		// read-all leaving out hidden events, over at most $3 positions
		// from $1 (so a long hidden run ends the page short), each row
		// led by the last position of the same snapshot (one row with
		// NULL events when none is visible): $2 limit, $4 now.
		readAllLimited: s(`WITH lim AS MATERIALIZED (SELECT name, {head} AS head, max_count, max_age, truncate_before, tombstone
				FROM {schema}.streams s
				WHERE max_count > 0 OR max_age > 0 OR truncate_before > 0 OR deleted OR tombstone)
			SELECT {last}, e.* FROM {schema}.log_state st LEFT JOIN LATERAL (
				SELECT e.pos, e.stream, e.seq, e.id, e.type, e.at, e.data
				FROM {schema}.events e LEFT JOIN lim ON lim.name = e.stream
				WHERE e.pos >= $1 AND e.pos < $1 + $3 AND (lim.name IS NULL OR (NOT lim.tombstone
					AND e.seq >= greatest(lim.truncate_before, CASE WHEN lim.max_count > 0 THEN lim.head - lim.max_count + 1 ELSE 0 END)
					AND (lim.max_age = 0 OR $4 - e.at < lim.max_age)))
				ORDER BY e.pos LIMIT $2) e ON true
			WHERE st.id = 1`),
		eventTime: s(`SELECT at FROM {schema}.events WHERE stream = $1 AND seq = $2`),
		// A group's kv versions, then each touched key's versions beyond
		// the depth ($2) dropped, raising the compacted revision.
		insertHistory: s(`INSERT INTO {schema}.kv_history (revision, key, value)
			SELECT * FROM unnest($1::bigint[], $2::text[], $3::bytea[])`),
		trimHistory: s(`WITH d AS (DELETE FROM {schema}.kv_history h USING (
					SELECT key, revision FROM (SELECT key, revision,
						row_number() OVER (PARTITION BY key ORDER BY revision DESC) AS n
						FROM {schema}.kv_history WHERE key = ANY($1::text[])) x WHERE n > $2) o
				WHERE h.key = o.key AND h.revision = o.revision RETURNING h.revision)
			UPDATE {schema}.log_state SET kv_compacted = greatest(kv_compacted, coalesce((SELECT max(revision) FROM d), 0))
			WHERE id = 1`),
		// A stream's new state, and the store's metadata generation moved
		// on: $1 stream, $2..$6 the state, $7 the new metadata token
		// (newToken), which it returns.
		metaWrite: s(`WITH m AS (INSERT INTO {schema}.streams (name, head, max_count, max_age, truncate_before, deleted, tombstone)
				VALUES ($1, 0, $2, $3, $4, $5, $6)
				ON CONFLICT (name) DO UPDATE SET max_count = EXCLUDED.max_count, max_age = EXCLUDED.max_age,
					truncate_before = EXCLUDED.truncate_before, deleted = EXCLUDED.deleted, tombstone = EXCLUDED.tombstone)
			UPDATE {schema}.log_state SET meta_gen = meta_gen + 1 WHERE id = 1 RETURNING setval({tokenSeq}, $7)`),
		kvHistory: s(`SELECT revision, value FROM {schema}.kv_history WHERE key = $1 ORDER BY revision DESC LIMIT $2`),
		// Changes under $1 from revision $2 on, at most $3 rows (the
		// caller cuts the last revision if it may be split), with the kv
		// revision and compacted revision of the same snapshot.
		kvWatch: s(`SELECT st.kv_rev, st.kv_compacted, h.revision, h.key, h.value
			FROM {schema}.log_state st LEFT JOIN LATERAL (SELECT revision, key, value FROM {schema}.kv_history
				WHERE revision >= $2 AND key >= $1 AND starts_with(key, $1) ORDER BY revision, key LIMIT $3) h ON true
			WHERE st.id = 1`),
		// Every change under $1 of revision $2, and the first change after
		// it, with the revisions of kvWatch.
		kvWatchRevision: s(`SELECT st.kv_rev, st.kv_compacted, h.revision, h.key, h.value
			FROM {schema}.log_state st LEFT JOIN LATERAL (
				(SELECT revision, key, value FROM {schema}.kv_history
					WHERE revision = $2 AND key >= $1 AND starts_with(key, $1) ORDER BY key)
				UNION ALL
				(SELECT revision, key, value FROM {schema}.kv_history
					WHERE revision > $2 AND key >= $1 AND starts_with(key, $1) ORDER BY revision, key LIMIT 1)) h ON true
			WHERE st.id = 1`),
		kvRev: s(`SELECT kv_rev FROM {schema}.log_state WHERE id = 1`),
		// Deletes the events hidden at $1 (Unix ns), by the rules of
		// readLimited.
		// The heads are the floors raised by floors just before.
		compact: s(`DELETE FROM {schema}.events e USING {schema}.streams lim
			WHERE lim.name = e.stream
				AND (lim.max_count > 0 OR lim.max_age > 0 OR lim.truncate_before > 0 OR lim.deleted OR lim.tombstone)
				AND (lim.tombstone
					OR e.seq < greatest(lim.truncate_before, CASE WHEN lim.max_count > 0 THEN lim.head - lim.max_count + 1 ELSE 0 END)
					OR (lim.max_age > 0 AND $1 - e.at >= lim.max_age))`),
		// The metadata generation moved on by a compaction: $1 the new
		// metadata token (newToken), which it returns.
		bumpGen: s(`UPDATE {schema}.log_state SET meta_gen = meta_gen + 1 WHERE id = 1 RETURNING setval({tokenSeq}, $1)`),
		// Every stream row with its visible events counted at $1 (Unix
		// ns), by ops.StreamState's rules.
		statStreams: s(`SELECT name, head, max_count, max_age, truncate_before, deleted, tombstone,
				CASE WHEN tombstone THEN 0
				WHEN max_age = 0 THEN greatest(head - f.first + 1, 0)
				ELSE (SELECT count(*) FROM {schema}.events e WHERE e.stream = name AND e.seq >= f.first AND $1 - e.at < max_age)
				END
			FROM (SELECT name, {head} AS head, max_count, max_age, truncate_before, deleted, tombstone
				FROM {schema}.streams s) s, LATERAL (SELECT least(greatest(truncate_before, 1,
				CASE WHEN max_count > 0 AND head > max_count THEN head - max_count + 1 ELSE 0 END), head + 1) AS first) f`),
		snapshotGens: s(`SELECT generation, version, seq FROM {schema}.snapshots WHERE name = $1 ORDER BY generation DESC`),
		snapshotReadGen: s(`SELECT version, seq, value, generation FROM {schema}.snapshots
			WHERE name = $1 AND ($2 = 0 OR generation = $2) ORDER BY generation DESC LIMIT 1`),
		// Drops the generations of $1 older than the newest $2.
		snapshotPrune: s(`DELETE FROM {schema}.snapshots WHERE name = $1 AND generation <= (
			SELECT max(generation) FROM {schema}.snapshots WHERE name = $1) - $2`),
		// Records when the store was compacted ($1, unix nanoseconds).
		markCompacted: s(`UPDATE {schema}.log_state SET last_compaction = $1 WHERE id = 1`),
		stat: s(`SELECT (SELECT count(*) FROM {schema}.events),
			(SELECT count(*) FROM {schema}.kv), (SELECT kv_rev FROM {schema}.log_state WHERE id = 1),
			(SELECT count(*) FROM {schema}.kv_history), (SELECT count(*) FROM {schema}.snapshots),
			pg_total_relation_size('{schema}.events'::regclass) + pg_total_relation_size('{schema}.kv_history'::regclass)
				+ pg_total_relation_size('{schema}.kv'::regclass) + pg_total_relation_size('{schema}.snapshots'::regclass)
				+ pg_total_relation_size('{schema}.streams'::regclass),
			(SELECT coalesce(last_compaction, 0) FROM {schema}.log_state WHERE id = 1)`),
		// A snapshot sees a gap-free prefix of the log (see doc.go):
		// read-all needs no bound, and its head is the page's last position unless the page
		// is full or empty (see readAll). It reads nothing once read-all
		// must filter (the test of limited, evaluated once per statement,
		// a one-time filter in front of the primary key's index scan), so
		// that a store with limits pays only an empty statement for it.
		readAll: s(`SELECT pos, stream, seq, id, type, at, data FROM {schema}.events
			WHERE pos >= $1 AND NOT ({limited}) ORDER BY pos LIMIT $2`),
		// Whether read-all must filter (limited), and the log's last
		// position, in one snapshot: read after a page of readAll, in the
		// same round trip (or when a page read ahead is answered).
		readAllState: s(`SELECT {limited}, {last} FROM {schema}.log_state st WHERE id = 1`),
		head:         s(`SELECT {head} FROM {schema}.streams s WHERE name = $1`),
		lastPos:      s(`SELECT {last} FROM {schema}.log_state st WHERE id = 1`),
		// Streams that read as present (ops.StreamState.Absent).
		streams: s(`SELECT name, head FROM (SELECT name, {head} AS head, tombstone, deleted, truncate_before
				FROM {schema}.streams s WHERE name >= $1 AND name > $2 AND starts_with(name, $1)) s
			WHERE head > 0 AND NOT (tombstone OR (deleted AND head < truncate_before))
			ORDER BY name LIMIT $3`),
		// Every stream with events or a state of its own, deleted ones
		// included (Streams with Deleted).
		streamsAll: s(`SELECT name, {head} FROM {schema}.streams s
			WHERE name >= $1 AND name > $2 AND starts_with(name, $1)
				AND (head > 0 OR max_count > 0 OR max_age > 0 OR truncate_before > 0 OR deleted OR tombstone)
			ORDER BY name LIMIT $3`),
		kvGet: s(`SELECT value, revision FROM {schema}.kv WHERE key = $1`),
		kvList: s(`SELECT key, value, revision FROM {schema}.kv
			WHERE key >= $1 AND key > $2 AND starts_with(key, $1) ORDER BY key LIMIT $3`),
		snapshotRead: s(`SELECT version, seq, value FROM {schema}.snapshots WHERE name = $1 ORDER BY generation DESC LIMIT 1`),
		// The next generation of a name: one more than the newest stored.
		// The newest is never dropped (a write keeps at least itself), so
		// a generation is never reused.
		snapshotWrite: s(`INSERT INTO {schema}.snapshots (name, generation, version, seq, value)
			SELECT $1, coalesce(max(generation), 0) + 1, $2, $3, $4 FROM {schema}.snapshots WHERE name = $1
			RETURNING generation`),
	}
}

// headOf is a stream's head in a query over streams s: the greater of
// its streams.head (a floor: guessed commits do not move it) and its
// highest stored seq, read from the (stream, seq) index.
const headOf = `greatest(s.head, coalesce((SELECT max(e.seq) FROM {schema}.events e WHERE e.stream = s.name), 0))`

// limitedOf is whether read-all must filter: some stream has a state of
// its own, or one had (meta_gen moved: a metadata write, a delete or a
// compaction), so that positions may have holes. It never goes back to
// false: meta_gen only grows, and a state is set only with a move of it.
const limitedOf = `(EXISTS (SELECT 1 FROM {schema}.streams
			WHERE max_count > 0 OR max_age > 0 OR truncate_before > 0 OR deleted OR tombstone)
		OR (SELECT meta_gen > 0 FROM {schema}.log_state WHERE id = 1))`

// lastOf is the log's last position in a query over log_state st: the
// greater of its last_pos (a floor: guessed commits do not move it) and
// the highest stored position, read from the primary key.
const lastOf = `greatest(st.last_pos, coalesce((SELECT max(e.pos) FROM {schema}.events e), 0))`

// lockShared takes the log lock shared, for a guessed commit; as text
// (the empty string), so that a part after it can wait for its value.
const lockShared = `pg_advisory_xact_lock_shared('{key}'::bigint)::text`

// tokenOf is the store's metadata token: the last value set in the
// meta_token sequence, which every reader sees whatever its snapshot
// (see migration 6); 0 until a writer set one.
const tokenOf = `coalesce(pg_sequence_last_value({tokenSeq}::regclass), 0)`

// tokenIs, completed by a parameter and END, is in a query over l (the
// row of lockShared) whether the metadata token is that parameter, read
// only once l's lock was granted: CASE evaluates its ELSE after its WHEN,
// and the token's function is volatile, so it is not read at planning.
const tokenIs = `CASE WHEN l.l IS NULL THEN false ELSE {token} =`

// newToken draws a metadata token for a writer that moves the metadata
// generation on: 63 random bits, never 0 (the token of a new schema), so
// that a token lost in a crash (a sequence's change is not rolled back,
// and a rolled-back one's WAL may not be flushed) is not set again by
// the next writer.
func newToken() int64 { return rand.Int64N(math.MaxInt64) + 1 }

// logLockKey is the advisory lock of the store in schema (quoted) that
// guessed commits hold shared and every other writer exclusively.
func logLockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("persist log " + schema))
	return int64(h.Sum64())
}
