// Package transfer moves a whole store between backends: export to a file,
// import from one, the store digest that proves two stores hold the same
// content, and live migration from one store to another (Migrate). It
// works through the operations of package ops alone, so every backend,
// mem, file and PostgreSQL, is a source and a target, and a program that
// runs on one runs unchanged on the other.
//
// This comment is the export format, version 3. Version 2 files (no kv
// history, no snapshot generations) and version 1 files (no hidden
// positions, no stream state, no time in the trailer either) still read
// and import as they always did.
//
// # The export format
//
// An export is UTF-8 text, one JSON object per line (JSON Lines), each
// line ended by "\n". Bytes (event data, kv values, snapshot values) are
// standard base64 with padding, as Go's encoding/json writes []byte; times
// are RFC 3339 with nanoseconds, in UTC; numbers are decimal integers
// that fit in uint64. An unknown field anywhere is an error. The lines
// are, in this order:
//
//	{"format":"persist-export","version":3}
//	{"kind":"event","pos":1,"stream":"orders","seq":1,"id":"7b1c…","at":"2026-12-01T21:50:00.000000001Z","type":"placed","data":"e306b3JkZXIgMTd9"}
//	{"kind":"hidden","pos":2,"stream":"carts"}
//	… every visible event and hidden position, in position order …
//	{"kind":"stream","name":"carts","head":1,"deleted":true,"truncate-before":2}
//	{"kind":"stream","name":"orders","head":3,"max-count":1000,"max-age-ns":2592000000000000}
//	… every stream, in byte order of names …
//	{"kind":"kv-version","key":"cfg/limit","value":"OQ==","revision":2}
//	{"kind":"kv","key":"cfg/limit","value":"MTA=","revision":4}
//	{"kind":"kv-version","key":"cfg/old","value":"MQ==","revision":1}
//	{"kind":"kv-version","key":"cfg/old","deleted":true,"revision":3}
//	… every kv entry, each after its key's older versions, and each deleted key's versions, in byte order of keys …
//	{"kind":"snapshot-generation","name":"orders","generation":4,"version":2,"seq":2,"value":"…"}
//	{"kind":"snapshot","name":"orders","generation":5,"version":2,"seq":3,"value":"…"}
//	… every snapshot, each after its name's older generations, in byte order of names …
//	{"kind":"end","counts":{"events":3,"streams":2,"kv":1,"snapshots":1,"hidden":1,"kv-versions":3,"generations":1},"last-pos":3,"digest":"sha256:…","sha256":"…","at":"2026-12-02T06:00:00Z"}
//
// The header is the first line: format "persist-export" and the version.
// A reader refuses a version above its own with an error saying the file
// is newer (ErrNewerVersion), before reading anything else.
//
// Events carry everything a store keeps of them: position, stream, seq,
// ID, time, type and data. Only visible events are exported (package ops:
// a hidden event is never served, to an export neither); each position a
// stream's limits or deletion hide is a hidden record naming a stream, so
// that positions, counting both, run 1, 2, 3 … without a gap, and each
// stream's seqs, counting its hidden records, run 1, 2, 3 … in position
// order. Which stream held the event at a hidden position is not known
// (nothing serves it); the exporter gives each hidden position to a
// stream by a rule of what is visible: every limit hides a prefix of its
// stream, and the hidden positions go, in order, to the stream whose
// first visible event comes soonest (earliest deadline first, ties by
// name). A stream whose hidden events are not a prefix (a max-age over
// times that step back) cannot be exported: the error names it.
//
// Stream records are the stream metadata: every stream that has events
// or hidden positions, with its head (the seq of its last event or hidden
// position), and every stream with a state but neither, with head 0. A
// version 2 stream record carries its state when it has one: max-count,
// max-age-ns (nanoseconds), truncate-before, deleted (it reads as absent)
// and tombstone (hard-deleted), each left out when zero; the state must
// keep package ops's rules (a truncate-before at most head+1, a deleted
// stream truncated before head+1, a tombstone deleted).
//
// Kv entries carry their revision (above 0). Snapshots carry name,
// projection version, seq covered and value, and in version 3 their
// generation (left out when the source keeps no generations).
//
// Version 3 carries kv history and snapshot generations, so that an
// imported store answers persist/kv-history and
// persist/snapshot-generations as its source did:
//
//   - A kv-version record is an older kept version of a key: its
//     revision and its value, or deleted (a delete of the present key).
//     A key's versions come oldest first, right before its kv entry,
//     whose revision is above theirs; a key that is deleted now has its
//     versions only, the newest of them deleted. A delete never follows a
//     delete of the same key (deleting an absent key makes no version).
//     The keys that are deleted now are found in the changes the kv
//     history holds whole (persist/kv-watch from revision 0): a deleted
//     key whose every kept version is older than the store's compacted
//     revision is not found, and not exported.
//   - A snapshot-generation record is an older kept generation of a
//     snapshot name, oldest first, right before the name's snapshot
//     record (its newest), whose generation is above theirs.
//
// An import numbers kv versions and generations as the export does (see
// Import), and a target keeps what its own limits let it: a target
// opened with a shorter kv history than the source's keeps fewer
// versions, and the digest check says so.
//
// The trailer is the last line. counts and last-pos must match the
// records (hidden counts hidden records; left out when 0); at, in a
// version 2 export of a store where a stream has a max-age, is the time
// of the source's clock when the export began, the time its visibility
// is of; digest is the store digest (below) of the exported content,
// and sha256 the hex SHA-256 of every byte of the file before the
// trailer's line. Nothing may follow it. So a file cut anywhere lacks its
// trailer (ErrTruncated), and a byte changed anywhere breaks the JSON, an
// order rule, a count, the digest or the hash (ErrFormat). The
// FormatError says which line.
//
// # The store digest
//
// Digest hashes a store's logical content, the same way on every
// backend: SHA-256 over the bytes "persist-store-digest-v1\n" followed by
// each event in position order, as 'E', then pos (u64), stream (str), seq (u64),
// the ID's 16 bytes, at as Unix nanoseconds (u64, two's complement), type
// (str), data (bytes); then each stream in name order, 'S' name (str)
// head (u64); each kv entry in key order, 'K' key (str) revision (u64)
// value (bytes); each snapshot in name order, 'P' name (str) version (u64)
// seq (u64) value (bytes). Version 3 adds, before a key's 'K' (or in its
// place for a deleted key), each older kept version, oldest first, as 'V'
// key (str) revision (u64) deleted (one byte) value (bytes); before a
// snapshot's 'P' each older kept generation as 'G' name (str) generation
// (u64) version (u64) seq (u64) value (bytes); and after the 'P', when
// the newest generation is above 1, 'N' name (str) generation (u64). A
// store without older versions or generations, whose snapshots were each
// written once, digests as in version 2. A hidden position is 'H' pos (u64) stream (str),
// in the log's order; a stream with a state has, right after its 'S', 'M'
// name (str) max-count (u64) max-age in nanoseconds (u64) truncate-before
// (u64) and deleted and tombstone as one byte each (1 or 0). A store
// without stream state digests as in version 1. u64 is 8 bytes big-endian; str and bytes are
// their length as u64 and then their bytes. The digest is written
// "sha256:" and 64 hex digits. Two stores with the same digest hold the
// same events (IDs, positions, times included), the same kv entries with
// the same revisions and the same snapshots.
//
// # Export
//
// Export reads the events up to the global head it sees on its first
// page, then the streams those events give, then the kv entries and the
// snapshots, in one pass, holding nothing but a page. An export is one
// consistent cut only of a store no one writes meanwhile: persist export
// opens a file store as its writer (so no other process writes it), and a
// PostgreSQL store should be quiet or fenced (see Migrate).
//
// A quiet store still changes with time: what a max-age hides grows as
// the export reads. So the export fixes its time cut at its start: given
// the Clock the source was opened with (ExportOptions.Clock), it holds
// that clock, while it reads, at the time it read first, the trailer's
// at; every read then hides what a max-age hid at that time, and the
// export is one cut, which imports into every backend. persist export
// opens a data directory or a PostgreSQL store so. A cut at the end
// instead would need every event the walk wrote as visible to be checked
// again, and a streaming export cannot take back a line; a cut at the
// start costs nothing but the held clock (a store stamping an event
// meanwhile would stamp that time too, which is why only a quiet store
// is exported so). Without the Clock (a store behind a server, whose
// clock is the server's), the walk follows a max-age that hides more
// (below, Import), and an import that then fails its digest check says
// to export with the clock held. Snapshots are
// listed with ops.SnapshotNames (every backend and the wire answer it);
// a store that cannot list them cannot be exported or digested
// (ErrNoSnapshotList).
//
// # Import
//
// Import writes an export into an empty store (no event, no stream state,
// no kv entry or revision, no snapshot: ErrNotEmpty otherwise, naming what
// it found, before anything is written) and keeps everything exactly:
//
//   - A hidden position gets a placeholder event in its stream (type
//     persist/hidden, no data, stamped at the Unix epoch, or on a file
//     store at the commit before, which it clamps to), and after the last
//     event each stream gets its state: its limits, then a delete (hard
//     for a tombstone) when it reads as deleted, each expecting the
//     exported head. The state hides the placeholders again, so every
//     visible event keeps its position and seq and the numbering goes on
//     where it did. What the import keeps is whether a stream reads as
//     deleted, not the mark of a soft delete that an append has undone
//     (stream-meta-read's :deleted of such a stream is false after it).
//
//   - Events keep their IDs (appended with them), positions and seqs (the
//     store is empty and gap-free, and each append expects the head the
//     export gives, so a store that would place an event elsewhere fails
//     the import), and their times: the target is opened with a Clock of
//     this package as its clock, and the importer holds it at each
//     commit's time. This is the only way to give an event its time, and
//     only whoever opens a store can use it: no operation sets a time.
//     Events of one time go in one commit (up to 1,000 events or 4 MiB),
//     events of different times in different commits. A file store clamps
//     a time that steps back to the commit before it; such an export does
//     not import into a file store (the digest check says so).
//
//   - Kv entries and older versions keep their revisions: they are
//     written in revision order, versions sharing a revision in one
//     commit (a put, or a delete of the present key), after deletes of an
//     absent key that move the store's revision on to one below (a kv
//     commit always takes the next revision, and such a delete makes no
//     version). Gaps in the revisions cost one small commit each. The
//     importer holds the kv versions in memory to sort them; the events
//     stream through. A key whose oldest kept version is a delete (the
//     value before it fell out of the history) first gets an empty value
//     at revision 1, so that the delete is of a present key and a
//     version; the key keeps as many versions as the history's depth, so
//     a target of the same depth drops that value again (one of a greater
//     depth keeps it, and the digest check says so). Revision 1 keeps the
//     target's compacted revision at or below the source's.
//
//   - Snapshots keep their generations: a name whose newest generation
//     is g, with older ones kept from f on, gets generations 1 to f-1
//     written and dropped at once (generation f's fields without its
//     value, each write keeping one), then f to g, each keeping every
//     generation from f on; so the kept generations and their numbers are
//     the source's, and the next write takes g+1. The writes before f cost
//     one small snapshot write each. A name without a generation (an older export) is written
//     once, as before.
//
// Import ends by computing the target's digest, with the target's clock
// held at the trailer's at when it has one (what a max-age hides depends
// on the time): it must be the export's, or the import fails with
// ErrDigestMismatch. A max-age that hides more while a long export runs
// is followed (the plan gives the newly hidden position to its stream
// and looks again), but a file store's placeholders may then be younger
// than the export's time and show: the digest check says so.
//
// # Atomic imports
//
// An import either completes or leaves the store empty. Import itself
// writes as it reads, so the command line imports into a store made for
// it and publishes it only after Import succeeded:
//
//   - file: a fresh store in a temporary directory beside the target
//     (the target must be absent or an empty directory); on success the
//     store is closed, every file and directory in it fsynced, and the
//     directory renamed onto the target, then the parent fsynced. On
//     failure the temporary directory is removed. While importing the
//     store's syncs are skipped (nothing is acknowledged to anyone), so a
//     crash mid-import leaves only a temporary directory, never a target.
//   - PostgreSQL: a fresh schema of its own ("<schema>_import_<random>");
//     on success, in one transaction, the empty target schema (if any) is
//     dropped and the import's schema renamed to the target's. On failure
//     the import's schema is dropped. Readers of the target see nothing,
//     then everything.
//   - mem: a store in memory is made for the import and dropped on error.
//
// # Migrate
//
// Migrate moves a store a service is writing to another backend without
// losing or duplicating a write; see its doc and docs/migration.md. It
// carries what a source's stream limits and deletes hide as an export
// does: each hidden position becomes a placeholder event in the stream
// the hidden plan (below, Export) gives it, and once the log is copied
// every stream gets its state, which hides the placeholders again; so
// positions, seqs and heads are the source's, what was hidden stays
// hidden, and every backend is a target (each can store a placeholder at
// the position it is given, since the target's log has no gap).
//
// The source keeps taking writes while its log is copied, so its limits
// hide more as it goes (a max-count under new writes, a max-age as time
// passes): the plan follows that, as it follows a max-age during an
// export. A metadata write or a delete while the copy runs changes which
// stream a hidden position may belong to: at a position the plan has no
// stream for, it reads every stream's state again and goes on; a
// placeholder that was already given to another stream shows as a seq
// out of place, or as a digest that differs, and the migration fails
// with an error saying the source's limits changed (run it again: the
// target is dropped, the source unfenced). After the fence nothing
// changes: the plan reads every state once more, and those states are
// the ones the target gets. The kv entries with their older versions and
// the snapshots with their older generations are copied after the fence,
// as an export carries them (version 3 above) and an import writes them.
//
// What a max-age hides depends on the time. Source.Clock, the Clock the
// source was opened with, lets Migrate hold the source's clock from the
// fence on, at the time it reads then: the rest of the copy and the
// source's digest see one cut, and the target's digest is taken with the
// target's clock held at the same time. persist migrate opens the source
// so. Without it the source's clock runs during its digest, and a stream
// whose max-age hides one more event meanwhile fails the migration with
// ErrDigestMismatch, naming the cause. The fence (a Gate, or
// stage.PostgresSource) refuses stream metadata writes and deletes as it
// refuses every other write.
//
// # Walking a store with stream state
//
// Export and Digest list every stream (ops.Streams with Deleted) and read
// the state of each (persist/stream-meta-read) and, for one with a state,
// its first visible event: two operations per stream and one more per
// stream with a state, before the log. A backend that does not answer
// stream-meta-read has no stream state, and its streams cost one listing.
// After the log they read the kv history's changes once (to find the
// deleted keys; and, in a store that never dropped a version, every key's
// versions, held in memory up to 2^20 changes), else each key's history
// (one operation per key, which on a file store reads the log back), and each
// snapshot name's generations and each older generation (one operation
// per name and per older generation). A backend that does not answer
// kv-history or snapshot-generations has neither, and costs nothing
// more. A name listed twice by ops.SnapshotNames is read once.
package transfer
