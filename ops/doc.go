// Package ops defines persist's operations as effect descriptors, their
// result types, the errors callers branch on, and the contract every backend
// keeps.
//
// # Data model
//
// A stream is a named, append-only sequence of events. An event carries its
// stream, its seq (1, 2, 3, … within the stream; an empty stream's head is 0),
// a backend-wide position Pos (1, 2, 3, … across all streams, the order of
// ReadAll and subscriptions), a type, the time At stamped by the backend from
// its clock, opaque data bytes, and an ID (a UUID), unique within the
// stream, that makes retries idempotent. Events without an ID get one from
// the backend.
//
// The kv facet maps keys to values. Every change of kv state (a put or a
// delete, alone or within a commit) carries a revision: a store-wide counter
// that rises by one per commit touching kv, so a revision is never reused for
// a key even across delete and re-create (no ABA for compare-and-set). A
// missing key has revision 0.
//
// # Data
//
// An event's Data and a kv Value are bytes, stored and returned exactly as
// given: no backend reads, rewrites or normalises them. By convention they
// hold JSON or SX text, and one rule (package sx: sx.DataJSON, sx.Unmarshal)
// says they mean the same: SX text stands for the JSON value it converts
// to, so {:order 17} and {"order": 17} are one datum.
//
//   - A Go caller sees the bytes as appended (Event.Data). The Go helpers
//     (programs.Decode and DecodeData, persist.Decode) decode JSON or SX
//     data into the same Go value, by its JSON field names;
//     programs.JSONEvent and persist.JSONEvent write JSON.
//   - The command line stores a DATA literal byte for byte as typed (JSON,
//     or else SX) and shows stored data as a value: as SX by default, and
//     as JSON with -o json whichever way it was written (JSON as stored,
//     SX converted), so "persist -o json read orders | jq .data.order"
//     prints 17 for both; data with no JSON form and bytes that are
//     neither are shown under data_sx and data_base64 (see cmd/persist).
//   - The wire (package server, persist serve) carries the bytes
//     unchanged: as a string when they are valid UTF-8, else as
//     (bytes "<base64>") in SX and ["bytes", "<base64>"] in JSON. So a
//     remote caller (package remote) gets the bytes a Go caller gets, and
//     decodes them by the same rule.
//
// # Expectations and conflicts
//
// An append carries an [Expect]: Any, NoStream (head 0), StreamExists (head
// above 0) or Exact(n) (head n). Kv puts and deletes carry one too, read
// against the key's revision: NoStream means the key is absent,
// StreamExists that it is present, Exact(r) that its revision is r. A failed
// expectation writes nothing and is returned as a [*Conflict] naming the
// stream or key, what was expected and what was found. An append reusing a
// stored event ID is refused before its expectation is looked at (see
// below).
//
// # Commits
//
// A [Commit] applies appends to several streams and kv changes, each with its
// own expectation, as one atomic unit: all parts or none. Append, KvPut and
// KvDelete are one-part commits. The first refusal (in the order appends,
// then kv changes) is the answer, and nothing is written.
//
// # Event IDs and idempotent appends
//
// An event ID is unique within its stream (the same ID may stand in other
// streams). Every stored event has one: the caller's, or a fresh one the
// backend draws for an event whose ID is zero. [Check] applies the rule
// to each append, before its expectation:
//
//   - Retry. When every event of the append carries an ID, and those IDs
//     are stored in the stream, in order, at consecutive seqs starting
//     where the expectation puts the batch (seq 1 for NoStream, n+1 for
//     Exact(n), anywhere for Any and Exists), the append answers the
//     original result (the stored seqs and positions) and writes nothing,
//     whatever the head is now. Only IDs are compared, not types or data.
//     The answer is decided from the stored events, never from a cache,
//     so it is the same after a restart.
//   - Reuse. Any other append carrying an ID already stored in the stream
//     (a partial overlap with a stored batch, a stored batch at another
//     place than Exact names, a stored ID beside new ones) is refused with
//     a [*DuplicateIDError] naming the ID, the seq that holds it and the
//     event of the append that carries it (errors.Is ErrDuplicateID);
//     nothing is written.
//   - The same ID twice in one append is invalid: an [*InvalidError]
//     naming the second ("events[2].id", "appends[1].events[2].id").
//
// In a [Commit] each append part is decided on its own: a part that is a
// retry answers its original result while the other parts are written; a
// reuse in any part refuses the whole commit. A stream appears at most once
// in a commit, so two parts never share one. Concurrent appends are
// decided in the order they commit: of two that carry one new ID the first
// stores it, and the second is then a retry or a reuse.
//
// In Go a zero ID asks the backend for one; where an absent ID and a
// written-out nil UUID can be told apart (a command-line flag, an SX or
// JSON field), read it with [ParseEventID], which refuses the nil UUID.
//
// Backends answer [View.FindID] from an index, without scanning the
// stream: deciding the rule costs a lookup per event that carries an ID.
//
// # Limits
//
// Names of streams, keys, snapshot names and event types are valid UTF-8,
// non-empty, without NUL, and no longer than the limits below; data and
// values are at most [MaxDataBytes]; one commit carries at most
// [MaxCommitEvents] events and [MaxCommitBytes] bytes. [Validate] checks an
// operation against them, and every backend calls it before writing
// anything: an invalid operation is an [*InvalidError] naming the field and
// the limit.
//
// # Retention and deletion
//
// A stream's metadata ([StreamMeta]) sets its limits: MaxCount n keeps the
// last n events, MaxAge d keeps events younger than d by the backend's
// clock (an event is hidden once now - At >= d, decided at every read
// against the clock of that read), TruncateBefore s hides the seqs below
// s; a zero field sets no limit. [StreamMetaWrite] replaces all three at
// once (a caller that changes one reads the others first, with an Exact
// expectation), as atomically and durably as a commit, and raises no seq
// and takes no position; [StreamMetaRead] reads them. Metadata may be set
// on a stream not yet written. Limits are refused as an [*InvalidError]
// naming the field, with nothing changed: max-count or truncate-before
// above [MaxSeqLimit], a negative max-age or one above [MaxAgeLimit], and
// (decided against the stream, by [CheckMeta]) a truncate-before beyond
// the stored head plus one, whose reason names the head. Max-count 0 keeps
// every event: to hide them all, truncate before head+1 or delete.
//
// [StreamDelete] deletes a stream, with an expectation on its head. A soft
// delete truncates before head+1 and marks the stream deleted: it reads
// as absent (reads are empty, [Streams] leaves it out, NoStream holds and
// Exists fails) until it is appended to again. Its numbering goes on: the
// next append is stored at the old head+1, Exact speaks of the stored head,
// and the old events stay hidden. A hard delete (Hard) leaves a tombstone:
// the stream reads as absent for ever and every write to it (append,
// commit part, metadata, delete) is refused with a [*StreamDeletedError]
// naming it (errors.Is [ErrStreamDeleted]), nothing written. Deleting a
// stream never written (head 0) is not an error: a soft delete records
// the mark (nothing to hide), a hard delete the tombstone, which reserves
// the name. Deleting a soft-deleted stream again is allowed; a metadata
// write on a soft-deleted stream replaces its limits and ends the
// deletion (this is how a soft delete is undone: the old events show
// again unless the new limits hide them).
//
// Hiding is logical and at once: from the moment a metadata write or a
// delete is acknowledged, no hidden event is served by [Read], [ReadAll],
// followers or projections built on them, whether or not a compaction has
// removed it yet. Positions and seqs of the events that stay never change
// and are never reused. A read from a hidden seq or position goes on at
// the next visible one. A page may hold fewer events than its limit, or
// none, when hidden events were skipped: [ReadResult.Next] and
// [ReadAllResult.Next] say where to read next, and the reader is done when
// Next is past Head; a backend bounds the stored events one page skips,
// so a long hidden run gives empty pages with Next moving on, never a
// stall. Head (of [Head], [ReadResult], [StreamInfo]) stays the stored
// head, which numbering continues from: on a stream whose events are all
// hidden it is above 0. [Wait] speaks of stored heads and positions: an
// append always stores a visible event (its last event is younger than
// any max-age, within any max-count, and revives a soft-deleted stream;
// a batch longer than a max-count hides its own first events at once),
// so a follower that wakes finds something to read.
//
// The event-ID rule (above) counts visible events only: an ID whose event
// is hidden is free again, so a retry is recognised only while its events
// are visible. That keeps the answer the same before and after a
// compaction removes the hidden event. A [View] that keeps metadata shows
// it to [Check] as a [StreamView]; [Check], [CheckMeta] and
// [CheckDelete] decide all of the above for every backend, and
// [StreamState.Hides] says which stored event a read leaves out.
//
// Metadata and deletes are operations of their own, not parts of a
// [Commit]. [Streams] with Deleted set lists every stream with stored
// events or state, deleted ones and ones with metadata only included,
// for tools that walk a whole store.
//
// # Kv history and watch
//
// A store keeps the last versions of each key ([DefaultKvHistory] unless
// its options say another depth, 1 to [MaxKvHistory]; one depth per
// store), the current one included: a put is a version with its value, a
// delete of a present key a version marked Deleted. [KvHistory] reads
// them newest first. Deleting an absent key takes a revision, as it always
// has in persist (so a commit of only such deletes still has a Revision
// and raises the store's), but changes no key: it adds no version and no
// watch change. Etcd takes none; persist keeps its rule so that a commit's
// revision never depends on the state it finds.
//
// [KvWatch] pages the changes under a prefix in revision order, from a
// revision on, never splitting a revision between pages; [KvWait] waits
// for the kv revision to pass one, as [Wait] does for the log. A watcher
// reads pages until Next passes Revision, waits, and reads on from Next:
// it sees every change once. When a key's old versions fall out of
// history, the store's compacted revision rises to the highest revision
// dropped; watching from it or below is a [*CompactedError] (errors.Is
// [ErrCompacted]) naming both, never a silent gap. The compacted
// revision is one per store, not per prefix: a watch may be refused for a
// drop under another prefix, never served with a hole.
//
// # Snapshot generations
//
// A [SnapshotWrite] stores the newest generation of its name (numbered 1,
// 2, 3, … per name, never reused) and keeps the newest Keep generations
// (0 means 1, as before: the write replaces the previous one), dropping
// older ones in the same write; the Keep of the latest write rules.
// [SnapshotRead] reads the newest, or the generation it names (Found false
// when that one is not kept); [SnapshotGenerations] lists the kept ones.
//
// # Stat
//
// [Stat] answers what a store holds, logically (streams and events
// visible) and as stored (events stored, kv versions kept, and, where the
// backend knows them, bytes stored and reclaimable by a compaction).
//
// # Blobs
//
// Bytes too large for an event (images, media) go to a blob store, and an
// event or kv value holds only their [BlobRef]: CID, size and media type.
// The blob operations [BlobPut], [BlobGet], [BlobHas] and [BlobStat] are
// effects of their own, answered by a separately injected handler (a
// [BlobStore]: package blobdir, a local directory, or package ipfs, an IPFS
// node), which stacks beside the storage backend; no storage backend sees
// blob bytes. A put reads its body in pieces and a get writes in pieces:
// neither holds a whole blob in memory.
//
// The CID of a blob is the one Kubo's `ipfs add --cid-version=1
// --raw-leaves --chunker=size-262144` gives (with Kubo's default of 174
// links per node, the balanced layout and sha2-256), so both stores agree
// for any size: the bytes are cut into chunks of 256 KiB ([BlobChunkBytes]);
// each chunk is a raw block (codec raw, 0x55); a blob of one chunk (or none:
// the empty blob is the empty raw block) is named by that block, "bafk…".
// Otherwise the chunks are the leaves of a UnixFS File DAG, every leaf at
// the same depth, each dag-pb node (0x70) holding up to 174 children,
// filled left to right, named by its root, "bafy…". [BlobDAG] computes it
// while the bytes stream past; [ReadBlobDAG] reads a DAG back block by
// block, checking each against its CID before a byte of it is written.
// [ParseCID] accepts only CIDs of this shape (version 1, raw or dag-pb,
// sha2-256) and anything else is an error matching [ErrBadCID].
//
// The media type is the caller's: stores keep bytes, not metadata, so
// BlobGet and BlobStat answer a reference without one. A store's size limit
// ([DefaultMaxBlobBytes] unless its options set another) refuses a bigger
// put with [ErrBlobTooLarge], having stored nothing.
package ops
