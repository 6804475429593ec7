// Package file is persist's durable backend: one data directory holding an
// append-only log of checksummed records, written with group commit and
// recovered by rules that cut only a torn tail and fail loudly on any other
// damage.
//
// Every IO the store does is a platform effect (io/open, io/write-at,
// io/fdatasync, ...) performed on the handle it is given, so the real
// operating system ([OpenDir], platform.OS) and a crashable in-memory
// filesystem can answer it alike. [Open] recovers a store on a handle;
// [Store.Handle] answers the operations of package ops, following their
// contract: ops.Validate first, expectations as *ops.Conflict, commits
// atomic, bytes copied in and out, ops.ErrClosed after [Store.Close].
//
// # Directory layout
//
//	IDENTITY                     "persist store <32 hex digits>\n": the store's random id
//	RECOVERY                     JSON report of the newest recovery that changed the directory
//	LOCK                         held with an exclusive lock while the store is open for writing;
//	                             "pid <n>\n" names the holder when it set Options.HolderPID
//	log/seg-<16 hex digits>.log  segments, ids 1, 2, 3, ... without gaps
//	log/seg-<id>.log.torn-<off>  bytes cut from a torn tail by recovery
//	log/checkpoint-<lsn>.ckpt    store checkpoints: the index as of LSN <lsn>
//	log/seg-<id>.idx             segment index files: the record locations of a sealed segment
//	log/kv-<lsn>.run             kv run files: the kv keys changed up to the checkpoint of LSN <lsn>
//	log/st-<lsn>.run             stream run files: the stream heads changed up to the checkpoint of LSN <lsn>
//	snap/<key>-<gen>-k<keep>.snap
//	                             snapshot generations; key: 32 hex digits of SHA-256 of the
//	                             name, gen: 16 hex digits, keep: the write's Keep in decimal
//	snap/<key>-<gen>.snap        a snapshot written by format 1 (gen numbered store-wide)
//	*.tmp                        half-written files; recovery deletes them
//
// IDENTITY is written once: to IDENTITY.tmp, fsync, rename, directory fsync.
// A second opener of the directory gets "file: data directory ... is locked
// by another process" (matching platform.ErrLocked); a read-only opener
// ([OpenReadOnly]) takes no lock and may run beside the writer. The lock is
// the flock on LOCK, never its content: a writer that sets
// Options.HolderPID (OpenDir does, with its own pid) writes "pid <n>\n" into
// LOCK once it holds the lock and empties it on Close, so that a refused
// opener can name the holder ([LockHolder]); a holder killed without closing
// leaves its pid behind, which the next writer overwrites.
//
// # Records
//
// A segment is a sequence of records, each starting at a multiple of 8
// bytes. A record is a 32-byte frame, its payload, and zero padding to the
// next multiple of 8. All integers are little-endian.
//
//	offset  size  field
//	     0     4  CRC-32C (Castagnoli) of bytes 4..32+length: frame and payload
//	     4     4  payload length (at most 64 MiB)
//	     8     1  record type: 1 segment header, 2 commit, 3 seal
//	     9     3  zero
//	    12     4  CRC of the previous record: the chain (0 before the first)
//	    16     8  segment id
//	    24     8  log sequence number (LSN)
//	    32     n  payload
//
// Every record has an LSN, one more than the record before it, across
// segments, starting at 1; the chain runs across segments too (a header
// carries the CRC of the previous segment's seal). The segment id and LSN
// in the frame catch stale or misplaced bytes that a CRC alone would accept.
// Padding must be zero. A frame of all zeros is not a record.
//
// The header record's payload is the magic "persistL", the segment format
// version (uint32), four zero bytes and the 16-byte store id. A seal record
// ends a segment that is complete. In a segment of version 3 its payload
// records what the segment holds, so that a checkpoint covering the
// segment lets Open trust it without reading it (see Recovery); before
// version 3 it has none:
//
//	offset  size  field
//	     0     8  LSN of the segment's header record
//	     8     8  length: bytes before the seal (the seal's offset)
//	    16     4  CRC-32C of those bytes: every record of the segment, padding included
//	    20     4  zero
//	    24     8  position of the last event of the log before the seal (0: none)
//	    32     8  last kv revision of the log before the seal (0: none)
//
// This version writes segments of format version 3 and reads versions 1
// to 3; a store may hold all three (segments made before an upgrade keep
// their version; the active segment of an upgraded store keeps its
// version until it is sealed, with the seal of that version). What a
// segment proves depends on its version:
//
//   - Version 3: as version 2, and its seal records its length, the
//     checksum of its bytes and where the log stood at its end.
//   - Version 2: the segment's successor was made durable before its seal
//     was written, so a sealed segment proves that its successor exists;
//     and every record was written into space whose size was already
//     durable, so the segment never ends inside a record unless it was cut
//     at rest.
//   - Version 1: the seal was written before the successor was made, and
//     records could lie past the durable size: a sealed last segment may
//     be an interrupted roll, and a record cut by the end of the file may
//     be a torn write.
//
// A commit record holds one commit (one Append, KvPut or KvDelete, or a
// multi-part Commit): all of it or none. Its payload, with uvarints and a
// zigzag varint:
//
//	at         varint   commit time, Unix nanoseconds
//	firstPos   uvarint  position of its first event (0 when it has none)
//	revision   uvarint  kv revision of its kv changes (0 when it has none)
//	parts      uvarint, then per append part:
//	    stream   uvarint length, bytes
//	    firstSeq uvarint
//	    events   uvarint, then per event: 16-byte ID, type (uvarint length,
//	             bytes), data (uvarint length, bytes)
//	kv         uvarint, then per change: op byte (1 put, 2 delete), key
//	           (uvarint length, bytes), and for a put the value (uvarint
//	           length, bytes)
//
// Events take positions firstPos, firstPos+1, ... in the order of the parts
// and their events; a part's events take seqs firstSeq, firstSeq+1, ....
//
// A commit record may end with a metadata section: stream states set by
// persist/stream-meta-write or persist/stream-delete. A record without
// one ends after its kv changes, byte for byte as before; one with it
// holds, after the kv changes:
//
//	meta     uvarint (at least 1), then per change:
//	    stream          uvarint length (at least 1), bytes
//	    flags           byte: 1 deleted, 2 tombstone (a tombstone is deleted too)
//	    max-count       uvarint (at most ops.MaxSeqLimit)
//	    max-age         uvarint, nanoseconds (at most ops.MaxAgeLimit)
//	    truncate-before uvarint
//
// The new state replaces the stream's whole state; the zero state (no
// limits, not deleted) removes it. This version writes each metadata
// write or delete as a record of its own, with no parts and no kv
// changes (firstPos and revision 0). The segment format version is
// unchanged, since a segment of any version may hold such records; code
// from before the section reads one as a malformed payload (ErrCorrupt
// naming the record), so an older binary refuses such a store rather
// than serve it without its limits. Replay refuses (ErrCorrupt) an
// append to, or metadata for, a stream that an earlier record
// tombstoned.
//
// # Writing
//
// The active segment is created with its full size reserved (io/fallocate)
// so appends do not grow the file and each fdatasync flushes data only.
// Appends never rewrite a byte: records go into the reserved zero tail.
// Writers queue; the first to find no leader becomes the leader, takes the
// queued commits (up to Options.GroupBytes), checks each against the state
// as the commits before it in the group leave it, encodes the ones that
// hold into one buffer, writes it with one io/write-at and one
// io/fdatasync on its own handle, publishes the new state, answers every
// writer of the group, and hands the leadership to the first writer that
// queued meanwhile. The store starts no goroutine: all its IO is done on
// the handles of the operations it answers (a store checkpoint too, see
// Store checkpoints). Nothing is acknowledged, and no reader or Wait sees
// anything, before the fdatasync returns.
//
// When the reserved space runs out (after a reopen of a segment whose
// reserved tail Close gave back), the leader reserves more and fsyncs
// before it writes into it.
//
// The leader keeps the CRC-32C of the active segment's durable bytes as it
// writes them, and where the last record starts, for the seal and for
// checkpoints.
//
// When a group would take the active segment past Options.SegmentSize, the
// leader first rolls: it writes the next segment's header (its LSN and
// chain those of the seal to come) into seg-<id>.log.tmp with the full
// size reserved, fsyncs it, renames it into place and fsyncs the log
// directory; then it cuts the old segment to the end of the seal to come
// (truncate, fsync), writes the seal and fsyncs. The index, LSN and
// offsets change only when all of that succeeded. A roll that fails takes
// back what it made: it cuts the old segment back to its last durable
// record (truncate, fsync) and only then removes the new segment
// (directory fsync), so a seal that may be durable never lacks its
// successor.
//
// An error on any write, truncate, reservation or sync fails every commit of
// the group (those that would have been conflicts or retries too, as they
// were decided against commits that did not become durable) and puts the
// store in a failed state: every later commit is
// ErrFailed (wrapping the first error) until the store is reopened. A sync
// is never retried. Reads keep working on what was durable. A failed store
// writes nothing more: no store checkpoint (not at Close, and one being
// written when the store fails is not renamed into place: its temporary
// file is removed) and no snapshot (SnapshotWrite is ErrFailed too). The failing
// leader then cuts the active segment back to the end of its last durable
// record (truncate, fsync) and removes a half-made next segment, best
// effort: after a failed sync the kernel may keep the failed bytes readable
// while no later sync makes them durable, so a reopen without a machine
// crash must not find them and build on them.
//
// # Recovery
//
// Open locks the directory, checks IDENTITY (creating it for a new store),
// deletes *.tmp files, and replays the log from segment 1:
//
//   - Every segment but the last must validate completely and end with its
//     seal record; any bad record there is ErrCorrupt naming file and offset.
//     One exception, the state a crash during a roll of version 2 leaves
//     before the seal is durable: the segment before the last is unsealed,
//     and the last is of version 2 and holds only its header, whose LSN
//     and chain are those of a seal at the end of the segment before.
//     Recovery then takes the roll back: it recovers the segment before as
//     the last one (below), removes the header-only segment (directory
//     fsync), and reports it (RecoveryReport.RollUndone).
//   - With a store checkpoint, the records it covers are not replayed: in
//     segments of version 3 under a checkpoint of format 3 or later they are not
//     read at all (rule 8, see Store checkpoints); otherwise they are
//     checked as frames. The rest are replayed. Of the kv runs the
//     checkpoint names only the headers and sparse indexes are read (see
//     Kv run files); their blocks are checked by the reads that take them.
//     The replay's own lookups take blocks of the checkpoint's kv and
//     stream runs (the streams a record appends to or writes metadata of,
//     whether a key it changes had a value, the trim of a lowered kv
//     history depth): a damaged one there (a CorruptError naming one of
//     the checkpoint's run files) passes the checkpoint over as a run
//     that does not open does, and every older checkpoint naming that
//     run with it (RecoveryReport.CheckpointsSkipped), since the log holds
//     every record. Open takes the failed replay back (closes the
//     segments it opened and the checkpoint's runs, puts back the state
//     and the report's counts; it wrote nothing yet: a cut or a roll
//     comes after the last segment's records are read) and recovers from
//     the next checkpoint, or replays the whole log. Damage in a segment
//     stays ErrCorrupt, and an IO error fails Open, as before; a
//     follower and Verify decide alike.
//   - In the last segment the scan stops at the first record that does not
//     validate. If only zeros follow, that is the end of the log (the
//     reserved tail). Otherwise it is a torn tail only if no valid record of
//     this segment follows at any 8-byte boundary and the damage is no wider
//     than one group write could be; then the damaged bytes are copied to
//     seg-<id>.log.torn-<offset> (tmp, fsync, rename, directory fsync), the
//     segment is truncated there and fsynced, and Recovery() reports it.
//     Anything else is mid-log corruption: ErrCorrupt, nothing changed.
//     What follows the last valid record is examined twice, the second
//     time through fresh reads; if the two disagree (a misdirected or
//     misread read), Open fails with ErrCorrupt rather than take a longer
//     log for a shorter one. In a last segment of version 2 the damage is
//     never a torn tail when the file ends inside a record frame, or
//     inside a record whose frame carries the segment, LSN and chain that
//     follow the log: its size was durable before the record was written,
//     so it was cut at rest (ErrCorrupt, nothing changed).
//   - A last segment of version 2 that ends in its seal is ErrCorrupt: its
//     successor was durable before the seal, so it has been lost. A last
//     segment of version 1 that ends in its seal (a crash during a roll of
//     version 1) has any reserved zeros behind the seal cut (truncate,
//     fsync) and gets its successor created.
//   - LSNs, the CRC chain, stream seqs, positions and kv revisions must run
//     on without gaps, or ErrCorrupt. A seal of version 3 that recovery
//     reads after reading its segment's records must hold what they do
//     (header LSN, length, checksum, position, revision), or ErrCorrupt
//     naming the seal.
//
// LSNs and segment ids of durable records are never reused. The LSNs of a
// cut torn tail were never acknowledged and are given to new records.
//
// Limits of these rules: a bit flip at rest inside the very last record of
// the log, with nothing after it and no store checkpoint covering it, looks
// exactly like a torn write and is cut (kept in the .torn file) rather
// than reported; so does a cut of a last segment exactly at a record
// boundary, or one of version 1 anywhere; only a checkpoint records how
// far the log was durable.
//
// Every read from disk checks the frame again (CRC, type, segment id) and
// that the record holds the seq or position the index names (a misdirected
// read); a bad record is an error matching ErrCorrupt naming file and
// offset, never skipped. This is what stands, with Verify, for the records
// Open trusts to a checkpoint: damage there at rest is not found by Open,
// but by the first read of the damaged record and by Verify; no read
// serves a damaged byte. (A damaged commit record that no read touches,
// such as one of kv changes only, whose values the index holds, is found
// by Verify alone.)
//
// # Verify and Dump
//
// [Verify] checks a store without changing it, and its verdict is Open's:
// it runs the recovery above in a mode that writes nothing (the same
// checkpoint chosen, the same rules for the last segment, the same
// CorruptError with the same file and offset), and reports what Open would
// do instead of doing it: the torn tail it would cut, the roll it would
// finish (version 1) or take back (version 2). Then it reads and decodes
// every record from segment 1 on, store checkpoints or not (so it finds
// the damage in records Open trusts to a checkpoint, and a seal that does
// not hold what its segment does: it is stricter than Open there, never
// laxer), requires the
// index of the checkpoint Open would use to equal the one that full
// replay builds up to the same record (a checkpoint file that validates
// but holds another index is ErrCorrupt, though Open would trust it), and
// checks every checkpoint and snapshot file. A damaged checkpoint, or a damaged
// snapshot generation with a good one before it, is what Open and
// SnapshotRead pass over: Verify lists it (VerifyReport.Skipped) and says
// ok; a snapshot name none of whose files a read of the newest would
// serve (its kept generations and the fallback) validates is ErrCorrupt,
// as SnapshotRead answers. [Dump] yields the records Verify reads, up to
// the end Verify finds, then the damage it finds, if any.
//
// Both take the store's lock while they run when no other process holds
// it (only when LOCK exists: they create nothing), so no writer starts
// meanwhile and the answer is exact. When a writer holds it, they work as
// a read-only follower does: the end of the log is the first record of
// the last segment that does not validate, taken once at the start, and
// they check and yield everything below it and nothing of what the writer
// is writing (VerifyReport.Live). So they are the entry points to check or
// dump a store from the command line, whether a program has it open or
// not; a command line need not open the store first.
//
// # Memory
//
// The store keeps in memory, per stream it holds there, its head and one
// index entry (first seq, segment, offset) per commit record that
// touched it (not the streams the stream runs hold whole: Open reads
// none into memory and a checkpoint drops them, see Stream run files,
// Lookups); one
// entry (first position, segment, offset) per commit record with events
// for reading in position order; the ID index; and the kv keys changed
// since the last checkpoint with their values and kept history
// revisions (the others lie in its kv run files, see Kv run files),
// which Options.KvBufferBytes bounds (default 16 MiB: a checkpoint is
// due once they take as much; see Memory of the kv changes there). A
// location entry in memory is 6 bytes: the record's offset (4) and its
// first seq or position as a distance from that of its run (2), where a
// run is 16 bytes naming a segment and a first seq or position, one a
// segment per stream (and per the position index), or a 65,536 seqs of
// it (a distance that would not fit starts a new run). The entries lie
// in slices of their own grown by an eighth (not doubled; a list's
// first add takes room for its one entry only), and are never
// changed once added: a checkpoint being written holds a view of them
// (the slices cut at their lengths) while commits add more, with no
// copy; applying a checkpoint's drop copies the entries it keeps, of
// exact size (taillocs.go). The location entries of sealed segments that a checkpoint has
// covered live in segment index files instead (see Segment index files):
// in memory are only those of the active segment and of segments sealed
// since the last checkpoint, plus, per stream, the newest indexed
// segment holding it (and a run per indexed segment of version 1 or 2
// it appears in, which only a store from before the stream directories
// has). Event bodies stay on disk: Read and ReadAll read the indexed
// records back, one io/read-at per record, or one for a run of records
// that lie within 4 KiB of each other (up to 256 KiB at a time), as the
// records of the global log and of a stream written in a burst do. A
// record read alone takes a first read of 2 KiB and, when it is longer, a
// second for the rest; one that holds 8 or more of the stream's events
// (counted to the read's last wanted seq when the stream's next entry
// lies past it) is read at once with the size the position index bounds
// it by (where the next record with events begins): the one in memory
// for the active segment and segments not yet indexed, the segment index
// file's position run, searched by offset, for an indexed segment. The
// last record with events of a segment, and of the log, has no such
// bound and takes the two reads. Every record read is checked whole
// (its frame, its checksum over all of it) before any event of it is
// served; the events of a record before the read's first wanted seq are
// walked over by their lengths alone (type and data lengths are checked
// as reading them checks them), and the payload after the last wanted is
// walked to its end, so a malformed record is refused whatever part of it
// a read wants. Small records read alone (up to 4 KiB:
// a commit of a few events) are kept in a cache of Options.ReadCacheBytes
// (default 32 MiB, first in first out), so that a stream written one
// event per commit, whose records lie far apart, costs one read per event
// only the first time: records never change once durable and segment ids
// are never reused, so an entry never goes stale, and a cached record's
// frame is checked again when it is served.
//
// With Options.Background set, the store also keeps between checkpoints
// the array a checkpoint beside commits captures the stream heads into
// (see Store checkpoints): about 80 bytes a stream of the largest count
// it captured, and an eighth more for the streams to come (0.9 MiB at
// 10,000 streams); it is cleared when the checkpoint ends, so it holds
// no index entries alive, and it never shrinks while the store is open.
//
// The read cache, and the caches of index blocks and kv run blocks (see
// Segment index files and Kv run files), keep their bytes in one ring
// each of exactly the configured size, outside the Go heap: an anonymous
// private mapping on Linux, macOS and the BSDs (a heap slice
// elsewhere), set up by the first entry kept and unmapped by Close; the
// kernel backs its pages only once they are written, so the resident
// memory of a cache is at most its size. The bytes count neither in
// the collector's heap goal nor its scan. An entry is a 12-byte header (segment or run, offset or
// block number, length, each a little-endian uint32) and its bytes,
// written at the ring's head; one that would run past the ring's end is
// written at its start instead, the rest of the ring being marked
// unused. Eviction is first in, first out: the entries at the tail that
// a new one would overwrite are dropped first, found by walking their
// headers, so the order costs no heap. The index from key to the
// entry's offset in the ring is an open-addressing table, also in an
// anonymous mapping: 8-byte slots (32 bits of the key's hash, never 0,
// and the offset), probed linearly, so that a lookup reads one CPU cache
// line of it and then the entry's header, which names the key and
// confirms the slot (the key is not kept in the table). A slot's home
// is its hash bits, so the table doubles when three quarters full and
// deletes by backward shift (no tombstones) without reading the ring:
// 11 to 21 bytes an entry (the first table is 1024 slots, or for a
// small ring the fewest that hold all it can), 2 MiB for a full 32 MiB read cache of
// one-event records (123 k entries of 260 bytes, 256 k slots; the map
// it replaced took 3.3 MiB of heap), 128 KiB for 32 MiB of 4 KiB
// blocks. The headers are part of the configured size, so the entries,
// and with them the table, number at most the size divided by 12 bytes
// plus the smallest record's length. A read that will look up several
// records first touches their slots and headers together (loads that do
// not wait on each other, so their cache misses overlap), then looks
// them up one by one; the touch changes nothing the cache holds.
// Every serve copies the bytes out under the cache's lock, so a later
// entry that overwrites them never changes what a reader holds; a
// lookup in a segment index, and a directory lookup's probe of its
// entries, copies out only the bytes it reads, not their block, so that a search of cached blocks puts nothing on the
// heap (a kv-get searches a cached kv run block in place and copies out
// the value alone; a scan of a run still copies its blocks whole). A ring is at most 4 GiB
// less a byte.
//
// What the peak resident set is made of (BenchmarkScaleOpen with
// PERSIST_SCALE_MEMDETAIL=1: runtime.MemStats, each ring's resident pages
// by mincore, /proc/self/smaps by kind of mapping), at 10 M one-event
// commits in 10 k streams after reading every stream's last 10 events
// with the default options: the read cache's ring 28.6 MiB (100 k
// records), the Go heap's mapping 18.8 to 22 MiB, the test binary's
// file pages 8.7 MiB (its text 4.4), other file mappings 1.3 to 1.5 MiB,
// and the runtime's own (collector metadata 2.6, profiling buckets 1.4,
// stacks 0.4). The heap is the floor's moving part: the live heap after
// Open was 8.2 MiB (9.2 before the test binary stopped holding 1 MiB of
// test data from its start), almost all of it the location entries of
// the log a checkpoint has not put into index files (then 16 bytes per record
// in the position index and 16 per record and stream: 5 MiB of stream
// entries and 3.2 MiB of position entries for the 210 k records of the
// active segment; with the 6-byte entries since, 4.4 MiB live, 2.7 of
// them those entries, see Measured), and the collector lets the heap grow to twice what is
// live before it collects (GOGC=100; a library does not set it), while
// the copying reads of the benchmark allocate 4.3 KB each (their
// events). What was found and fixed on the way (issue 12): a directory
// lookup copied each probed 4 KiB block out of the index cache, 55 KB of
// garbage a read when the wanted events lie in indexed segments (as at
// 1 M events, where the peak was 69 to 76 MiB, above that at 10 M); the
// read cache's map took 28 bytes an entry; replay allocated a commitRec
// of 240 bytes a record and read each segment through a new 4 MiB
// window, so Open with the tail a killed writer leaves peaked at 46.7
// MiB. The figures of main before these against now are under Measured
// below. The earlier peak of 60.3 MiB with no read cache was that of the
// version before the stream directories, whose index took 23.7 MiB of
// heap: with no read cache the peak is now 32.3 MiB.
//
// The default of 32 MiB for the read cache was weighed against the
// 64 MiB target of issue 12 at 10 M one-event commits in 10 k streams
// (BenchmarkScaleOpen, peak resident after reading the last 10 events of
// every stream, machine load 9-11, the version before the stream
// directories): with no read cache 60.3-60.5 MiB, 8 MiB 67.3-68.2, 16
// MiB 77.6, 32 MiB 88.6-90.1. Against that, a stream's
// last 10 events in 5 M events in 10 k streams one per commit
// (BenchmarkTailRead, a working set of 27 MiB of records) read in a
// p50 of 8.2-8.9 us with 32 MiB, 10.4-11.8 us with 16 MiB and 20.6-21.8
// us with 8 MiB (load 7-8). The default stays 32 MiB, which meets the
// read target. Because the cache's bytes are off the heap, a process that
// sets a soft heap limit (GOMEMLIMIT) bounds the heap without the cache
// filling it: with GOMEMLIMIT=32MiB the same reads peaked at 69.2-70.1 MiB
// on that version (73.9-74.6 MiB with the cache on the heap).
//
// A read is decoded into an ops.Page: the records are read into the
// page's memory and each event's Data aliases its record there, with no
// intermediate form. A Read or ReadAll that lends a page (ops.Read.Page)
// gets its events in that page, valid until the page is used again, and
// allocates nothing per event once the page has grown to the read's size
// (names and types that change from one record to the next excepted:
// one string each). One without a page is read into a pooled page and
// copied out: the events in one allocation, their data in allocations of
// up to 64 KiB. The sorted lists of stream
// names and keys that Streams and KvList page through are rebuilt, on the
// next listing, after a stream or key is added or removed.
//
// The ID index (backends/internal/idindex) decides the rule that an event
// ID is unique within its stream without a scan: a 64-bit hash of stream
// and ID, keyed by the store id, maps to the event's position in one
// 8-byte slot of an open-addressing table, so it holds no IDs. A lookup
// that hits reads the record at that position back and compares stream
// and ID, so a fingerprint collision costs a read, never a wrong answer; a
// miss (every new ID) reads nothing. Commits of one group see the IDs of
// the commits before them in the group from a map beside the overlay.
//
// Only the IDs callers chose take slots. An event appended without an ID
// gets one the store draws from its position: idindex.Drawn, a keyed
// permutation (keyed by the store id) of the position and a 58-bit nonce
// that the first commit after Open needing one draws with io/random, laid
// out as a version-4 UUID. Such an ID names its own position
// (idindex.DrawnPos inverts the permutation), so the index and the
// group's map leave it out, and a lookup of any ID first reads the event
// at the position the ID names, when the log has reached it, and compares
// stream and ID there. Which events are indexed is decided by the IDs in
// the log alone (an ID that names its own position is not), so recovery,
// a checkpoint and Verify agree. Drawn IDs are distinct from each other
// for distinct positions and nonces; without the store id they look like
// random version-4 UUIDs; two copies of one store directory draw
// different IDs once reopened, as each open draws its own nonce. A
// caller-chosen ID collides with an ID the store draws later only if it
// names that very position under that very nonce: for an ID drawn at
// random and a log of up to 2^40 events, one chance in 2^82 (58 nonce
// bits, and 24 of the 64 position bits must be zero), where two random
// version-4 UUIDs collide with one chance in 2^122. One who knows the
// store id and has seen a drawn ID can aim at a later one; that is not
// checked, and a lookup of the ID then finds the first of the two events.
//
// Measured with one million one-event commits (BenchmarkIDIndexHeap, the
// log on the mock platform): the in-memory state takes 35.5 bytes per
// event with drawn IDs, 52.3 with IDs the caller chose and 35.5
// with those and no ID index; the index's slots take 16.8 bytes per
// event with caller IDs (between 10.7 and 21.3 as its table fills and
// doubles, and twice that for an instant while it doubles) and none with
// drawn ones. Batched commits need far fewer location entries; the ID
// index takes the same per event, but only for the events of the
// segments a checkpoint has not put into index files of version 2: those
// lie in the files, with a filter of 1.25 bytes per entry kept in memory
// within Options.IDFilterBytes (see Segment index files).
//
// While a store checkpoint is written, the view it was captured as (a
// copy of the key map and of the stream heads, then of the ID index's
// current table) and the encoded file are held beside the index.
//
// # Store checkpoints
//
// A checkpoint holds the whole in-memory index (stream heads and record
// locations, the position index, kv entries, counters, the ID index) as of
// the end of one record, with that record's segment, end offset, CRC and
// LSN, where that record starts and the CRC-32C of its segment's bytes up
// to its end, and the store id: the magic "persistC", the format version
// (uint32, 11), four zero bytes, the body length (uint64), the body
// (uvarints; the record's start a uvarint after its LSN, the segment
// checksum 4 bytes after that; after the counters the segment index files
// it names (count, then per file: segment as a delta, first position,
// last position, position entries, stream entries, header checksum as 4
// bytes); per stream after its head its runs (count, then per run: seq
// delta, segment delta, first file entry, entries); record locations of
// the segments not indexed delta-encoded; the ID
// index after the kv entries, as idindex AppendSlots writes it: per table its base, size,
// position bits, entry count and last position, and its slots as they lie
// in memory, 8 bytes each, 10.7 to 21.3 bytes an indexed event, so that
// Open loads it with a copy and a check of every slot, not an insertion
// per event), the retention section (format 5, below), the
// CRC-32C of everything before it, and "pers". It is written like a
// snapshot (tmp, fsync, rename, directory fsync), after which all but the
// newest two are deleted, by Close, and once Options.CheckpointBytes of
// log followed the last one. The ID index holds only the events whose IDs
// do not name their own position (see above): a checkpoint whose ID index
// holds more entries than events, or an entry past its last position,
// does not validate.
//
// Writing a checkpoint makes no writer wait. The leader whose group made
// one due marks it in progress, hands the leadership on and answers its
// own commit; with Options.Background set (OpenDir sets the operating
// system), a goroutine of the store's own captures the index, beside the
// leaders that follow, and writes it on a handle over Background. The
// capture is an immutable view, cheap: the position index and every
// stream's record locations only grow by appending, so the view keeps
// their lengths; kv entries are replaced by a commit, never changed, so
// the view keeps a copy of the key map, not of the values; of the ID
// index it takes a mark (idindex Mark, constant time). So the capture
// costs a copy of the stream heads and of the key map: 0.5-0.8 ms with
// 10,000 streams and 5 M events on this project's 2-core test machine
// under load, when it copied every stream's head (format 11); from
// format 12 it copies only those the stream runs do not hold whole (see
// Stream run files, Capturing). The heads go into the array the checkpoint before gave
// back, cleared when it ended (ckStreams; one array of about 80 bytes a
// stream, kept between checkpoints, made an eighth larger than the
// stream count when it is too small, so that a store that makes streams
// as it goes grows it once every many checkpoints): into a fresh one,
// the zeroing of its 800 KB and the write barriers of new memory during
// a collection made the capture of 10,000 heads three times as long
// (1.7 ms against 0.5 ms at load 7; BenchmarkCheckpointParts times
// both, capture and capture-kept). It is taken under the state's read
// lock, as of the last published group: a leader publishes a group's records, the end of the
// log (segment, offset, checksum, the last record's start, the segment's
// running CRC-32C) and the index together under the write lock, so the
// view and its resume point agree, and a leader waits for a capture only
// if it publishes meanwhile, for the rest of it. The drop the last
// checkpoint left is applied by the leader that marks the new one, which
// owns the log; none is pending during a capture, since only a
// checkpoint makes one. The goroutine then copies the ID index as of the
// mark (idindex CopyAsOf: 32 Ki slots at a time under the index's read
// lock, which commits take exclusively only to publish a group), encodes
// the view and writes it in pieces of 256 KiB, each synced (fdatasync)
// before the next is written: the commits' fdatasyncs wait in the
// device queue, and on ext4 for the journal commit that carries the
// file's data, behind one piece at most, never one flush of the whole
// file. All its long work is done in such pieces, with a rest between
// two (the checkpoint's pacer): reading a sealed segment for its ID
// entries (256 KiB a read), encoding the checkpoint (after each 256 KiB
// of it), writing and syncing its segment index files and kv run (256
// KiB a piece). After each piece it waits until the next group is
// published (2 ms at most) and until twice as long as the piece took
// has passed since it ended (10 ms at most; the wait for the group
// counts toward it), and once after sorting the stream names,
// so that beside commits it takes about a third of the device and of a
// core at most, however slow a loaded machine makes its pieces; it
// holds no lock commits take across a piece. So a checkpoint takes
// about three times as long as its work does. Close waits
// for it before it writes its own checkpoint and releases the files, and
// Compact before it writes its own: while either waits (or the store is
// closing) it rests no more, its remaining pieces back to back, so that
// neither waits for its rests as well as its work.
// Without Background the leader captures the view while it still
// leads, hands the leadership on, and writes the view on its own handle
// before its own commit returns (in pieces of 4 MiB, unpaced), as
// Compact and Close write theirs. One checkpoint at a time is written
// (a leader finding one in progress marks none). Its rename is done
// under the index's read lock, after a look at the failed state, so that
// a store that failed meanwhile renames none; its other IO holds nothing
// commits or reads need.
//
// Within a piece, the checkpoint's computation (the encoding, the sorts
// of the stream names, the decoding of a sealed segment's records for
// their ID entries, a tick a record) yields the core every 100 µs (runtime.Gosched,
// through ckptSlicer; it returns at once when no goroutine waits), since
// the pieces are a millisecond of a core or more and, on a machine of few
// cores, the writer handed the leadership meanwhile waited for a core
// until the piece ended: measured per phase at 5 M events (load 2.3), a
// piece took 0.7 ms at the median and up to 28 ms, the sort of 10,000
// names 4 to 9 ms, and the scheduling latency p99 of the run's goroutines
// rose from 1.3 ms to 3.2 ms while checkpoints were made (what
// BenchmarkScaleCheckpoint reports as sched-p99-plain-us and
// sched-p99-ckpt-us, to a bucket of the runtime's histogram), where the
// log's fdatasync p99 rose only from 1.1 to 1.6 ms and the collections
// were as many. And it rests after a piece only while a commit is in flight (a
// leader writing a group, or a writer queued: commitsWaiting): with none,
// the rest would wait up to 2 ms for a group that is not coming; a commit
// that arrives meanwhile finds at most one piece ahead of it.
//
// A checkpoint that fails removes its temporary
// file, best effort (the next Open deletes one left), and the next due
// one tries again; the log stays the truth. Stats counts the checkpoints
// commits made due (Checkpoints), those that failed
// (CheckpointFailures) and keeps the last one's error
// (CheckpointFailure, nil after a clean one). What a checkpoint still
// takes from commits is the machine's: CPU for the encoding and device
// time for the file, about a third of either at most (the pacer above).
//
// Measured with BenchmarkScaleCheckpoint (64 writers of one-event
// commits to 10,000 streams of a 5 M event store; six runs of each
// version, alternating, on 2 cores shared with other work at load 8 to
// 13): with a checkpoint every 1 MiB of log, the p99 of the commits that
// overlapped one was 1.34x to 3.35x the p99 without, median 1.76x
// (before: 2.9x to 5.7x, median 4.2x, when the leader captured while it
// led, wrote on its own commit and flushed the file at once), their p50
// 1.0 to 1.7 ms against 0.6 to 1.2 ms without; with checkpoints back to
// back, 1.25x to 3.24x, median 2.07x (before: median 2.8x). A
// checkpoint then takes 35 to 71 ms instead of 22 to 38, most of it the
// pacing of its pieces. On that machine the p99 without a checkpoint
// (9 to 49 ms) is the other work's, and it is what the worst ratios
// rode on. With every long piece of the work paced (reading the sealed
// segment, which took a core for 330 ms at once, encoding, the index
// files) and the rest twice the piece: seven runs of each version,
// alternating, at load 9 to 30: every 1 MiB, 0.83x to 1.31x, median
// 0.95x (the version before, in the same runs: 1.19x to 3.33x, median
// 2.38x); back to back, 0.96x to 1.84x, median 1.17x (before: 1.75x to
// 3.20x, median 2.12x), no run above 2x. A checkpoint then takes 108 to
// 290 ms, and fewer are made back to back (23 to 42 in a run against 77
// to 90). The ratios under 1x are the noise: the p99 without a
// checkpoint was 13 to 85 ms in those runs, the other work's.
// With the computation yielding the core every 100 µs, no rest with no
// commit in flight and the heads captured into a kept array: eight runs
// of each version of 10 rounds, alternating, at load 4 to 14: back to
// back, 1.11x to 1.99x, median 1.31x (the version before, in the same
// runs: 0.93x to 2.17x, median 1.48x); every 1 MiB, 1.06x to 1.68x,
// median 1.39x (before: 1.46x to 2.38x, median 1.70x); no run of the
// new version above 2x, three of the one before. The p99 without a
// checkpoint was 4.5 to 49 ms in those runs, mostly the other work's;
// on a quiet machine (load under 1, p99 without 3 to 7 ms) the version
// before ran at 1.2x to 2.1x.
//
// Format 5 adds after the ID index the retention section, uvarints:
//
//	kv history depth (0: the default), partial (0 or 1), compacted
//	revision, versions kept
//	kv records  count, then per commit record with kv changes, in
//	            revision order: revision delta, location (as the
//	            position index's)
//	keys        count, then per key in byte order: key (length, bytes),
//	            revision count (1 to the depth), revisions as deltas
//	streams     as the metadata section of a commit record above, for
//	            every stream with a state, in byte order; a single 0
//	            when none has one
//
// A checkpoint of format 4 or older (a store from before stream
// metadata, which can hold none) is used as it is: the kv history then
// starts at the checkpoint with each key's current version (partial),
// and its compacted revision is the checkpoint's revision, so a watch
// from before it is refused as ops.CompactedError, never served with a
// hole. Verify requires a format 5 checkpoint's stream states to equal
// the replay's, its kv records too, and each key's revisions to be the
// newest of the replay's (a depth raised since keeps more in a replay).
//
// Format 6 adds the segment index files and runs named above; a
// checkpoint of format 5 or older names none (every location is in it)
// and the next checkpoint writes the files.
//
// Format 7 names a kv run file (see Kv run files) before the kv
// entries: uvarint generation (0: none), and with one its header
// checksum (uint32), entries and keys with a value (uvarints); the kv
// entries then number 0. Without a run the entries are every key, as
// in format 6, which Open reads as before: the next checkpoint writes
// the run.
//
// Format 8 moves the kv history's kept revisions into the kv run: the
// run's entries hold each key's kept revisions (a deleted key whose
// history is kept as an entry without a value), and the keys section of
// the retention section holds only the keys whose revisions the run does
// not (none, as written: a checkpoint merges every changed key into its
// run), its versions kept still counting all keys' (the section's own
// keys count at most as many). A key the section holds takes its
// revisions from there, any other from the run. A format 7 checkpoint's
// section holds every key, so it reads the same way; its run's entries
// hold the current revision only, which the section overrides, and the
// next checkpoint writes every key's revisions into its run.
//
// Format 9 adds after each index file's header checksum a uvarint: 0
// for a file of version 1, else 1 plus its ID entries (version 2 or 3); its
// ID index holds no event of a segment whose file is of version 2 (see
// Segment index files). Formats 6 to 8 name files of version 1 only.
//
// Format 10 names a set of kv run files (tiered runs, see Kv run files)
// where formats 7 to 9 name one: a uvarint count of runs (0: none), per
// run, oldest first and each generation above the one before, its
// generation (uvarint), header checksum (uint32), entries and keys with a
// value of its own (uvarints), then a uvarint of the keys with a value in
// all (runs and the entries that follow; 0 when it names no run, the kv
// entries then counting). A checkpoint of format 7 to 9 is read as
// naming a set of its one run, whose count of keys with a value is all
// keys'; its next checkpoint writes a new run over it as a tier.
//
// Format 11 adds after each index file's ID entries a uvarint: 0 for a
// file of version 1 or 2, else 1 plus its stream directory entries
// (version 3), followed by its name blocks (uvarint); and after each
// stream's runs (which then name files of version 1 or 2 only) the
// newest indexed segment whose file of version 3 holds the stream
// (uvarint, 0: none), which must be a file of version 3 after every
// one its runs name. A checkpoint of format 10 or older is read as
// before: its files keep serving through their runs, the next
// checkpoint writes files of version 3 for the segments sealed since,
// and a stream's chain then ends in a back-link 0 before its runs.
//
// Format 12 names stream runs (see Stream run files) before the streams:
// a uvarint count of runs, oldest first, each once, per run its
// generation (uvarint), header checksum (4 bytes) and entry count
// (uvarint); the stream section that follows holds only the streams the
// runs do not hold whole: those whose head or newest directory the runs
// do not hold as they are, and those with record locations of segments
// not indexed or runs of index files of version 1 or 2 (a stream of the
// section wins over the runs' entry of it; a run never holds a head past
// the checkpoint's). A checkpoint of format 11 or older names no stream
// run: every stream is in its section, and the next checkpoint writes
// them all into a first run.
//
// Format 13 adds, after the stream runs, the count of streams the store
// holds (uvarint): the section's and the runs' together, each once, as
// of the checkpoint's LSN. It is at least the section's count, and
// equal to it when no run is named (else the checkpoint is malformed);
// Verify, which reads every head, checks it.
//
// Format 1 checkpoints (a last event ID per stream, no ID index) are still
// read: Open then decodes the IDs of the records the checkpoint covers
// while it checks their frames, rebuilding the ID index, and the next
// checkpoint it writes is of format 9. Format 2 checkpoints (no record
// start, no segment checksum, the ID index of every event in an encoding
// of entries, a position delta and the hash bits a slot kept, that tables
// without position bits of their own had) are read the same way: what
// they cover is checked as frames and their ID index rebuilt from it.
// Format 3 checkpoints (format 4 without a table's position bits, every
// table's being its size's, and an ID index of every event, drawn IDs
// being random then) are used as they are: such an index is the one a
// rebuild from their log makes, its IDs naming no position of their own,
// and it takes entries as any other; one that does not hold an entry per
// event does not validate.
//
// Open loads the newest checkpoint that validates (falling back to the
// previous one) and replays only the records after it. What it does with
// the records the checkpoint covers is rule 8 of RELIABILITY.md: its work
// is the tail's, not the log's. Under a checkpoint of format 3 or later, of each
// covered segment of version 3 it reads only the header, which must carry
// the LSN and chain that follow the segment before, and then
//
//   - of a segment before the checkpoint's: the seal at its end (the
//     file ends in it, its LSN after the header's, its header LSN and
//     length those of the segment), whose LSN and checksum the next
//     header must follow;
//   - of the checkpoint's segment: the record the checkpoint ends with,
//     which must be where it says, with its LSN and checksum, and end at
//     the checkpoint's offset; the replay after it starts from the
//     checkpoint's segment checksum.
//
// So Open reads a few hundred bytes per covered segment (RecoveryReport
// Trusted counts them) and fails on a missing, swapped, shortened,
// lengthened or foreign segment, or a log that does not reach the
// checkpoint, as before; a damaged record between is left to reads and
// Verify (see Recovery). A covered segment of version 1 or 2, or any under
// a checkpoint of format 1 or 2, has the frame, CRC chain and LSN of every
// record checked (read, not decoded), and the chain must arrive exactly at
// the checkpoint's CRC and LSN. A checkpoint file that does not validate is skipped
// (the previous one, or a full replay, is used). A valid checkpoint that
// the log does not reach or match is ErrCorrupt: it was written only once
// the records it covers were durable, so the log has lost acknowledged
// records (a lost or misdirected write), and a shorter log is never
// served.
//
// # Segment index files
//
// A sealed segment's part of the in-memory index never changes, so the
// checkpoint that first covers a sealed segment moves that part into the
// segment's index file, log/seg-<id>.idx, and keeps in memory only a few
// words per segment and per stream in it. The file holds the segment's
// position run (one entry per commit record with events: its first
// position and offset) and its streams' seq runs (one entry per commit
// record and stream it touches: the stream's first seq there and the
// record's offset; the streams in byte order of their names, each one's
// entries by seq) and, from version 2, its ID entries and their filter:
// one entry per event of the segment whose ID does not name its own
// position (the events the ID index would hold, see Memory), the ID
// index's 64-bit hash of stream and ID and the event's position less
// the segment's first, by hash (then position). All integers
// little-endian:
//
//	offset  size  field
//	     0     8  magic "persistI"
//	     8     4  format version (3; 2 without the stream directory, 1
//	              without ID entries or filter either)
//	    12     4  stream directory entries (D) in version 3; zero before
//	    16    16  store id
//	    32     8  segment id
//	    40     4  entries of the position run (P)
//	    44     4  entries of the stream runs, all streams (S)
//	    48     4  blocks: ceil(P/340) + ceil(S/340), from version 2
//	              + ceil(I/340) + F, in version 3 + ceil(D/127) + N
//	    52     4  CRC-32C of the blocks' checksums, in order
//	    56     4  ID entries (I) in version 2; zero in version 1
//	    60     4  CRC-32C of bytes 0..60: the header checksum
//	    64        blocks of 4096 bytes: up to 340 entries of 12 bytes (key
//	              uint64: position, seq or ID hash; offset uint32: record
//	              offset, or an ID entry's position less the segment's
//	              first), zero padding, and at 4092 the CRC-32C of the
//	              segment id (uint64), the block number (uint32) and the
//	              block's first 4092 bytes
//
// The position entries fill the first blocks; the stream entries start
// at the next block, the ID entries at the block after those, the
// F = ceil(I/3273) filter blocks follow them, and in version 3 the
// stream directory and its N name blocks follow those. Entry i of the file lies in
// block i/340; a stream's entries are named by the checkpoint as a range
// of file entries. The filter is a Bloom filter of the ID hashes, 10 bits
// an entry: each block's first 4092 bytes are 32,736 bits; hash h picks
// block (h>>32)*F>>32 and, with g = h*0x9e3779b97f4a7c15 (mod 2^64),
// a = g mod 2^32 and b = (g>>32) | 1, the 7 bits (a + i*b) mod 32736 for
// i = 0..6 (sums mod 2^32), bit n being bit n%8 of byte n/8; a hash that
// misses any of them is in no entry (under 1% of misses do not). The file
// of version 1 or 2 is a function of its segment and the store id
// alone: a rebuild from the segment gives the same bytes, so the header
// checksum names the content. A compacted segment keeps the IDs of the
// events its gap records replaced, so compaction leaves the file as it
// is.
//
// The stream directory (version 3) has one entry per stream with events
// in the segment, D in all, sorted by the FNV-1a 64-bit hash of the
// stream's name, then by name; 127 entries of 32 bytes a block (zero
// padding, and the block checksum at 4092 as above):
//
//	offset  size  field
//	     0     8  hash of the stream's name
//	     8     8  the stream's first seq in the segment
//	    16     4  its first entry in the file's stream runs (a file
//	              entry index, as the checkpoint named runs by)
//	    20     4  its entries there
//	    24     4  back-link: the previous indexed segment whose file of
//	              version 3 holds the stream, 0 when none does
//	    28     4  where its name begins in the name bytes
//
// The name bytes are the entries' names in directory order, each a
// uvarint length and the name's bytes, laid over the N name blocks 4092
// bytes a block (a name may run on into the next block), zero after the
// last. A back-link is the one thing of the file not in its segment: it
// is the newest earlier file of version 3 that holds the stream, so a
// rebuild of the file from its segment takes the back-links from the
// directories of the files before it (each read whole, newest first,
// until every stream of the segment is found; a bad one rebuilt in turn),
// and gives the same bytes, which the header checksum the checkpoint
// names must confirm. An entry whose stream entries lie outside the
// file's, whose back-link is not below its own segment, or whose name
// lies past the name blocks is ErrCorrupt naming the file and offset.
//
// Writing: a checkpoint captured while segment N is active writes the
// files of the sealed segments before N that the checkpoint before it
// did not name (each to seg-<id>.idx.tmp, paced as the checkpoint is and
// fsynced), renames them into place and fsyncs the log directory, and
// only then writes the checkpoint (format 6 or later) that names them, with each
// file's segment, first and last position, entry counts and header
// checksum, and each stream's runs (per indexed segment it appears in:
// first seq, segment, first file entry, entries) in the files of
// version 1 and 2 and, from format 11, the newest file of version 3
// holding it. It writes files of version 3, in segment order, each
// stream's back-link being the newest of version 3 holding it before. The checkpoint's
// in-memory part then holds only the locations of the segments after
// the indexed ones. Once the checkpoint is in place the live index drops
// the locations the files took over; the group-commit leader (or the
// next capture) does that, since the leader reads the state unlocked.
// Between checkpoints the locations of the segments sealed since the
// last one stay in memory, so that part is bounded by
// Options.CheckpointBytes of log (6 bytes per record and per record and
// stream, and a run of 16 per stream and segment it has records in), not
// by the log.
// Files are never removed; a crash between a file's rename and its
// checkpoint leaves a file that the next checkpoint writes again, the
// same bytes.
//
// The ID entries of a file of version 2 are read from its sealed
// segment (every record decoded, once, by the checkpoint writer, beside
// commits and holding nothing they take, in reads of 256 KiB paced as
// the checkpoint is), since the in-memory ID index
// keeps only the top bits of a hash. The checkpoint that names the file
// leaves its segment's events out of the ID index it holds, and once it
// is in place the live ID index drops them (idindex DropRange, under the
// index's lock, a pass over the slots of the tables of the positions
// since the previous checkpoint's files). Files of version 1, which a
// checkpoint of format 8 or older named, stay as they are, and the ID
// index keeps their segments' events.
//
// Reading: Open reads no index file. A read of stream seqs that lie in
// indexed segments of version 3 walks the stream's chain: from the
// newest indexed segment holding it (which the checkpoint names) back
// along the back-links, a directory lookup in each (the hashes are
// uniform, so the search starts at entry hash*D/2^64, bounds the
// entries of the hash by steps of a block doubling each time, then
// searches between them by halving: most lookups read one block; where
// two or more entries have the hash, their names are read and compared,
// so that streams of one hash are both found, and a lookup that is not
// a step of a chain, as Verify's, compares the name always), until the
// segment whose first seq is at most the
// first seq read; the seqs before the oldest file of version 3 lie in
// the runs of files of version 1 or 2. Each link is checked before it
// is followed: it must name an earlier indexed segment with a stream
// directory that holds the stream with a first seq below the one of
// the segment linking to it, else the read is ErrCorrupt naming the
// linking file and the entry's offset; the segments strictly fall, so a
// walk ends. The steps taken, (segment, stream) to the stream's entry
// there, are kept in a cache of a quarter of Options.IndexCacheBytes
// (none when it is negative; first in first out, about 100 bytes and
// the name a step); index
// files never change once a checkpoint names them (a rebuilt one has
// the same bytes, compaction and retention leave them as they are), so
// no step goes stale. A read of a stream's last events, which lie after
// its indexed segments, walks nothing.
//
// A read that needs a location in an
// indexed segment opens the segment's file on first use and checks its
// header against what the checkpoint names (magic, version, store id,
// segment, block count, ID entries, header checksum) and its size
// (header and blocks, so that a cut anywhere is found then), reads the
// 4 KiB blocks a
// binary search over the entries needs, checks each block's checksum,
// and keeps checked blocks in a cache of Options.IndexCacheBytes
// (default 4 MiB, first in first out). The record an entry names is
// read and checked as any other (frame, segment, the seq or position it
// must hold), so a wrong entry is an error naming the segment file and
// offset, never wrong events. A file that is missing, cut short, does
// not validate, or is not the one the checkpoint names is rebuilt from
// its segment (every record read and decoded), in memory; the rebuilt
// index must have the header checksum and counts the checkpoint names,
// or the read is ErrCorrupt. The next checkpoint rewrites a rebuilt
// file. Verify checks every file the checkpoint names against the index
// the full replay builds for its segment (VerifyReport.Indexes) and
// lists the missing or damaged ones (VerifyReport.IndexesBad) without
// failing, since reads repair them; a checkpoint naming a file the log
// does not build is ErrCorrupt. For files of version 2 its replay
// collects the ID entries of their segments (16 bytes an entry, held
// until the checkpoint's record) to build the files whole, and the ID
// index the checkpoint holds must be the replay's without those
// segments' events.
//
// A lookup of an ID (the event-ID rule, see Memory) asks the ID index in
// memory, then the files of version 2 or 3, newest first (those of
// segments the stream is not in too: their filters answer without a
// block read, where finding the stream's segments would walk its
// directories), until one could no longer hold a newer event
// than a hit found: of each, the filter, and when it may hold the
// hash, a binary search of the ID entries through the block cache; each
// hit is confirmed by reading the event, as any ID index hit is. A new
// ID thus costs no entry block read in most segments.
//
// The filters kept whole are bounded by Options.IDFilterBytes (default
// 16 MiB: the filters of about 13.4 M ID entries; negative keeps none).
// A file's filter is read whole (its blocks checked) on its first lookup
// and kept when it fits beside those kept before it; a kept filter stays
// while the store is open (index files never change, see below). The
// filter of any other file is probed where it lies: a hash's 7 bits are
// in one block, so a probe asks the index block cache for that block
// and tests the bits in place under the cache's lock (recCache.test, no
// copy); a block the cache lacks is read into a pooled buffer, its
// checksum checked, and put into the cache. So a probe costs at most
// one block read, and the filters' memory is the bound plus the share of
// Options.IndexCacheBytes their blocks take. Which filters are kept
// depends on the order of lookups alone: the first lookups after Open
// ask the newest files first, so the files newest then are kept until
// Close, and a file a checkpoint indexes once the bound is full is
// probed however new it is. A filter or entry
// block that is damaged is rebuilt from its segment as any block (see
// below); when the segment does not rebuild the file, the lookup fails
// with a *CorruptError naming the index file and the block's offset, and
// the append is refused.
//
// A lookup asks every file of version 2 or 3 back to the hit (every
// file, for a new ID): its work grows with the files, at 10 M events 43
// filter probes. Asking only the files of the segments that hold the
// stream (walking its directory chain) was built, measured and dropped:
// in a store whose streams are written throughout (the scale stores:
// every stream in every segment) the chain is every file, and each step
// of it is a directory lookup (a chain step cache hit at best, a block
// read at worst: 10,000 streams in 43 segments are 430,000 steps, where
// the step cache holds about 10,000), dearer than the filter probe it
// saves. At 10 M events (BenchmarkScaleOpen, three runs alternated,
// load 1.9 to 3.7) a retry's p50 was 951 to 975 µs by the chain against
// 49 to 58 µs asking every file, and with a 1 MiB filter bound an
// append with a new ID 1.5 to 4.0 ms against 0.22 to 0.66 ms
// (BenchmarkOpenIDs, load 2.4 to 5.3).
//
// Measured (BenchmarkScaleOpen with PERSIST_SCALE_IDS=1 and
// BenchmarkOpenIDs with PERSIST_BENCH_IDS=1, at 10 M one-event commits
// with caller IDs, 43 and 40 index files, the bound given by
// PERSIST_ID_FILTER_BYTES; three runs each,
// alternated with the version that kept every filter, load 3.8 to 4.4):
// after 2,000 retries of stored IDs spread over the log the heap is
// 26.7 MiB with every filter kept (the default bound, as before),
// 18.8 MiB with a bound of 4 MiB, 15.7 MiB with 1 MiB and 14.9 MiB with
// none kept; the peak resident 101 to 104 MiB, 87 to 89, 80 to 81 and
// 79 to 80 MiB; after BenchmarkOpenIDs's appends 25.3 against 14.3 MiB
// of heap with 1 MiB, 73 against 50 to 56 MiB peak. The bound costs time: with 1 MiB a
// retry's p50 is 82 to 99 µs against 53 to 64 µs (1.5x), an append with
// a new ID 309 to 351 µs against 215 to 258 µs (1.3x to 1.5x), its
// probes reading filter blocks through a 4 MiB index block cache that
// the filters of 10 M entries (12.5 MiB) do not fit; with 4 MiB a
// retry's p50 is 64 to 68 µs against 60 to 63 µs, with none kept 91 to
// 98 µs; with the default bound the figures are those of the version
// before within noise.
//
// Measured (BenchmarkOpenIDs: 10 M one-event commits of 200 bytes to
// 10,000 streams, every event with a caller ID, default options, each
// open in a fresh process, on the 2-core test machine at load 2.7 to
// 5.4, against the ID index in memory and in every checkpoint): Open
// 100 to 254 ms against 409 to 729 ms; heap after Open 27.9 MiB against
// 151.9 MiB; peak resident after Open 62 to 66 MiB against 326 MiB.
// After 4,000 appends, which load the filters of all 40 segments (12.5
// MiB), the heap is 43.8 MiB and the peak 108 to 118 MiB (the garbage
// collector's headroom). An append with a new caller ID, one durable
// commit, has a p50 of 193 to 243 µs against 178 to 270 µs; a retry of
// a stored ID 42 to 45 µs against 22 µs: the filters, two or three cold
// blocks of ID entries and the record, where the in-memory index read
// the record alone.
//
// What stays in memory per indexed segment is one segIdx (56 bytes) and,
// once looked up, its filter (1.25 bytes per ID entry); per stream its
// index entry (72 bytes with its newest directory, beside the map's
// entry and its name), and per indexed segment of version 1 or 2 it
// appears in one run (24 bytes); the ID index holds only the events
// after the last file of version 2 or 3; the kv keys a checkpoint
// covers lie in its kv run file (below). So, the caches aside, memory
// grows with the streams (147 bytes a stream at 100 k streams, 157 at
// 10 k, 16 more than before the 6-byte tail locations, whose list
// header is two slices, not one; names of 11 to 12 bytes included: BenchmarkStreamHeap, the
// stream's index entry, its name and the map's slot; the sorted list of
// names a listing builds is more), with the segments (56 bytes each), and with the log written
// since the last checkpoint (6 bytes per record and per record and
// stream, 16 per stream and segment for its run, so 22 for a stream of
// one record in the tail; the ID index's slots for caller IDs), which
// Options.CheckpointBytes bounds (default 64 MiB: with the stream
// directories a checkpoint of 10,000 streams is a few MiB at most, so a
// checkpoint every 64 MiB of log costs a few percent more writes, and it
// bounds both the tail Open checks after a crash and the memory that
// tail's index takes); not with the indexed log. The caches
// are bounded by their options: Options.ReadCacheBytes (default 32 MiB)
// of records, Options.IndexCacheBytes (default 4 MiB) of index blocks,
// and a quarter of that again of directory chain steps (on the heap,
// each counted at 224 bytes and its name, what its map slot with the
// map's slack and its place in the eviction order take at worst, the map
// remade after each round of evictions; 1 MiB holds about 4,400 steps of
// names of 12 bytes), and Options.IDFilterBytes (default 16 MiB)
// of ID filters kept whole (1.25 bytes per ID entry of the indexed
// segments; beyond it filters are probed through the index block cache,
// see Segment index files).
//
// Measured (BenchmarkScaleOpen: 10 M one-event commits of 200 bytes to
// 10,000 streams, 2745 MiB of log in 43 segments, default options, each
// open in a fresh process, on the 2-core test machine at load 17 to 20,
// three runs alternating with the version before the stream
// directories, each on a store it built): with no tail, heap after Open
// 9.1 MiB against 23.6, peak resident after Open 23.0 to 23.3 MiB
// against 46.6 to 47.9, after reading every stream's last 10 events 66
// to 71 MiB against 88 to 91, Open's CPU 21 to 32 ms against 74 to 88;
// with the tail the builder leaves (675 k events after the last
// checkpoint), heap 34.7 MiB against 47.5 and peak 92 MiB against 100
// (one run each). The files of version 3 are 6.0 MiB each against 5.6.
// BenchmarkTailRead (5 M one-event commits, 22 segments, load 18 to 20):
// a stream's last 10 events, p50 9 to 18 us against 13 to 15 (they lie
// after the indexed segments: no walk); a cold first read of a stream's
// first 10 events, which walks its 21 or so directories, p50 65 to 90 us
// against 26 to 35, p99 6 to 14 ms against 1 to 3.4: one index block
// read per directory the walk passes, where the runs were in memory.
//
// The default Options.CheckpointBytes went from 256 to 64 MiB with the
// stream directories. Measured on the same code with each default, each
// on a 10 M store it built (load 5 to 6): the tail a killed writer leaves
// went from 675 k to 209 k events, Open with it from 0.84 to 1.32 s to
// 0.25 to 0.35 s, heap after Open from 34.7 to 11.0 MiB, peak resident
// after Open from 79 to 96 MiB to 45.5 to 48.1 and after reading every
// stream's last 10 events from 107 to 118 MiB to 67 to 68; with no tail
// nothing changes (23.3 to 23.4 MiB after Open, 62.4 to 64.5 MiB once
// the read cache is full).
//
// Issue 12's memory figures with the fixes named under Memory above
// (BenchmarkScaleOpen, default options, each version on stores it built,
// runs alternated, load 6.8 to 14; peak resident in MiB after Open, after
// reading one stream's last 10 events, after reading every stream's last
// 10 events; main before them against now):
//
//	events  tail      after Open            after one read        after every stream's
//	1 M     none      16.9-17.0 / 16.2-16.3 17.4 / 16.3-16.8      69.9-73.4 / 56.5-57.9
//	1 M     65 k      34.0 / 20.9-21.1      33.9 / 21.1-21.4      75.9 / 57.0-57.8
//	10 M    none      23.2-23.5 / 22.4-22.7 23.4-23.6 / 22.5-22.8 62.6-63.6 / 59.5-60.2
//	10 M    209 k     44.4 / 31.1-33.4      44.2 / 31.3-33.4      68.9 / 62.2-64.9
//	50 M    none      - / 19.3-19.4         - / 19.3-19.5         - / 54.5-56.4
//	50 M    127 k     - / 27.0-27.2         - / 27.0-27.2         - / 56.1-58.4
//
// Heap after Open: 1 M 4.6 / 3.6 MiB, 10 M 9.15 / 8.13 (with the tail
// 11.0 / 10.0), 50 M 5.7 (6.35). The peak no longer grows with events:
// what differs between sizes is where the active segment is (its
// location entries) and the tail. Open's CPU with the tail of 10 M: 353
// ms / 191 ms (load 9 to 13); with none 26 to 27 ms / 23 to 26 ms (load
// 6.8). The cold first reads of BenchmarkTailRead (1 M events, load 7 to
// 8, three runs each) that walk the directories went from a p50 of 54 to
// 57 us to 21 to 22 and a p99 of 0.8 to 3 ms to 0.1 to 0.24 ms; the p50
// of the last 10 events stayed 13 to 14.5 us. At 10 M with the tail the
// peak is at the target's edge: the 64 MiB are the read cache's 28.6,
// the test binary's 8.7, about 6 of runtime and file mappings and 21 to
// 22 of heap for 10 MiB live, most of it the 32 bytes of location
// entries per record of the log no index file holds yet (the active
// segment and the tail since the last checkpoint). Kept since as 6-byte
// entries in runs (see Memory above), they take 12 bytes a one-event
// record, with no doubling slack (BenchmarkScaleOpen, runs of main and
// of the change alternated on stores each built, load 9 to 14; three
// opens each): at 10 M with the tail of 208 k events, heap after Open
// 10.06 / 4.55 to 4.65 MiB, peak after Open 30.8-35.0 / 22.8-26.1,
// after reading every stream's last 10 events 64.2-68.2 / 54.2-56.3; at
// 10 M with none, heap 8.16 / 4.36, peaks 22.5-22.8 / 18.4-18.9 and
// 60.5-63.1 / 53.9-56.3; at 1 M (tail of 65 k) heap 3.99 / 2.77-2.81,
// peaks after the reads 56.9-62.7 / 54.0-58.4, and with none 55.8-59.2
// / 54.8-57.1. Open's time did not move beyond the noise of that load
// (10 M with the tail 112-328 / 124-399 ms). The peak at 10 M after
// the reads is now the read cache's ring 28.6 MiB and its index table
// 2.0 (both follow Options.ReadCacheBytes), the heap's resident 10.6 to
// 12.8 MiB, the test binary's 8.7, the collector's metadata 2.5, the
// profiling buckets 1.4 and file mappings 1.3 to 1.5. The heap is about
// two and a half times the live 4.4 MiB after Open (GOGC=100 lets it
// reach twice what is live, and the events the reads return, 3.7 KB a
// read, are the garbage that fills it): of what is live, 2.7 MiB are
// the location entries of the active segment (210 k records) and about
// 1.5 the index of 10,000 streams (157 bytes each). The reads
// themselves add the ring's pages (28.6), its index table (2.0) and the
// collector's headroom on their garbage (4 to 5 MiB); nothing else grew.
//
// # Kv run files
//
// The kv keys a checkpoint covers lie in a set of kv run files (tiers),
// log/kv-<lsn>.run (<lsn> that of the checkpoint that wrote it, 16 hex
// digits), oldest first; a key's entry in a newer run wins over the
// older runs'. The in-memory index keeps only the keys changed since the
// newest (a delete as an entry that shadows the runs'), each run's
// sparse index (one entry per 4 KiB block: its first key, offset, size
// and checksum) and a count of keys with a value. All integers
// little-endian:
//
//	offset  size  field
//	     0     8  magic "persistK"
//	     8     4  format version (3; 1 and 2 still read)
//	    12    16  store id
//	    28     8  generation: the LSN in the name
//	    36     8  last kv revision the run includes
//	    44     8  entries
//	    52     8  offset of the sparse index
//	    60     4  header checksum: CRC-32C of bytes 0..60, then of the
//	              sparse index's length and the count of entries with a
//	              value (uint64 each)
//	    64        blocks, one after the other: entries, in version 3 then
//	              the entry table (each entry's offset in the block,
//	              uint16, in key order, the first 0; then their count,
//	              uint16), then the CRC-32C of the generation (uint64),
//	              the block number (uint32) and the entries (and table)
//	              history blocks (version 2), numbered after the entries'
//	              blocks, checksummed alike
//	              filter blocks (version 2, a run that is not the oldest
//	              of its set): 4096 bytes of Bloom filter bits each, then
//	              the CRC-32C as for a block, numbered after the history
//	              blocks
//	              the sparse index: uvarint block count, then per block
//	              its first key (uvarint length, bytes), its offset as a
//	              uvarint delta from the previous block's (from 64), its
//	              size with the checksum (uvarint) and that checksum
//	              (uint32); version 2 then has the uvarint count of
//	              history blocks, per block the revision of its first
//	              record as a uvarint delta from the previous block's
//	              first (from 0), its offset as a uvarint delta from the
//	              block before (an entries' block for the first), its size
//	              (uvarint) and checksum (uint32), then the uvarint count
//	              of history records and the revision of the last (0
//	              without), then the uvarint count of filter blocks and
//	              each one's checksum (uint32); then the CRC-32C of the
//	              sparse index
//
// An entry is the key (uvarint length, bytes), a flag byte (1: the key
// has a value, 0: a deleted key whose history is kept), the revision of
// the value (of the delete, without one; uvarint), the value (uvarint
// length, bytes) when it has one, and the key's kept history revisions,
// oldest first (uvarint count, then uvarint deltas; at most the depth
// the run was written with, the last at most the entry's revision; a
// run named by a format 7 checkpoint holds the current revision only,
// its checkpoint's section the history). An entry with neither a value
// nor kept revisions (flag 0, revision count 0) is a tombstone: the key
// was deleted at that revision and its history is gone; it hides the
// key's entries in the older runs of the set. Version 1 has no
// tombstones (Verify refuses one there): it was written as the only
// run. Keys are in byte order, each once. A block ends before an entry
// that would take it past 4096 bytes with its checksum (and, in version
// 3, its table with the entry's offset), unless it is the block's first:
// an entry longer than a block has a block of its own, so every offset
// but a first entry's 0 is below 4096 and fits its uint16.
//
// The entry table (version 3) lets a lookup search a block rather than
// walk it: an entry stands alone (its key is written whole, with no
// prefix shared with the entry before), so every entry is a restart
// point, and a kv-get does a binary search over the table, decoding the
// keys it compares (about 6 in a block of 50 entries) and then the one
// entry it takes, which must end where the next entry's offset (or the
// table) begins. A run of version 1 or 2, and a stream run (whose
// format keeps the blocks of version 2), is walked entry by entry up to
// the key as before. A scan (a fold, Verify, a kv-list past the first
// block of each run, whose first entry at or after the page's start the
// table's search finds) walks the entries and leaves the table alone. A table takes 2 bytes an entry and 2 a
// block (an entry of a 13-byte key and a 40-byte value takes some 60
// bytes: 3% more blocks). Verify requires each block's table to give
// the offset of each of its entries, walked one by one, and their count;
// a table that does not is a CorruptError naming the run file and the
// block's offset. A lookup in a block whose table points outside its
// entries, or whose entry does not end at the next offset, is one too.
//
// The filter (version 2) is a blocked Bloom filter of the run's keys,
// written by a checkpoint into every run it writes but one that becomes
// the oldest of its set (which a lookup reaches last, so a filter would
// spare it nothing): 10 bits a key for at most the keys it may hold (the
// changes and the folded runs' entries, at least one block); a key's 7
// bits all lie in one block, chosen by the high 32 bits of the key's
// 64-bit FNV-1a hash modulo the block count, bit i of them at (lo + i *
// (hi | 1)) mod 32768 (lo and hi the hash's low and high 32 bits), bit b
// of a block being bit b mod 8 of its byte b / 8. A kv-get reads the
// filter block of a run (through the block cache) before its entries,
// and takes a clear bit for a key the run does not hold; Verify requires
// every key's bits set.
//
// A history block (version 2) holds kv history records, each where the
// commit record of one kv revision lies (see Kv history), in rising
// revision order: the revision as a uvarint delta from the block's
// previous record (the first from 0), the segment as a uvarint delta and
// the offset as a uvarint, a delta when the segment is unchanged (as the
// checkpoint's locations); a block ends as an entries' block does. Each
// run holds the records of a range of revisions, an older run of the
// set the lower ones; memory and the checkpoint's kv history section
// hold only the records after the newest run's (all of them while no
// run holds one, as a version 1 run holds none). A checkpoint that
// writes a run puts into it the records of the runs it folds, then
// those memory holds up to the revision it covers; the live index then
// drops them from memory. A kv-history finds the record of a revision
// in memory when it follows the runs', else in the history block of the
// run whose range holds it (a binary search over the blocks' first
// revisions, one block read through the block cache); a kv-watch reads
// the runs' records from its revision on, then memory's. Open requires
// each run's records to follow the older run's and the checkpoint's to
// follow the newest run's (else it passes the checkpoint over); Verify
// reads every history block (order, each block's first revision, the
// count and last revision against the index) and compares all records
// with the replay's.
//
// Writing: a checkpoint with kv changes since the last (format 10)
// writes one new run, of the keys changed since, folding into it the
// newest runs of the set it started from that the tiering takes
// (kvFoldCount, size-tiered): going from the newest, a run is folded in
// while its bytes are at most those the new run holds so far (the
// changes' estimated size plus the runs folded), and then more, newest
// first, until the set holds at most 4 runs, each run folded so also
// adding to what the new run holds, so that the older runs it then
// reaches are folded too (without that, a full set whose newest run had
// outgrown a checkpoint's changes folded that run alone every time, and
// 150 checkpoints of one size wrote 50 times the final set; now 5, and
// 12 at 600 checkpoints: TestKvFoldCountWritesLittle); every run is folded in when
// some key's revisions alone are in memory (below). So a checkpoint
// writes what changed since the last, plus now and then a fold of runs
// of about its size, and rewrites the oldest run, of every key, only
// once the newer ones add up to its size: its cost follows the changes,
// not the key count, and a lookup reads at most 4 runs. The write is
// one pass in key order over the folded runs (their newest entry of
// each key, read past the block cache) and the changes (writeKvRun): a
// changed key's entry, with the kept revisions the history holds for it
// in memory, replaces the runs'; a deleted one becomes an entry without
// a value that keeps its history, or, without history, a tombstone; a
// key whose revisions alone the history holds in memory (those of a
// format 7 checkpoint's section, or trimmed by a lowered depth) has
// them put into its entry; every entry copied from a folded run keeps at
// most the depth's revisions. A fold into the oldest run (no older run
// is left) drops the tombstones, which hide nothing there. The run is
// streamed to kv-<lsn>.run.tmp, its data synced every 4 MiB (every 256
// KiB, paced, by a checkpoint beside commits), its header
// written last and the file fsynced, renamed into place and the log
// directory fsynced; only then is the checkpoint naming the new set
// (per run oldest first: generation, header checksum, entries, its keys
// with a value; then all keys with a value) written, its history
// section holding no key. A checkpoint with no kv change since the last
// names the same set. Once the checkpoint is in place the live index
// takes the set and drops the changes and kept revisions it holds (as
// it drops locations for index files, see above); a store that had no
// run keeps no entry of a deleted key, so a key deleted after the
// checkpoint's revision, before its first run is taken, then gets an
// entry of its delete, which hides the run's value of it. Once a
// checkpoint is in place and the checkpoints before the previous one
// are removed (directory fsynced), the run files older than its new run
// that neither it nor the previous checkpoint names are removed: the
// runs a fold replaced stay until the checkpoint after the fold is
// superseded, so the previous checkpoint still opens. A crash between a
// run's rename and its checkpoint's leaves a run no checkpoint names,
// which Open leaves alone (a later checkpoint of the same LSN writes
// over it) and the next checkpoint's removal takes; a crash during a
// fold leaves a .tmp file, which Open deletes.
//
// Memory of the kv changes: the changes since the newest run (their
// entries, values and kept revisions) are the in-memory part of the kv
// store, a memtable, and Options.KvBufferBytes bounds them in bytes, as
// an embedded database bounds its write buffer, not only through the
// log bytes Options.CheckpointBytes counts: a kv change takes some 50
// bytes of log but, as an entry of the changes, its key and value and
// about 200 bytes of heap more (the map's slot, the entry, the value's
// rounding, the history's slot and revision list: 218 bytes a key
// measured, counted at 200), and again as much again in the collector's
// headroom, so 64 MiB of log was 1.3 M keys and some 600 MiB of
// resident memory before a checkpoint moved them to a run. The state
// counts each entry at its key's and value's bytes plus 200 (kvBytes),
// a key deleted before the store has a run at its key's bytes plus 200
// still (its kept revisions stay until a run takes them), and each kv
// commit since the run at the 16 bytes of where its record lies (the
// history's list of records, which a writer changing a few keys again
// and again grows by one a commit); once a group's commits take the
// count to the budget or over, and the changes hold a key for a run to
// take (commits that changed none leave only their records, which no
// run would take), a checkpoint is due (the same checkpoint
// CheckpointBytes makes due: a run is named only by a checkpoint, so a
// run alone would be lost to Open). The default, 16 MiB (about 66,000 keys of 13 bytes with 40-byte
// values), keeps the changes, the checkpoint's copy of their map and
// its sorted list of them, and the collector's headroom, within some 50
// MiB, while a checkpoint per 66,000 keys adds little to a commit of
// kv changes: its run is written in one pass with the folds the tiering
// takes, whose cost follows the changes (above). Negative leaves the
// changes to CheckpointBytes alone. A checkpoint beside commits lets the
// changes grow while it is written, by the groups committed meanwhile,
// up to twice the budget: a leader whose group takes them there while
// one is being written waits for it to end (its rests stop once a
// caller waits) and has the next one written before it hands the
// leadership on. That is a stall of the writers, as an LSM store stalls
// writes while its memtables are full, and the only one a checkpoint
// beside commits makes: without it a checkpoint that rests for every
// group let writers that outran it keep every key in memory.
// When the live index takes a run it puts the changes after the run's
// revision, and their history, into maps made anew: a Go map never
// gives back the room of what it held. A sealed segment read for its
// index file (to take its ID entries) keeps none of its kv changes.
// Measured (BenchmarkKvReopen's builder: one store, 1,000 keys of 13
// bytes a commit, 40-byte values; the version before against this one,
// each building its own store, alternated, load 6 to 11 on the 2-core
// test machine): 1 M keys, peak resident 675 to 712 MiB against 103 to
// 108, build 9.0 to 14.8 s against 7.3 to 9.8, 112 against 179 MiB
// written; 10 M keys (two runs each, load 6 to 13), peak 1610 to 1696
// MiB against 140 to 146, build 580 to 738 s against 119 to 187 (the
// version before also read every kv look-up of a run from the disk
// once its first checkpoint had written one), 1968 against 3652 MiB
// written. Opening the store so built, in a fresh process, is
// unchanged: heap 0.70 MiB at 1 M keys and 6.9 at 10 M, peak 20 to 24
// and 33 to 36 MiB; at 10 M keys the kv-get p50 is level (cold 6.0 to
// 7.5 us against 6.4 to 7.7, warm 5.6 to 8.0 against 5.0 to 6.1). A kv-get after the open takes a few
// tenths of a microsecond more (p50 cold 5.6 to 6.3 us against 5.0 to
// 5.9 at 1 M keys, warm 4.6 to 5.9 against 3.9 to 4.6): it probes the
// filters of up to 4 runs where the version before had one. A store of
// 100,000 keys of 64-byte values (BenchmarkKvGet) no longer holds them
// all in memory: 1.2 to 1.4 us a get against 0.39 (0.46 to 0.59 with
// run format 3, below).
//
// Reading: a kv-get looks in the changes first, then in the runs,
// newest first, until one holds the key (a tombstone: absent): per run
// a binary search over the sparse index, the filter (the key hashed once
// for the runs of the set, its bits tested where the cached block lies),
// one block read, checked, and kept in a cache of Options.IndexCacheBytes
// (separate from the index files', first in first out), searched in
// place by its entry table (version 3) under the cache's lock, the
// value copied from there into the answer: a get from the runs of a
// block the cache holds allocates its answer and the value, nothing
// else (TestKvGetFromRunsAllocatesAnswerAndValue). A kv-list merges the sorted changed keys
// with a scan of the runs, each from the first block that can hold the
// page's first key, merged by key, the newest entry of a key winning. A commit looks up whether each key it changes had a value
// (KvResult.Existed, the key count, the history) and, for a key whose
// history is not in memory, the revisions the run keeps of it, in the
// same read, before it changes anything, so that a block that does not
// read refuses the commit with the error and changes nothing; recovery
// looks the same up for the records it replays after the checkpoint
// (a block that does not read there passes the checkpoint over, see
// Recovery).
// A kv-history or kv-watch takes a key's kept revisions from memory,
// else from its run entry (the depth's last).
//
// Damage: Open trusts the run a checkpoint names to what the checkpoint
// records of it (rule 8 of recovery, as for the records it covers): it
// reads the header and the sparse index, not the blocks, and requires
// magic, version, store id, generation, the header checksum the
// checkpoint names (which covers the count of keys with a value the
// checkpoint records, and the sparse index's length), the entry count
// and the sparse index's own checksum. So Open's work for kv is the
// sparse index's (about one key and 12 bytes per 4 KiB block), not the
// run's. A run that is missing, cut short, or whose header or sparse
// index is damaged or not the one named, makes Open pass the checkpoint
// over as a damaged one (RecoveryReport CheckpointsSkipped): it starts
// from the one before, or replays the whole log, which rebuilds the kv
// keys, and its next checkpoint writes a good run. An IO error reading
// a run is not damage: Open fails with it, as with one reading the
// checkpoint file, and so does Verify. A block is checked
// (its checksum, seeded with the generation and block number) by every
// read that takes it from the disk; a damaged one is a CorruptError
// naming the run file and the block's offset, for every kv-get, kv-list
// or commit that needs it, never a wrong value, and the checkpoints that
// would merge it fail alike (the log stays the truth); one that the
// replay after the checkpoint needs (a key a record after it changes, the
// trim of a lowered depth) passes that checkpoint over, and every older
// one naming the run, for an older checkpoint or the whole log (see
// Recovery).
// Verify reads every block of every run a checkpoint names (checksum,
// key order, each block's first key against the sparse index, each
// block's entry table against its entries (version 3), the
// counts against the header and the checkpoint): a damaged block of the
// run Open would use is ErrCorrupt naming it; a damaged run of another
// checkpoint is listed under VerifyReport.Skipped. Removing a damaged
// run makes the next Open pass its checkpoint over and rebuild the keys
// from the log. Verify compares the keys of the checkpoint it starts
// from, read from its run, with the full replay's.
//
// Decisions and limits of format 1: a block damaged at rest is found by
// its first read or by Verify, not by Open, which no longer stands in
// for it with the log by itself. The history's record list (a location
// per kv commit record, see Kv history) lies in the runs from version 2
// (history blocks), memory holding the records since the newest run. A compaction reads the oldest kept revision of a key it
// may drop a change of from the run, through a file descriptor of its
// own; a follower's (the planning of its Stat) reads through the
// state's, since a follower takes no run and the writer's checkpoints
// remove the file of the one it opened with. An Open with a depth lower than its checkpoint's reads the whole
// run once, to drop what the depth no longer keeps and raise the
// compacted revision (the keys it trims are held in memory until the
// next checkpoint writes them), and the next checkpoint folds every run
// into one. Verify reads the runs' keys and revisions into memory to
// compare them.
//
// Decisions of run format 2 and checkpoint format 10 (tiers): a run is
// folded by size, not by count or age, so a store whose changes touch
// few keys keeps its oldest run for many checkpoints; a kv-get of a key
// absent from the newer runs reads a filter block of each (at most 3,
// through the block cache; about 1% of absent keys pass a filter and
// read an entries' block too) before the run that holds it, and a
// kv-list merges up to 4 scans. A filter costs 1.25 bytes a key of the
// newer runs on disk, nothing in memory but what the cache keeps. The run a checkpoint
// writes, and a fold's, is written by the checkpoint beside commits,
// holding nothing commits need.
//
// Decisions of run format 3 (entry tables): an entry offset a key rather
// than a restart point every 16 keys, as LevelDB's blocks have, since an
// entry shares no prefix with the one before and so needs no restart to
// decode: a search then decodes one key a step and no entry it passes,
// for 2 bytes a key (a restart every 16 would take an eighth of that and
// walk up to 15 entries). The run's format alone changes: the checkpoint
// names a run as before (its format is in its header), a set may hold
// runs of formats 1, 2 and 3 at once, each read as its own, and a fold
// writes format 3, so a store written before becomes format 3 as its
// runs are folded (TestKvRunV2Store opens one written by the version
// before, from testdata). The version before this one takes a run of
// format 3 for a damaged one (version unknown) and passes over the
// checkpoints naming it, as for any damaged run: it opens a store this
// version wrote from the log (or an older checkpoint). The stream runs keep their format
// (version 1, blocks of kv run format 2, no tables). A kv-get that does
// not find its block in the cache reads it into a pooled buffer, since
// the cache and the answer copy what they keep; a kv-list takes its first
// block of each run from the page's start by the table and decodes no
// kept revisions.
//
// Measured side by side with the version before (each binary on a store
// of its own build, alternated, the 2 shared cores under a load of 4 to
// 7): BenchmarkKvGet (100,000 keys of 64-byte values, one run) 0.46 to
// 0.59 us a get against 0.83 to 1.50, 3 allocations against 5 (the op,
// the answer and its value); BenchmarkKvList (pages of 100 keys) 41 to
// 44 us a page against 46 to 57, 243 allocations against 394;
// BenchmarkKvReopen, a fresh process's kv-get p50 (the runs' pages in
// the OS page cache): 1 M keys cold 4.0 to 4.2 us against 5.2 to 6.1,
// warm 2.6 to 2.7 against 3.7 to 3.9; 10 M keys cold 4.5 to 5.3 against
// 6.4, warm 3.4 against 4.8 to 5.4; peak resident 17.5 to 17.9 MiB
// against 20.3 to 21.8 (1 M) and 26.7 to 26.9 against 31.4 to 33.9 (10
// M); the heap after Open 0.74 MiB against 0.71 and 7.2 against 6.9 (the
// sparse index of 3% more blocks).
//
// Measured with BenchmarkKvReopen (40-byte values, 1,000 keys a commit,
// each Open in a fresh process, on this project's 2-core test machine
// under a load of 3 to 5), against the store that read the whole run at
// Open and held every key's history in memory: 10 M keys open in 19 to
// 22 ms (was 9.0 to 10.0 s), with 7.0 MiB of heap (was 1,005 MiB) and a
// peak resident set of 37 MiB (was 1,747 MiB); 1 M keys in 2 to 4 ms
// with 0.7 MiB (was 0.66 to 0.78 s, 119.7 MiB). A kv-get just after
// Open takes 6 to 8 µs once the run's pages are in the OS page cache,
// and about 77 µs when they are not (Open no longer reads them in). The
// 10 M-key store builds in 164 s writing 1,961 MiB for 535 MiB of log
// (was 229 s and 2,355 MiB), as the checkpoints no longer hold the
// history.
//
// Tiers, measured side by side with the store that rewrote its one run
// at every checkpoint (one run of each, alternating, each store built by
// its own code, on the 2 shared cores under a load of 7 to 13):
// BenchmarkKvCheckpoint, 8 rounds each changing 1% of the keys and then
// making a checkpoint: with 10 M keys a checkpoint took a median of 0.57
// s and wrote 12 MiB (the rounds that fold wrote 12 to 47 MiB, the
// others 6 MiB), where the whole run's rewrite took 15.2 s and wrote 586
// MiB every time; with 1 M keys 41 and 105 ms and 1.2 MiB, against 0.78
// and 1.41 s and 58 MiB. Open stays O(tail) (10 M keys: 24 to 51 ms, 6.9
// MiB of heap, 37 to 38 MiB peak resident; the one-run store 55 to 145
// ms, 7.0 MiB, 38 to 41 MiB). BenchmarkKvCommitsHeap, a million one-key
// kv commits on the mock platform, then Close and Open: the open store
// holds 0.02 MiB of heap and no history record in memory, its checkpoint
// 111 bytes, open in 0.2 ms, where the store that kept the records in
// memory and in every checkpoint held 15.3 MiB, wrote a 2.9 MiB
// checkpoint and opened in 75 to 96 ms. A kv-get over the 4 runs 8
// rounds leave took twice a one-run store's before the filters (10 M
// keys: 18 to 23 µs p50 cold and warm, against 6.9 to 8.2; 1 M keys:
// 10 to 11 µs against 5.3 to 6.3); with them, 1 M keys in three pairs:
// 5.9 µs cold and 6.0 warm (medians), against 5.9 and 5.6, checkpoints
// 35 to 52 ms and 1.2 MiB against 0.81 to 0.87 s and 58 MiB; 10 M keys
// in one pair (load 4 to 8): 12.3 and 10.4 µs against 7.6 and 6.8,
// checkpoints 0.49 s and 12 MiB against 9.2 s and 586 MiB. The round
// that folds three runs into one of 24 MiB took 3.3 to 10.5 s at 10 M
// keys in every run, which the bytes it writes do not explain: a fold
// reads its runs a 4 KiB block at a time, past the cache.
//
// # Stream run files
//
// A stream run file, log/st-<lsn>.run (<lsn> that of the checkpoint that
// wrote it, 16 hex digits), holds stream heads in byte order of their
// names: per stream its head seq and the newest indexed segment whose
// index file of version 3 holds it (where its chain of directories
// begins, see Segment index files; 0: none). It is a run file of the
// kv run files' layout (see Kv run files), read and checked by the same
// code, with these differences:
//
//	offset  size  field
//	     0     8  magic "persistS"
//	     8     4  format version (1)
//	    36     8  the LSN of the last record the run covers (the kv run's
//	              last revision)
//
// and the rest as a kv run of version 2: the entries' blocks, no history
// blocks (count 0, record count 0, last revision 0), always a filter
// (10 bits a stream for at most the streams it may hold, at least one
// block: a lookup of a stream memory does not hold, a commit's to a new
// stream among them, asks the runs for it, and the filter answers for
// each run without a block of entries), then the sparse
// index and its checksum; the header's count of entries with a value is
// the count of entries. An entry is a kv run entry whose key is the
// stream's name, flag 1, revision the head seq (at least 1), value the
// uvarint of the directory segment (its shortest encoding, at most
// 2^32-1, the whole value) and kept revision count 0; Verify refuses any
// other. A stream is never removed, so a run holds no tombstones: a
// stream's entry in a newer run of a set wins over the older runs'.
//
// Writing: a checkpoint (format 12) writes the streams whose head or
// directory changed since the runs were written (a stream's flag,
// cleared by a commit to it, set when the live state takes a run holding
// it as it still is; and the streams whose directory the checkpoint's
// own index files moved) and whose records all lie in index files, those
// of the segments it indexes included, as a new run. A stream with
// records in the active segment (or runs of index files of version 1 or
// 2) lies in the checkpoint's section whole, which wins over the runs,
// and is not written into a run: the runs hold it as it was, or not at
// all, until a checkpoint indexes its records. So a checkpoint writes
// each stream it captures once, into its section or into a run (at 10 k
// streams, all with records in the active segment, it wrote every head
// into both). The new run folds in the newest runs of its set as the kv
// runs' tiering does (kvFoldCount: at most 4 runs), in one pass over the
// folded runs and the changed heads sorted by name. The run is streamed
// to st-<lsn>.run.tmp, its data synced every 4 MiB (every 256 KiB,
// paced, by a checkpoint beside commits), its header written last,
// fsynced, renamed into place and the log directory fsynced, before the
// checkpoint naming it is written; so a checkpoint never names a run
// that is not durable. A checkpoint that writes no run names the set it
// had. The files of runs before it that no kept checkpoint
// names are removed once a checkpoint is in place, whether or not it
// wrote a run (the runs a fold replaced, which the checkpoint before
// kept, and those a crash left before their removal). A stream run keeps
// no file open from its open: the first block read that misses the block
// cache (shared with the kv runs') opens the file on the reader's handle
// (whose handler answers on the store's descriptors, as
// Options.Background must), and the run keeps that one descriptor until
// it is closed, so that a read that misses the cache neither opens nor
// closes the file; so the store holds at most one descriptor a run open
// (a set's 4 at most, the runs a checkpoint replaced until the next one
// closes them, and those a checkpoint writes).
//
// Capturing: a checkpoint captures (copies, sorts and encodes) only the
// streams the runs do not hold whole, not every stream: those without
// the flag, with record locations in memory (chunks; this includes every
// stream the checkpoint's own index files move, since those locations
// lie in the segments they index) or with runs of index files of
// version 1 or 2. The state keeps a list of them (state.ck): apply adds
// a stream it changes that is not listed yet, and the capture walks the
// list, capturing what it must and dropping the streams the runs hold
// whole. Nothing else makes a stream not whole: a checkpoint's drop
// only moves the locations of streams it captured (clearing the flag of
// those whose directory it moves, until the run it takes holds the new
// one), and the live state taking a run only sets flags; and a stream
// leaving memory leaves the list. So the list never loses a stream a
// checkpoint needs, whatever the checkpoint's fate: one that fails, or
// is captured and not written, drops nothing from it but streams the
// runs hold whole. The capture runs as the group-commit leader or
// beside it under the state's read lock; apply and a drop change the
// list only under the write lock, and captures run one at a time. The
// first capture of a state (opened from a checkpoint, replayed or
// decoded, of any format) walks every stream once and makes the list,
// so a store opened from a format 11 checkpoint, every stream without
// the flag, lists every stream until its first checkpoint writes them
// into a run. A capture for an encode as an older format (tests) takes
// every stream and leaves the list as it is. So a checkpoint after
// appends to 16 of 100,000 indexed streams captures those 16 and the
// streams with records in the active segment.
// The list keeps the name order the last checkpoint sorted its streams
// into: the next capture moves the list's entries into that order (a
// copy of 24 bytes a stream under the lock), the streams it drops leave
// the order of the others as it is, and the checkpoint sorts only the
// streams added to the list since and merges them in (then checks the
// order, one comparison a stream, and sorts all of them if it is wrong),
// where it sorted every captured name each time: at 10 k streams with
// records in the active segment the sort was a fifth to a quarter of a
// checkpoint's CPU.
//
// Recovery: Open checks each run the newest valid checkpoint names
// against what it records (header checksum, which covers the entry
// count, and the sparse index) and reads no head into memory (rule 8 of
// recovery: Open does the tail's work). With a checkpoint of format 13
// it asks the runs, through their filters and the block cache, only for
// the streams with metadata, which it brings into memory, and takes the
// count of streams (Stats.Streams) from the checkpoint; the section's
// streams win over the runs and are taken as not held by them as they
// are (their flag unset: they go into the next run written once their
// records lie in index files, which a checkpoint that indexes them
// writes anyway, their directory moved). Before format 13 it also asks
// the runs for every stream of the section (a run holding one at a seq
// past the section's is damage) and counts the streams the runs alone
// hold: a set of one run from its header's count, a set of more by
// reading each newer run's entries and asking the older runs for each
// (at 10 M events in 10 k streams, every one in the section, that was
// 60-80 ms of CPU an Open against none). A run that is missing or damaged there is
// handled as a damaged kv run: the checkpoint is passed over for an
// older one (whose runs the store keeps), or the index is rebuilt from
// the log; an IO error fails Open. Every other block is checked as a
// read takes it (its checksum, seeded by the run's generation and the
// block's number; a stream's directory must be a segment the checkpoint
// indexes with directories): a damaged one is an error (a CorruptError
// naming the run and the block's offset) of every read, commit, listing
// or count that takes it, never an absent stream. A damaged block the
// replay of the records after the checkpoint takes (a stream a record
// appends to, or writes metadata of, that the runs alone hold) passes
// the checkpoint over, with every older checkpoint naming that run, as
// a run damaged at Open does: Open and a follower start from an older
// checkpoint or the whole log, and Verify, which passes it over alike,
// lists the run (VerifyReport.Skipped). A follower keeps its
// runs' files open, since its writer removes them once newer
// checkpoints name others. Verify reads every block
// of every run each checkpoint names (order, filter, counts, header
// checksum, every entry a stream head), and compares the newest
// checkpoint's streams, runs and section together, with those a full
// replay of the log builds.
//
// Lookups: a stream is in memory (state.streams) or the runs alone hold
// it, whole, or the store holds no such stream; every user of a stream
// asks one lookup (memory's, else the runs' head, the filter of each run
// first), so that a stream of the runs is the same to it as one in
// memory: a commit's expected version and head, reads, the retry of an
// append its IDs name, metadata, waits, Stat. A listing merges memory's
// sorted names with the runs' (from the page's start, as a kv listing
// merges the kv changes with the kv runs). The group-commit leader keeps
// the streams its group looked up in the runs and brings them into
// memory as it applies the group, so that a commit to one goes on from
// its run head; a replay brings in the streams of each record before it
// checks it. Once a checkpoint is durable and the live state takes its
// run, the streams the runs hold whole (the flag, no chunks, no runs of
// legacy index files) leave memory, and the capture's list (below), but
// those with metadata: a stream with metadata is always in memory, as
// its metadata is. So memory holds the streams with records in the
// segments not indexed yet, those changed since the last checkpoint,
// those with metadata, and those looked up by commits since it. Streams
// with runs of index files of version 1 or 2 are always in the
// checkpoint's section.
//
// Figures (BenchmarkStreamsCheckpoint: streams of one event each in
// segments of 64 KiB, all indexed, a foreground checkpoint after
// appends to 16 of them; format 11 before, 12 after, alternated on the
// 2-core test machine at load 7 to 10): at 10 k streams the checkpoint
// file 191-192 KB, now 4.3-6.8 KB and a run of 6.0-7.4 KB; at 100 k
// 1.9 MB, now 14-25 KB and a run of 5.5-8.0 KB; at 1 M 19.8 MB, now
// 14.6-16.4 KB and a run of 5.9 KB. The checkpoint's time follows the
// capture and sort of every head, still in memory (21-34 ms before and
// 27-32 after at 10 k; 115-142 and 165-197 at 100 k, the run's file and
// directory syncs added; 1.0-2.0 s and 1.1-1.7 s at 1 M). Open reads the
// heads of up to 4 runs instead of the section: at 1 M streams 1.3-2.2 s
// against 1.6-1.8, heap after Open 145.7 MiB against 145.4, peak
// resident set of the run 566-619 MB against 480-503 (at 100 k Open
// took 245-362 ms against 92-114 in the same rounds, once 104). That was
// the version that read every head into memory at Open. Now that Open
// reads none and a checkpoint drops the streams the runs hold whole
// (same benchmark, load 3 to 7): at 100 k streams Open 6.5-8.5 ms
// against 92-117 before, heap after Open 0.45 MiB against 14.4, peak
// resident set of the process opening the built store 12.9 MB against
// 32.3; at 1 M 178-261 ms against 1,179-1,983, 1.0 MiB against 160.9,
// 17.4 MB against 228.5. BenchmarkStreamHeap (1 M streams, reopened): 1.8 bytes
// of heap a stream against 168.2; BenchmarkStreamHeapLive (1 M streams
// written, two checkpoints after, no reopen): 1.1 against 168.8, one
// stream left in memory (what remains a stream is its share of the
// runs' filters and sparse indexes and of the index files').
// The runs of BenchmarkStreamsCheckpoint's figures held the 16 streams
// appended to, whose records lay in the active segment; a checkpoint
// now writes them into its section alone, and into a run once a later
// checkpoint indexes their segment. Commit latency
// while checkpoints are made beside commits (BenchmarkScaleCheckpoint:
// five million one-event commits in 10 k streams, every stream with
// records in the active segment; before, every head written into a run
// and every name sorted, and after, each head written once and only the
// streams new to the list sorted; alternated on the 2-core test machine,
// 5 pairs each): checkpoints back to back at load 2.8 to 3.6 took 45-81
// ms (median 64) before and 25-56 (median 40) after, the p99 ratio
// 1.53-2.82 (median 1.96) before and 0.94-1.65 (median 1.26) after; a
// checkpoint every MiB of log at load 3.6 to 4.6 took 71-97 ms (median
// 74) before and 29-49 (median 40) after, the ratio 1.92-3.05 (median
// 2.18) before and 0.92-1.55 (median 1.27) after; lower in each pair. At
// load 6 to 7.7 the other load set the p99 of commits without a
// checkpoint too (3.4-94 ms), and the ratios told little apart (back to
// back 0.45-2.90 before, 0.90-1.83 after, 8 pairs).
//
// # Retention and deletion
//
// Stream metadata and deletion (see package ops) are kept in the index
// beside the stream heads, for the streams that have a state only (a map
// that is nil while none has one). A metadata write or delete goes
// through the group-commit queue like a commit: the leader decides it
// (ops.CheckMeta, ops.CheckDelete) against the state the commits before
// it in the group leave, and writes its record in the group's write; its
// answer comes after the fdatasync. The overlay the leader decides
// against is an ops.StreamView, so appends to a tombstone are refused
// (*ops.StreamDeletedError), expectations on a stream that reads as
// absent follow ops, and an event ID whose event is hidden is free again,
// all in the same decision. Max-age is decided against the group's commit
// time, and an event's time is read back from its record when a
// decision needs it.
//
// Hiding is logical: nothing is removed from the log until
// [Store.Compact] runs (see Compaction). A read of a stream starts at
// the first seq its seq-based limits leave visible and leaves out what
// max-age hides, by the clock read once per read; a read of the global
// log leaves out, per event, what the state of its stream hides, with
// each stream's state and head taken once per read. Hidden events count
// against the page's limit, so a page may be short or empty, and Next
// says where to go on. While no stream has a state, reads take the path
// they took before, with one nil check per event: measured with
// instruction counts (callgrind, W4Page: 1000-event reads of one
// stream), 0.6% and 4.0% more instructions per read in two runs, within
// the runs' own spread of 3%; W3 (batched appends) 0.2% more; ReadAll
// pages 1.6% fewer. Streams leaves out the streams that read as absent
// (and lists them, with metadata-only ones, when asked with Deleted).
// Stat counts visible events from the index, reading the records of
// streams with a max-age; its byte figures are the log's.
// BytesReclaimable predicts the CompactResult.Bytes of a Compact run now:
// when some stream has a state, Stat plans as Compact does, reading the
// sealed segments (0 without reading when none has). The filesystem
// frees whole blocks only, so du shows a little less (see Compaction).
// LastCompaction is when Compact last ran in this process, or else when
// the newest compaction that rewrote a segment ran (log/compacted).
//
// Followers apply metadata records as they catch up, like any other;
// they answer the reads and refuse the writes (ErrReadOnly).
//
// # Compaction
//
// [Store.Compact] takes hidden events off the disk without moving any
// record: offsets, LSNs, positions and seqs stay what they were, so
// checkpoints, segment index files, seals and the chain stay valid. It
// reads each sealed segment (never the active one) and finds the runs of
// consecutive dead commit records: records without metadata all of
// whose events are hidden (by the streams' states and the compaction
// floors, max-age by io/clock read once) and all of whose kv changes are
// gone (below). Each run becomes one gap
// record (type 4) at the run's first offset, with the frame's LSN and
// chain those of the run's first record; the rest of the run is left
// unwritten, a hole the filesystem does not store. Its payload, with
// uvarints:
//
//	span       bytes from the gap record to the next record
//	last crc   CRC of the run's last record: the chain of the next record
//	sum        CRC-32C of the segment's original bytes up to the run's end
//	records    count (at least 1), then per record replaced:
//	    offset   from the gap record (0 for the first)
//	    commit   uvarint length, the record's commit payload with every
//	             event's type and data emptied (its time, positions,
//	             stream, seqs and IDs kept) and every kv change's value
//	             emptied (its revision, key and operation kept)
//
// A kv change is gone when it is superseded and out of reach: below its
// key's oldest kept version (Options.KvHistory), at or below the
// revision history has compacted (so no watch reads it: a delete of an
// absent key makes no version), and the key's oldest kept version is at
// or below the kv revision of every checkpoint file in the log (read
// from the files' headers; one that does not read as a checkpoint stops
// any kv change from going). No checkpoint then lies between a gone
// change and the change that superseded it, so every checkpoint Open
// could fall back to already holds the newer value, and a full replay
// (Verify, or Open with no checkpoint left), which applies the skeleton
// with its value empty, holds the same as each checkpoint at its LSN:
// the superseding change follows before any checkpoint. With no
// checkpoint file at all nothing bounds it (a checkpoint written later
// covers all the compaction saw). History that began at a checkpoint of
// format 4 or older (partial) takes no kv change. A history depth raised
// later, replayed in full with no checkpoint, would reach for a value a
// gap took: history keeps more only from then on (see Kv history), and
// such a read is refused with an error naming the revision a compaction
// took.
//
// The replaced records take the LSNs from the gap's on. Replay (Open,
// Verify, a follower, an index file rebuild) applies each replaced
// record at its own offset from that skeleton, so the index it builds is
// the one the original records build, and goes on after the span with
// the chain and segment checksum the gap names; the seal's checks hold
// as before. A scan moves past a gap by its span.
//
// The file log/compacted (magic "persistK", version uint32 1, four zero
// bytes, body length uint64, body, CRC-32C of all before) holds the time
// of the compaction that wrote it (varint, Unix nanoseconds), the
// floors, per stream the first seq a compaction left (count, then name
// and floor, in name order), and per rewritten segment the byte ranges
// its gaps cover (count, then segment, ranges count, start and end).
// Reads never reach a gap: a stream read starts at the floor, a read of
// the global log leaves out the records whose location lies in a gap
// (counted as hidden), the ID rule takes an ID whose record is gone for
// free (its event was hidden), and Stat counts from the floor. The floor
// holds when a later metadata write lifts the limit: what compaction
// took is never served again, while hidden events still on disk come
// back as before.
//
// The decision rests on the state as of one LSN, and a checkpoint
// written first covers it (unless Options.CheckpointBytes turns them
// off): a record a checkpoint covers is never cut as a torn tail, so no
// damage at rest can take back the limits that hid what a compaction
// took. The checkpoint is captured with no operation in progress, as
// Close does, and written beside them. The record each checkpoint file
// ends with is kept (Open checks it), and gaps in a segment are kept as
// they are.
//
// Steps, each durable before the next: the floors take effect in memory;
// log/compacted with the new floors and ranges (tmp, fsync, rename,
// directory fsync); then per segment a sparse copy seg-<id>.log.compact.tmp
// of the same size holding every kept byte and the gap records, fsync,
// rename over the segment, directory fsync; then a switch that holds
// every operation off (the lock Close takes) while the segment's
// descriptor changes, and the old one is closed, so its blocks are
// freed. A crash before the rename leaves the old segment (the .tmp is
// removed at Open) under ranges that name records still there: they
// were hidden, the floors keep them hidden. Commits, reads and
// checkpoints go on while segments are read and copied.
//
// Policy: with Options.CompactFraction set, [Store.CompactDue] compacts
// when the events the stream states hide, and that no compaction took
// yet, reach that fraction of the events stored, by the index alone (no
// IO; max-age not counted), and not again before the log has grown by a
// segment. A host may call it on a schedule of its own, or set
// Options.CompactInterval: Open then starts one goroutine that runs
// CompactDue each time commits have grown the log by a segment since it
// last looked (woken by the commits) and every CompactInterval (a
// metadata write or passing time hides events with no growth), on a
// handle of its own over Options.Background (OpenDir sets the operating
// system). Close marks the store closed, then waits for the goroutine
// before it holds operations off, so no compaction runs while Close
// does: Compact looks at the closed mark before each segment it plans
// or rewrites and stops with ops.ErrClosed, the segments rewritten so
// far switched and the rest left under gaps named over records still
// there, as after a crash (the next Open or Compact goes on). Errors are
// never dropped: each compaction that ran goes to
// Options.CompactReport, and Stats counts them (Compactions) and keeps
// the last one's error (CompactFailure, nil after a clean run); a run
// cut short by Close is not reported. A read-only store starts none.
// Records with metadata are never taken in this version. The estimate
// counts hidden events only: a store whose log is mostly superseded kv
// changes is compacted by Compact, or when its events pass the fraction.
// The policy is an option of the store rather than a program of package
// programs: compaction is not an operation of the effect model (no
// program can perform it, and a server does not take it over the wire)
// but work the host that owns the store does; `persist compact` runs it
// by hand.
//
// Measured with BenchmarkCompact (32 MiB in 4 MiB segments, one event in
// eleven visible; compaction beside a raw read, write and fsync copy of
// the same segments, in one run, alternating), on 2 shared cores: the
// compaction read 360 and 419 MB/s, 0.66x and 0.78x the copy's rate, in
// two runs at load 5.9 and 4.0; one-event commits beside it had a p99
// of 8.2 and 7.0 ms against 5.1 and 4.6 ms alone (1.62x and 1.53x);
// what Compact left unwritten was what Stat predicted (ratio 1.000),
// and du saw 95.7% of it freed (a hole frees whole blocks only). The
// spread is wide on a loaded machine: before the switches were joined
// into one pause, two runs at load 8 to 9 gave 0.90x and 1.83x, and
// p99 1.45x and 7.4x.
//
// # Kv history
//
// The store keeps the last Options.KvHistory versions of each key
// (ops.DefaultKvHistory unless set), a delete of a present key included;
// a delete of an absent key takes a revision but makes no version. The
// index holds no old values: per kv commit record its revision and
// location (16 bytes) for the records after those the kv runs hold (a
// checkpoint writes the others into its run's history blocks, see Kv
// run files), and per key changed since the kv run the revisions it
// keeps (the others' lie in the run's entries). KvHistory
// reads each version's record back (one read per version); KvWatch reads
// the records from a revision on, at most 4 * ops.MaxPage of them per
// page, and takes a record's changes under the prefix whole (sorted by
// key) or not at all. When a key's versions exceed the depth the oldest
// drop and the store's compacted revision rises to the highest dropped;
// a watch from it or below is ops.CompactedError, also when history
// moves past the watch's start while the page is read (the watcher
// starts over from the current state). A key's revisions are only ever
// appended past the end of their slice, so a checkpoint's view shares
// them without a copy. Measured with BenchmarkKvHistoryHeap (50,000 keys
// on the mock platform): the kept revisions take 63 bytes per key with
// one version, 191 with ten (the default), 207 with twenty versions kept
// of ten or more written, for the keys changed since the last
// checkpoint (a checkpoint moves them into its kv run); the record
// locations take 16 bytes per kv write, and up to as much again while
// their slice grows, for the kv commits since the newest kv run. A deleted key
// keeps its history. The depth is an option of Open: one lowered since
// the last run drops what it no longer keeps at Open; one raised keeps
// more from then on.
//
// KvWait waits for the kv revision as Wait does for the log (a follower
// polls).
//
// # Snapshots
//
// A snapshot file is the magic "persistS", the format version (uint32), four
// zero bytes, the body length (uint64), the body, the CRC-32C of everything
// before it, and "pers". The body of format 2 (written by this version) is
// the name, the generation, the Keep of the write, the projection version,
// the seq and the value, uvarint-prefixed as above; that of format 1 has no
// generation and no Keep. The file's name repeats the generation and Keep
// (format 1: the generation only), so that the kept generations are known
// from a directory listing; a file whose body names another snapshot,
// generation or Keep than its file name is damaged (misdirected), as is a
// format 1 body under a format 2 name.
//
// Generations are numbered per name, 1, 2, 3, …: a write takes the highest
// number any file of the name has, plus one, so no number an acknowledged
// write took is ever reused, after a reopen or once older generations are
// dropped (the newest is never dropped). The number is taken when the
// write starts and not given again while the store is open, even when the
// write fails (its rename may have reached the directory); after a reopen,
// a number that no file holds (a write that failed, or that a crash cut
// before its rename was durable: never acknowledged) may be taken again. A
// format 1 store numbered its files store-wide: those files keep their
// numbers as generations, with Keep 1, and their name goes on from the
// highest.
//
// The kept generations of a name are the newest Keep of its files, by the
// Keep of the newest file (the latest write rules); they are what
// persist/snapshot-generations lists, newest first, and what a SnapshotRead
// of a Generation serves (Found false for any other number). SnapshotWrite
// writes the new generation (tmp, fsync, rename, directory fsync) and only
// then deletes the files beyond the newest max(Keep, 2), then fsyncs the
// directory: with Keep 1 the previous generation stays on disk as the
// fallback, unlisted and not readable by number. A crash between the rename
// and the deletions leaves older files that are neither kept nor served;
// the next write of the name deletes them.
//
// A SnapshotRead of the newest (Generation 0) serves the newest kept
// generation that validates, then the older kept ones, then the fallback,
// and answers the Generation it served; ErrCorrupt (the newest damaged file)
// when none does. A SnapshotRead of a damaged generation by number is
// ErrCorrupt: it does not fall back. A listing leaves a damaged kept
// generation out (Verify names it in VerifyReport.Skipped), and is
// ErrCorrupt when none of the kept generations validates. A listing
// reads each generation once: what it tells (version, seq) is cached by
// path, as a file is never rewritten (BenchmarkSnapshotGenerations: ten
// generations of 4 KiB listed in about 1.5 µs from the cache, 150 µs
// reading the files, 100× apart). Stat's Snapshots counts the kept
// generations of every name.
//
// # Read-only followers
//
// [OpenReadOnly] ([OpenDirReadOnly] on the real operating system) opens a
// store for reading beside the process that has it open for writing,
// which may be another process. It takes no lock and writes nothing at
// all: no directory, IDENTITY, checkpoint, tmp removal or cut; a missing
// directory, or one without IDENTITY, is an error matching fs.ErrNotExist.
// It loads the newest valid checkpoint (one the writer removes meanwhile,
// or one past the segments it listed, is skipped) and replays the log as
// Open does, with one difference: in the last segment the first record
// that does not validate is the current end of the log, whatever follows
// it, since the writer may be writing it. Damage in sealed segments, and
// in records a checkpoint covers, is ErrCorrupt as in Open. Every write
// (Append, Commit, KvPut, KvDelete, SnapshotWrite) returns ErrReadOnly and
// writes nothing.
//
// A follower keeps no ID index, since it decides no commits.
//
// Read, ReadAll, Head, Streams, KvGet and KvList first catch up: they read
// the frame at the end of the log as last seen, and only when it is not
// zero (segments are preallocated, so the size says nothing) scan on from
// there, applying each newly valid record to the index exactly as replay
// does (LSN, chain and sequence checks included), and, after a seal, open
// the next segment once the writer has created it. A catch-up that finds
// nothing new costs one pread. Wait polls: catch up, check, sleep 50 ms,
// until the head passes, the timeout elapses, the context ends or the
// store closes. SnapshotRead, SnapshotNames and SnapshotGenerations list
// the snapshot files again first (a generation the writer removed since is
// passed over). Stats and Recovery do no IO: they tell what the last
// catch-up saw. Close only closes the follower's files.
//
// A follower sees only complete records whose CRC validates; a record the
// writer is half-way through writing is the end of the log until it is
// whole. The writer acknowledges a commit only after its fdatasync, but a
// follower on the same machine reads through the same page cache, so it
// may see a record an instant before the writer acknowledges it (and,
// should the fdatasync then fail, a record the writer never acknowledges:
// the writer fails, cuts it back, and a follower that saw it must be
// reopened, as its log no longer continues where it looks). A follower on
// another machine (a network filesystem) is not supported.
//
// # Decisions where package ops is silent
//
//   - Event.At is the commit's time from io/clock, in UTC with nanosecond
//     precision, never earlier than the commit before it (a clock stepping
//     back is clamped); all commits of one group share one clock reading.
//   - An event whose data is empty reads back with nil Data; a kv value that
//     is empty reads back nil.
//   - A Read of an absent stream, or from beyond the head, returns no events
//     (nil) and the head; Read's From 0 means 1.
//   - Every commit with kv changes takes a new revision, a delete of an
//     absent key included (it answers Existed false and that revision); the
//     key stays absent with revision 0, and the delete adds no version to
//     the key's history and no change to a watch.
//   - A metadata write or delete is refused with the error ops names and
//     writes no record; one that is decided writes one record, even when
//     the state does not change.
//   - Commits are decided by ops.Decide against the durable state and the
//     commits before them in the group. In a Commit, each append part is
//     checked for the idempotent-retry rule on its own: a part that
//     repeats stored events answers their original result and writes
//     nothing, the other parts and the kv changes are applied; a part
//     reusing a stored ID refuses the commit (ops.DuplicateIDError). A
//     commit whose parts all repeat and that has no kv changes writes no
//     record.
//   - SnapshotRead of an absent snapshot answers Found false and a
//     Snapshot zero but for its Name; KvGet of an absent key answers nil.
//   - Close waits for operations in progress (a checkpoint being written
//     included), writes a store checkpoint,
//     and gives back the reserved tail of the active segment (truncate,
//     fsync); a second Close returns ops.ErrClosed. A Wait in progress
//     returns ops.ErrClosed.
//   - Open creates the data directory when it is missing (its parent must
//     exist) and syncs the parent.
//   - Commits do not observe the context of their handle once queued: the
//     leader checks its context before it starts a group, and an IO effect
//     failing mid-group (a cancelled handle included) fails the store.
//     [DB] runs commits without a deadline for that reason.
package file
