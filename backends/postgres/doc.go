// Package postgres is persist's PostgreSQL backend: a handler for every
// operation of package ops on a PostgreSQL 13+ database, shared by many
// processes on many hosts, with the behaviour of the mem and file backends
// (the conformance suite in backendtest is the proof).
//
// # Schema
//
// A store lives in one schema (WithSchema, default "persist"), so tenants
// and tests share a database. Open creates the schema and its tables from
// the numbered SQL files embedded from migrations/ (0001_init.sql, …), in
// one transaction under an advisory lock, so that several processes may
// open a new store at once. The schema_version table holds one row: the
// number of the last migration applied. A schema whose version is newer
// than this package knows is refused with ErrSchemaTooNew, never misread.
//
// The tables: log_state (one row: a floor of the last position of the
// global log, the last kv revision, the metadata generation and the
// highest kv revision dropped from history), streams (name, a floor of
// its head, and the stream's limits and deletion), events (pos, stream, seq, id, type, at in Unix
// nanoseconds, data), kv (key, value, revision), kv_history (revision,
// key, value; NULL for a delete) and snapshots (name, generation,
// version, seq, value). Names are compared in byte order (COLLATE "C"),
// as in the other backends. A snapshot's version and seq are uint64s
// stored by their bits in bigint columns. Migration 3 takes an older
// store forward: its kv entries become the first history, and every
// revision before it counts as compacted (what history it misses is
// unknown), so a watch of a migrated store starts after them. Migration
// 4 adds guess_gen (see Commits) and makes log_state.last_pos and
// streams.head floors: guessed commits move neither, so a stream's head
// is the greater of its streams.head and its highest stored seq (read
// from the (stream, seq) index), and the log's last position the greater
// of log_state.last_pos and the highest stored position (read from the
// primary key). Locked commits move neither either (a locked commit
// inserts the rows of streams new to it, as a guessed one does, and moves
// log_state only for kv), since those two hot-row updates were most of
// a commit's WAL; a compaction raises the floors before it deletes
// events, so neither head nor last position ever goes down. Migration 6
// adds the sequence meta_token, the metadata generation guesses are
// decided at (see Commits); guess_gen is no longer called.
//
// # Retention, deletion, kv history and snapshots
//
// A stream's metadata and deletion live in its streams row, which may
// exist with head 0; a write of either is one transaction under the log
// lock (the exclusive one, so it is ordered with every commit) that decides with ops.CheckMeta
// or ops.CheckDelete and moves log_state.meta_gen on. Commits decide with
// the stream's state read under the lock (ops.StreamView, with the commit's
// own time as now), so a tombstone refuses every append and expectations
// read a soft-deleted stream as ops says; guessed commits are refused when
// meta_gen moved (see Commits). Hiding is logical, decided at each read: a
// read of a stream with a state filters in SQL by the seq-based limits and
// max-age (against the store's clock); read-all filters only while some
// stream has a state (one EXISTS over a partial index, see Replays), over at most
// 160,000 positions per page, so a long hidden run gives short pages with
// Next moving on; once any metadata changed (meta_gen above 0) read-all
// always takes the filtered way, which pages over position holes with its
// snapshot's last position. Hidden events stay in the table until Compact
// deletes them (one DELETE under the log lock, after raising the floors
// of the heads and the last position, that also moves meta_gen on, since
// a stale guessed head or position could otherwise name a freed seq or
// position, then a VACUUM); Stat estimates the bytes that would reclaim from the hidden
// events' share of the stored ones, and LastCompaction from the time
// Compact records in log_state (migration 5). A read of a stream with a max-age
// scans the hidden events before its first visible one.
//
// Kv history: every put, and every delete of a present key, adds a row to
// kv_history in the commit's transaction, and the same transaction drops
// each touched key's rows past the store's depth (WithKvHistory, default
// ops.DefaultKvHistory), raising log_state.kv_compacted to the highest
// revision it dropped. A watch reads a page and the compacted revision in
// one snapshot, so a From at or below it is an *ops.CompactedError, never
// a gap. persist/kv-wait waits as persist/wait does, on the same
// notifications. Snapshot generations are rows of (name, generation): a
// write inserts the next generation and deletes those past its Keep in
// one transaction; the newest is never deleted, so a generation is never
// reused.
//
// # Commits
//
// A commit is one READ COMMITTED transaction. The log lock is the store's
// transaction-level advisory lock (its key a hash of the schema's name),
// which every writer holds to COMMIT, exclusively but for guessed commits
// (below), which hold it shared. No row lock is taken beside it: every
// writer of log_state and of stream rows holds it exclusively, and a row
// lock would add a WAL record to every commit. A locked commit takes it
// in a statement of its own, reads the log's last position, kv revision
// and metadata token (below) in the next (so with a snapshot that sees every
// commit that ended before the lock was granted), and the heads of the
// streams it appends to (one stream by a statement whose plan the server
// keeps, several by an array), decides every expectation with ops.Decide
// against a view of the state (the same code as mem and file, so the
// same decisions; the operation was validated with ops.Validate when it
// was queued), writes its events, the rows of streams new to it and its
// kv changes with a few array statements, moves log_state's kv revision
// when kv changed, notifies, and commits with the server's
// synchronous commit. A commit is acknowledged only after COMMIT returned.
// A failed expectation is a *ops.Conflict and writes nothing. Kv revisions
// are store-wide, one per commit that touches kv, as in the other
// backends. An append whose events carry IDs already stored answers as ops
// says (the original result for a retry), decided from the stored events.
//
// One round trip when the store can guess. A Store remembers the head and
// state (limits, deletion) of every stream it saw committed (by its own
// commits, or read under the lock), and the store's metadata token they
// were seen at (the last value of the meta_token sequence, set to a new
// random value with every move of log_state.meta_gen: by every metadata
// write, delete and compaction of any process, under the exclusive
// lock). A group of appends whose events carry no IDs of the caller's
// (and no kv change) is first decided against those guesses and sent as
// one statement (so one implicit transaction, one round trip, one
// prepared plan) that writes no hot row: its first part takes the
// advisory lock shared, the next one, on the first's row (so once the
// lock is granted), says whether the token is still the remembered one;
// the parts that read its answer write the events at the
// positions after the last one the store saw committed, insert the rows
// of streams guessed new, and notify. Known streams' rows are not
// touched: their heads are read from the events. A guessed commit waits
// only for exclusive holders and, when it takes a position another
// guessed commit has in flight, for that one (the primary key's check);
// neither waits for it while holding what it waits on, so there is no
// deadlock.
//
// A wrong guess cannot be stored. Heads: a guessed head is a head once
// committed, and heads only grow, so a stale guess is below the stored
// head and puts the stream's next event at a seq already stored, which
// the (stream, seq) unique index refuses, aborting the statement. States:
// a state can change only with the token, so a guess decided on a stale
// state finds the token moved (it is read under the shared lock, which
// no metadata write holds at the same time, and a sequence's value is
// read as last set whatever the statement's snapshot, which was taken
// before the lock was granted), so the check answers false and no part
// writes (they all read its answer): nothing is stored, no row comes
// back. A sequence's change is not transactional: a metadata write that
// rolls back after setting the token leaves it moved, which costs the
// next guesses a refusal and nothing else; its WAL record may be lost in
// a crash, so a token a store read may be lost, which is why a new token
// is drawn at random (63 bits) and not counted on: the next write's token
// is not the lost one but by a chance of 2^-63, the odds the store's
// drawn event IDs already take. A role that may not read the sequence is
// refused at Open (ErrPermission, naming it): some PostgreSQL versions
// answer NULL to pg_sequence_last_value without the right, which a commit
// would take for a token never set. Streams the store knows nothing of are guessed new
// (head 0, no state) and their rows inserted, so a stream that exists
// after all (with events, limits or a tombstone this store never saw)
// refuses the statement by the streams key. So no guess lets an append
// through to a hard-deleted stream or past an expectation the stored
// state fails. Positions: the store's last position is one it saw
// committed (its own commit's, or read by a locked commit), so never
// above the stored one, and a stale one names a stored position, which
// the primary key refuses; the store forgets it when an answer is lost
// and when a compaction or another token is seen, and then commits
// the locked way until a locked commit read it again (why no guess can
// fall into a hole is in the next section). IDs: the store's drawn IDs are
// time-ordered with 74 random bits (drawn per store, so unique for every
// practical purpose) and taken as unused; a caller's ID must be looked up,
// visible or not (a hidden event's ID is free again, so no index can
// decide it), so groups with caller IDs go the locked way.
//
// A refused guess, and every group the guesses do not settle, is decided
// on the stored state in two round trips: BEGIN with the lock and the
// reads (heads and states of its streams, revisions of its keys, and the
// IDs its events carry, looked up in the (stream, id) index in one
// statement), then the writes with COMMIT. So are groups with kv changes
// (a stale revision would not be refused by the server), groups the
// guesses decide as a conflict, a retry, a reused ID or a tombstone (their
// answer must name the stored state), groups on a stream with a max-age
// (deciding a retry needs event times), and every group under
// WithoutGuessing. A wrong guess costs one round trip more (the refused
// statement) and, when an index refused it, an error line in the server's
// log; it happens when another process appended to the store since this
// one last looked (so writers in several processes of one store mostly
// commit the locked way), after any metadata change, or on a process's
// first append to a stream that exists.
//
// Group commit: the callers of one Store queue their commits, and the
// caller that holds the store's commit token leads: it takes every commit
// waiting (up to 512) and stores them in one transaction, each decided
// against the state the earlier ones leave, while the others wait for
// their answers (or for the token, if theirs is still queued when it is
// released). A lone caller so commits on its own goroutine, with no
// hand-over. While a group is smaller than the last one, the leader
// lingers 300µs for the callers the last group answered, who come back a
// moment later: without that, groups alternate between nearly all callers
// and one. A commit whose expectation fails is answered with its conflict
// and the others go on. If the server refuses the group's transaction,
// each commit is tried alone, so one commit's fault is never its
// neighbours'.
//
// Event times come from the Store's clock (WithClock, default the local
// clock), not the server's, so every backend stamps events the same way;
// IDs of events appended without one come from WithIDs or, by default,
// are version 7 UUIDs (time-ordered, for the locality of the ID index).
//
// # Readers never skip a committed event
//
// A position is taken by inserting an event at it, and the events'
// primary key lets one transaction have it. The rule that makes the log
// gap-free for readers: a transaction inserts positions L+1, …, L+n only
// after position L, and so (by the same rule, inductively) every stored
// position up to L, was committed and visible to new snapshots.
//
// A locked commit holds the advisory lock exclusively, so no other
// writer runs until it ends, and reads L as the log's last position in a
// statement after the lock was granted: a snapshot that sees every
// commit that ended before. A guessed commit takes L from its store: the
// last position of the store's own acknowledged commit (COMMIT returned,
// so it is visible) or the one its last locked commit read. Either way L
// was committed and visible before the guessed commit began. When L is
// no longer the last position, L+1 is stored or in flight, and the
// primary key refuses the guess (after waiting for the one in flight,
// and letting the guess through if that one rolled back, when L+1 is
// free and L the last again); the group is then decided the locked way.
//
// A hole below the last position would be the only place for a late
// insert behind a reader. A rolled-back transaction leaves none: nothing
// it inserted was stored, and the next taker counts from a committed
// position. Only a compaction deletes events, under the exclusive lock:
// it raises the floors first (so a locked commit counts on from above
// every hole) and moves meta_gen and the token on. A store forgets its
// position at its own compaction and at any new token it learns, and
// learns a position again only with a locked read, which comes after
// the compaction; a guessed commit decided at the token before another
// process's compaction is refused by its token check, whose shared lock
// cannot be held while the compaction runs. So every L is above every hole, and
// a position below a stored one that is free is free forever.
//
// So when the transaction of position p commits, every position below p
// that is ever stored was committed and visible before it began, and
// PostgreSQL gives any snapshot that sees a transaction every one that
// was visible before it began. A reader that reads the global log from
// its last position in one statement (one snapshot) sees a contiguous
// prefix of it (holes aside, which stay holes), ending at its snapshot's
// highest position: no transaction holding a lower position can commit
// later, so there is nothing to skip. This is a proof from a unique
// index and a lock, not a timing argument. It also gives read-all its
// head without another read in the page's statement: a page shorter than
// its limit ends at the snapshot's last position; a full or empty page
// reads the head just after it (a later snapshot, which would give a full
// page the same events).
//
// TestFollowersNeverSkip checks it: 64 writers in four processes append
// while followers record every position they are given, and none may skip
// one; TestNaiveSequenceSkips shows the same checker catching the skip that
// positions from a sequence allow.
//
// The price is that locked commits (kv changes, caller IDs, refused
// guesses, every commit of a process that has not yet read the log's
// position) are serialized across all processes of a store, each holding
// the lock through its WAL flush, and that guessed commits of several
// processes collide on positions. Group commit wins back the throughput
// within a process: many callers' commits share one lock hold (or one
// guessed statement) and one flush.
//
// # Replays: one round trip a page, lent pages, readahead
//
// Read-all sends its page's statement and a second one in one round trip
// (a batch): the page (empty when read-all must filter, a one-time
// filter in front of the primary key's index scan), then whether
// read-all must filter and the log's last position, so with a later
// snapshot: the head of a full or empty page. When the second says that
// read-all must filter (it never goes back: meta_gen only grows), the
// page is dropped and read the filtered way. Rows come in PostgreSQL's
// binary format and are decoded by hand into a page the reader lends
// (ops.Page, so a replay that lends one allocates nothing per event) or
// into fresh memory.
//
// After a full page on this path holding at most 8 MiB of event data,
// the store reads the next pages ahead (two, on other connections of its
// pool, never more than a quarter of it; none under WithoutReadahead,
// nor after a larger page, whose followers would be held as large), so
// that the server scans page N+1 while the reader works on page N. A
// read that asks for exactly where the first page read ahead starts,
// with the same limit, is answered from it if it came back full, once
// that read's own state statement (read
// after the read ahead ended, at the time of the read) says that
// read-all needs no filtering; its head is that statement's. Any other
// read-all drops the pages read ahead (those in flight end on their own);
// a page read ahead short, or failed, is never an answer: the read goes
// its usual way, so gets the answer and the error it would have without
// readahead. Close cancels the reads ahead in flight and waits for them.
// A page read ahead keeps its memory until the next read-all or Close.
//
// Why the answer is one the store could give at the time of the read,
// though its page was read in an earlier snapshot: the read's state
// statement saw no metadata change, and none can have come before the
// read ahead's snapshot and been unseen by it (it began after the read
// ahead ended), so none happened before: no event of the page was hidden
// or deleted then, and none has been since, as nothing but a metadata
// change or a compaction (which moves meta_gen too) hides or deletes
// one, and events never change. The page held limit events from its
// first position, with no holes (the argument above), so every later
// snapshot holds the same run: the one of the state statement too, whose
// head is at or past the page's end. So the answer is what a read at the
// state statement would give. A page read ahead short could have been
// filled since, which is why it is read again.
//
// # Waits and followers across processes
//
// Every commit that writes sends a NOTIFY on the schema's channel
// ("persist_" and 16 hex digits of the schema name's SHA-256), delivered
// by the server when the commit is visible. A Store's first persist/wait
// starts a listener: one connection of its own (application_name "persist
// listen SCHEMA", see ListenerName) that LISTENs and wakes every pending
// wait of the Store at each notification; the Store's own commits wake
// them directly. A wait looks at the head itself each time it wakes, so a
// notification says only "look", and losing one loses nothing: when the
// listener's connection is lost it wakes the waits, connects again and
// wakes them once more after LISTEN, and every pending wait also looks
// every poll interval (WithPollInterval, default 1s) in case a
// notification was lost some other way (a writer that does not send one).
//
// # Errors and faults
//
// Open fails with an *OpenError naming the DSN without its password (see
// Redact) and one of ErrUnreachable, ErrAuth, ErrNoDatabase,
// ErrPermission (no right to create or change the schema) or
// ErrSchemaTooNew.
//
// A commit that failed before COMMIT is ErrNotWritten: nothing of it is
// stored (a client killed mid-commit is the same case seen from the
// server: its transaction is rolled back when its connection goes, and
// TestKillClientMidCommit checks that). A server restart fails the commits
// in flight with ErrNotWritten; the pool drops the dead connections and
// the next commit connects again (TestServerRestart, run with
// PERSIST_TEST_PG_RESTART=1 because it restarts the machine's server).
//
// A commit whose connection was lost after COMMIT was sent may or may not
// be stored. The store resolves it itself when it can: a commit of appends
// only is tried again with the same event IDs (the caller's, and those the
// store drew for events that had none) until the commit timeout
// (WithCommitTimeout) ends. Since an event ID is unique within its stream,
// a retry of a stored batch is known by its IDs: if the first try was
// stored, the retry answers the original result; if not, the retry stores
// it. A commit with kv changes answers ErrOutcomeUnknown (a kv change
// tried again is not the same change), and so does one whose server stays
// unreachable; the caller resolves an append the same way, by appending
// again with the same event IDs. Give events IDs when that matters: an
// event appended without one gets an ID the caller never learns if the
// answer is lost.
// WithCommitFault injects such losses for tests.
package postgres
