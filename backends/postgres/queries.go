package postgres

import "strings"

// queries are the store's SQL statements, with its schema written in.
type queries struct {
	lock, prefetchHeads, prefetchRevs, prefetchIDs, eventAt string
	insertEvents, upsertHeads, upsertKv, deleteKv           string
	setState, notify                                        string
	guessed, guessedOne                                     string
	read, readAll, head, lastPos, streams                   string
	kvGet, kvList, snapshotRead, snapshotWrite              string
}

func newQueries(schema string) queries {
	s := func(q string) string { return strings.ReplaceAll(q, "{schema}", schema) }
	return queries{
		// The row lock every writing commit takes first and holds to COMMIT.
		lock:          s(`SELECT last_pos, kv_rev FROM {schema}.log_state WHERE id = 1 FOR UPDATE`),
		prefetchHeads: s(`SELECT name, head FROM {schema}.streams WHERE name = ANY($1::text[])`),
		prefetchRevs:  s(`SELECT key, revision FROM {schema}.kv WHERE key = ANY($1::text[])`),
		prefetchIDs: s(`SELECT e.stream, e.id, e.seq, e.pos FROM {schema}.events e
			JOIN unnest($1::text[], $2::uuid[]) AS k(stream, id) ON e.stream = k.stream AND e.id = k.id`),
		eventAt: s(`SELECT id, pos FROM {schema}.events WHERE stream = $1 AND seq = $2`),
		insertEvents: s(`INSERT INTO {schema}.events (pos, stream, seq, id, type, at, data)
			SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::uuid[], $5::text[], $6::bigint[], $7::bytea[])`),
		// A guessed group in one statement, so in one implicit transaction
		// and one round trip: it takes the log lock first (st, whose UPDATE
		// every other part reads, so it runs first, and whose RETURNING is
		// the locked, latest last position), writes the events at positions
		// counted on from it and the heads, and notifies. A stale guess or
		// a stored ID is refused by a unique index, which aborts the whole
		// statement: nothing of it is stored.
		//
		// $1..$7: the events (offsets 1, 2, … from the last position,
		// streams, seqs, IDs, types, times, data); $8, $9: the streams and
		// their new heads; $10: the channel.
		guessed: s(`WITH st AS (
				UPDATE {schema}.log_state SET last_pos = last_pos + cardinality($1::bigint[]) WHERE id = 1
				RETURNING last_pos),
			ins AS (INSERT INTO {schema}.events (pos, stream, seq, id, type, at, data)
				SELECT st.last_pos - cardinality($1::bigint[]) + u.off, u.stream, u.seq, u.id, u.type, u.at, u.data FROM st,
					unnest($1::bigint[], $2::text[], $3::bigint[], $4::uuid[], $5::text[], $6::bigint[], $7::bytea[])
					AS u(off, stream, seq, id, type, at, data)),
			h AS (INSERT INTO {schema}.streams (name, head) SELECT u.name, u.head FROM st, unnest($8::text[], $9::bigint[]) AS u(name, head)
				ON CONFLICT (name) DO UPDATE SET head = EXCLUDED.head)
			SELECT st.last_pos - cardinality($1::bigint[]), pg_notify($10, st.last_pos::text) FROM st`),
		// guessed for a group of one event, without arrays: $1..$6 the
		// event's stream, seq (its stream's new head), ID, type, time and
		// data; $7 the channel.
		guessedOne: s(`WITH st AS (
				UPDATE {schema}.log_state SET last_pos = last_pos + 1 WHERE id = 1 RETURNING last_pos),
			ins AS (INSERT INTO {schema}.events (pos, stream, seq, id, type, at, data)
				SELECT st.last_pos, $1, $2, $3, $4, $5, $6 FROM st),
			h AS (INSERT INTO {schema}.streams (name, head) SELECT $1, $2 FROM st
				ON CONFLICT (name) DO UPDATE SET head = EXCLUDED.head)
			SELECT st.last_pos - 1, pg_notify($7, st.last_pos::text) FROM st`),
		upsertHeads: s(`INSERT INTO {schema}.streams (name, head)
			SELECT * FROM unnest($1::text[], $2::bigint[])
			ON CONFLICT (name) DO UPDATE SET head = EXCLUDED.head`),
		upsertKv: s(`INSERT INTO {schema}.kv (key, value, revision)
			SELECT * FROM unnest($1::text[], $2::bytea[], $3::bigint[])
			ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, revision = EXCLUDED.revision`),
		deleteKv: s(`DELETE FROM {schema}.kv WHERE key = ANY($1::text[])`),
		setState: s(`UPDATE {schema}.log_state SET last_pos = $1, kv_rev = $2 WHERE id = 1`),
		notify:   `SELECT pg_notify($1, $2)`,
		// One statement, so that the page and the head come from one
		// snapshot.
		read: s(`SELECT h.head, e.pos, e.seq, e.id, e.type, e.at, e.data
			FROM (SELECT coalesce((SELECT head FROM {schema}.streams WHERE name = $1), 0) AS head) h
			LEFT JOIN LATERAL (SELECT pos, seq, id, type, at, data FROM {schema}.events
				WHERE stream = $1 AND seq >= $2 ORDER BY seq LIMIT $3) e ON true`),
		// A snapshot sees events up to its log_state.last_pos and none past
		// it (both are written by one transaction): read-all needs no
		// bound, and its head is the page's last position unless the page
		// is full or empty (see readAll).
		readAll: s(`SELECT pos, stream, seq, id, type, at, data FROM {schema}.events
			WHERE pos >= $1 ORDER BY pos LIMIT $2`),
		head:    s(`SELECT head FROM {schema}.streams WHERE name = $1`),
		lastPos: s(`SELECT last_pos FROM {schema}.log_state WHERE id = 1`),
		streams: s(`SELECT name, head FROM {schema}.streams
			WHERE name >= $1 AND name > $2 AND starts_with(name, $1) ORDER BY name LIMIT $3`),
		kvGet: s(`SELECT value, revision FROM {schema}.kv WHERE key = $1`),
		kvList: s(`SELECT key, value, revision FROM {schema}.kv
			WHERE key >= $1 AND key > $2 AND starts_with(key, $1) ORDER BY key LIMIT $3`),
		snapshotRead: s(`SELECT version, seq, value FROM {schema}.snapshots WHERE name = $1`),
		snapshotWrite: s(`INSERT INTO {schema}.snapshots (name, version, seq, value) VALUES ($1, $2, $3, $4)
			ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version, seq = EXCLUDED.seq, value = EXCLUDED.value`),
	}
}
