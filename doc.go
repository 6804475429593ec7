// Package persist is the front door to persist, a durable state store of
// append-only event streams, a key/value facet, projections and
// subscriptions: open a store and use a [DB].
//
//	db, err := persist.Open(ctx, "./persist-data") // or persist.OpenMem()
//	if err != nil {
//		return err
//	}
//	defer db.Close()
//	_, err = db.Append(ctx, "orders", persist.NoStream(), persist.NewEvent("placed", []byte(`{"order": 17}`)))
//	for ev, err := range db.Read(ctx, "orders", 1) { … }
//
// # One code path
//
// Underneath, every operation is an effect descriptor of package ops, and a
// store is an effect handler that answers them (see package effect). A DB is
// a handler stack — the backend, and any middleware given WithMiddleware —
// and each method performs its operations on that stack exactly as a
// program would: Append performs ops.Append, AppendRetry runs
// programs.AppendRetry, and so on. This package holds no logic of its own.
// So a DB's methods and the programs run on it with Run (or stepped, on
// Handlers) see one store, validate input the same way (the same
// *InvalidError, naming the same field) and answer the same errors.
//
// # Opening
//
// [Open] opens the durable file store in a directory (backends/file: a
// checksummed append-only log, group commit, crash recovery),
// [OpenReadOnly] reads one beside the process that writes it, and
// [OpenMem] makes an in-memory store (backends/mem, the reference), and
// [OpenPostgres] opens a store in a PostgreSQL database that many processes
// on many hosts share (backends/postgres), and [Dial] uses the store a
// persist server serves (package remote: each operation travels to the
// server). [New]
// makes a DB of any ops.Backend: later backends add their own constructors
// that end in it, each returning the same *DB.
//
// Options are functional ([Option]): most callers pass none, the few
// settings there are (a clock for tests, file tuning, middleware) apply to
// some constructors and not others, and new ones can be added without
// changing a signature. A struct would make every caller of OpenMem spell
// out an empty value and would hold fields that mean nothing to most
// constructors.
//
// # Calls
//
// Every method takes a context.Context first and is safe for concurrent
// use. A nil context is refused with an *InvalidError (field "ctx"), never
// a panic. The context bounds what can block (Wait, Follow, a program's
// own waits); a commit, once handed to the file store, runs to its end.
// After Close every method answers ErrClosed (errors.Is), Close included.
//
// Reads that page (Read, ReadAll, Streams, KvList) are iterators
// (iter.Seq2): they fetch a page at a time and stop fetching when the
// range stops. An error is yielded once, with a zero value, and ends the
// iteration. Read and ReadAll give a consistent prefix: the events up to
// the head seen by their first page.
//
// Read and ReadAll copy every event out, so the caller may keep them.
// [DB.Scan] and [DB.ScanAll] read the same events for a caller that only
// looks at each one (counts, checks, folds): an event, Data included, is
// lent until the next step of the range and then overwritten, as the
// reads reuse one page of memory (ops.Page); on a file store they allocate
// nothing per event. Projections ([Load], [Resume]) do not lend: a Step
// may keep the events it is given, so a projection's value never depends
// on how its events were read.
//
// The callbacks of AppendRetry and KvUpdate are decisions on the value
// they are given (a head, an old value) and may run more than once; the
// handlers of Follow and Subscribe do work and get the call's context.
// A panic in a callback or a program comes back as an *effect.PanicError.
//
// # Data
//
// Event data and kv values are bytes to the store. [Decode] and
// [DecodeData] read data written as JSON (by [JSONEvent], say) or as SX
// (at the command line) into one Go type by its JSON field names:
// {:order 17} and {"order": 17} decode alike (sx.Unmarshal is the rule).
//
// # Beyond the methods
//
// Projections are generic, so [Load], [Resume] and [Checkpoint] are
// functions of a DB rather than methods, as is [Run] with a result. A
// program written against package programs runs unchanged on a DB with
// DB.Run or Run, and stepped with interp.RunStepped(ctx, prog,
// db.Handlers()...).
//
// # Retention and history
//
// [DB.SetStreamMeta] sets a stream's limits (keep the last N events, keep
// events younger than D, truncate before a seq) and [DB.DeleteStream]
// deletes it, soft or hard; what they hide is gone from every read at
// once, positions unchanged (the rules are package ops's). [DB.KvHistory]
// reads a key's last versions and [DB.KvWatch] delivers the changes under
// a prefix from a revision on; [DB.Stat] tells visible from stored, and
// [ProjectCheckpointed] checkpoints a projection by a [CheckpointPolicy].
// They are answered by the backends that keep these operations; another
// backend answers them with effect.ErrUnhandled until it does.
//
// # Blobs
//
// Images and media go to a blob store, [Blobs], and events and kv values
// hold only their [BlobRef] (CID, size, media type). [OpenBlobDir] keeps
// blobs in a local content-addressed directory, [OpenIPFS] on an IPFS
// node; the same bytes get the same CID in both, and every read is checked
// against the CID as it streams. Put and Get stream: no blob is held whole.
// Give a DB the store's handler (WithMiddleware(blobs.Handler())) and its
// programs perform the blob operations of package ops as well.
package persist
