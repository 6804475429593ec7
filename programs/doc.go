// Package programs is persist's logic written as programs: log and kv
// helpers, optimistic-concurrency retry loops, projections, snapshots,
// subscriptions and followers.
//
// Every function here is a program, or part of one: it takes a perform
// handle [*effect.P] and does all its persistence by performing the
// operations of package ops on it. It never imports a backend, never reads
// the clock, never draws randomness and never starts goroutines, so the same
// code runs in place on any backend (effect.Handle(ctx, store)) or stepped
// (effect.Start), and a recorded run replays exactly. The one piece of Go
// state is the [Hub]'s list of subscriptions, which is configuration kept
// in memory, not persisted data; firing them is a program.
//
// # Errors
//
// Errors of the operations come back as the handler answered them: a failed
// expectation is a *ops.Conflict naming expected and actual, bad input an
// *ops.InvalidError naming the field, a closed store ops.ErrClosed. Helpers
// that perform one operation (Append, Head, Get, Put, PutIf, Delete,
// DeleteIf) return them unwrapped; helpers that perform several wrap them
// with context (%w), so errors.As and errors.Is always reach them. Errors
// from caller-supplied functions (decide, f, codecs, subscribers,
// handlers) are returned as they are or wrapped with %w.
//
// # Data
//
// Decode and DecodeData read event data and values written as JSON (a Go
// caller's JSONEvent) or as SX (the command line) into one Go type, by
// sx.Unmarshal's rule: {:order 17} and {"order": 17} are the same data.
// That is why this package imports sx (a standard-library-only leaf) as
// well as effect and ops; JSONEvent and the snapshot codec still write
// JSON.
//
// # Decisions where the design was silent
//
//   - Reads are consistent prefixes: ReadFrom, Project and Load page
//     through persist/read up to the head seen by their first read, and
//     ignore events appended after it. A from past the head reads nothing.
//   - Events, AllEvents, Streams and Entries are the paging reads as
//     iterators (iter.Seq2): a page is read when the range needs it, and
//     none after the range stops. An error is yielded once, with a zero
//     value, and ends the iteration. Events and AllEvents give the same
//     consistent prefix as ReadFrom.
//   - Scan and ScanAll are Events and AllEvents for a reader that only
//     looks at events: their reads lend one ops.Page, so each event, Data
//     included, is valid until the next step of the range and is then
//     overwritten. What must outlive it is copied (ops.CloneEvent). Folds
//     (Project, ProjectResume, Load) do not lend: a step may keep the
//     events it is given, since a projection that kept lent bytes would
//     hold other events' data without a word, and replay must give the
//     same value always. A hot fold that keeps nothing of its events is a
//     range over Scan.
//   - A nil function where a helper needs one (decide, f, a step, a
//     follow handler) is an *ops.InvalidError naming it, never a panic.
//   - Retry loops (AppendRetry, Update) count attempts as calls of the
//     caller's function, at least one; a conflict carries the new head, so
//     AppendRetry does not read it again. Exhaustion wraps both
//     ErrRetriesExhausted and the last *ops.Conflict.
//   - A position that claims more than its source holds (a State or
//     snapshot with Seq above the stream's head, a follow checkpoint above
//     the head) is an error wrapping ErrAhead, never silently resumed.
//   - A projection step returns its error (a Step); the fold stops at that
//     event with a *StepError naming the stream, seq and type, and the
//     state handed in comes back unchanged: a half-folded state is never
//     returned, so it cannot be checkpointed by mistake.
//   - Load ignores a snapshot of another version (full replay), but a
//     snapshot of the right version that fails to decode is an error: the
//     encoding changed without a new Version.
//   - Hub.Publish fires again when an append is retried with the same event
//     IDs, so a retried Publish completes a firing that a crash may have
//     cut short; subscribers are called at least once and should be
//     idempotent. Subscriber errors are joined and returned with the
//     append's result; the events stay.
//   - Follow stores its checkpoint as the decimal seq (stream) or position
//     (global log) of the last handled event, under "follow/"+Name, with
//     compare-and-set, so two followers of one name cannot both advance it.
//     It is at-least-once: the checkpoint follows the handling.
//   - Readers go on at a page's Next (ops.ReadResult.Next), so a page left
//     short or empty by a stream's limits is not the end; a follower steps
//     over a run of hidden events without handing them out, and moves its
//     checkpoint past them with the next batch it handles.
//   - ProjectCheckpointed checkpoints a projection by a CheckpointPolicy
//     (every N events, or after T by the backend's clock, read every 64
//     events so a remote backend is not asked per event), and at the end
//     when anything was folded; it keeps the policy's number of snapshot
//     generations.
//   - Watch delivers kv changes under a prefix once each, paging with
//     persist/kv-watch and waiting with persist/kv-wait; it has no
//     checkpoint of its own: it returns the revision to resume from, and a
//     Handle error returns that change's revision, so it is delivered
//     again on resumption.
package programs
