// Package transfer moves a whole store between backends: export to a file,
// import from one, the store digest that proves two stores hold the same
// content, and live migration from one store to another (Migrate). It
// works through the operations of package ops alone, so every backend,
// mem, file and PostgreSQL, is a source and a target, and a program that
// runs on one runs unchanged on the other.
//
// This comment is the export format, version 1.
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
//	{"format":"persist-export","version":1}
//	{"kind":"event","pos":1,"stream":"orders","seq":1,"id":"7b1c…","at":"2026-12-01T21:50:00.000000001Z","type":"placed","data":"e306b3JkZXIgMTd9"}
//	… every event, in position order …
//	{"kind":"stream","name":"orders","head":3}
//	… every stream, in byte order of names …
//	{"kind":"kv","key":"cfg/limit","value":"MTA=","revision":4}
//	… every kv entry, in byte order of keys …
//	{"kind":"snapshot","name":"orders","version":2,"seq":3,"value":"…"}
//	… every snapshot, in byte order of names …
//	{"kind":"end","counts":{"events":3,"streams":1,"kv":1,"snapshots":1},"last-pos":3,"digest":"sha256:…","sha256":"…"}
//
// The header is the first line: format "persist-export" and the version.
// A reader refuses a version above its own with an error saying the file
// is newer (ErrNewerVersion), before reading anything else.
//
// Events carry everything a store keeps of them: position, stream, seq,
// ID, time, type and data. Positions run 1, 2, 3 … without a gap (every
// backend's positions are gap-free), and each stream's seqs run 1, 2, 3 …
// in position order. Stream records are the stream metadata: every stream
// that has events, with its head, which must be the seq of its last event.
// Kv entries carry their revision (above 0). Snapshots carry name,
// projection version, seq covered and value.
//
// The trailer is the last line. counts and last-pos must match the
// records; digest is the store digest (below) of the exported content,
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
// seq (u64) value (bytes). u64 is 8 bytes big-endian; str and bytes are
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
// PostgreSQL store should be quiet or fenced (see Migrate). Snapshots are
// listed with ops.SnapshotNames (every backend and the wire answer it);
// a store that cannot list them cannot be exported or digested
// (ErrNoSnapshotList).
//
// # Import
//
// Import writes an export into an empty store (no event, no kv entry, no
// snapshot: ErrNotEmpty otherwise) and keeps everything exactly:
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
//   - Kv entries keep their revisions: they are written in revision order,
//     entries sharing a revision in one commit, after deletes of a key not
//     yet written that move the store's revision on to one below (a kv
//     commit always takes the next revision). Gaps in the revisions cost
//     one small commit each. The importer holds the kv entries in memory
//     to sort them; the events stream through.
//   - Snapshots are written as they are.
//
// Import ends by computing the target's digest: it must be the export's,
// or the import fails with ErrDigestMismatch.
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
// losing or duplicating a write; see its doc and docs/migration.md.
package transfer
