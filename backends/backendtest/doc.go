// Package backendtest is the conformance suite every persist backend runs:
// the executable form of the contract in package ops.
//
// A backend's test opens fresh, empty backends with deterministic clocks
// and event IDs, and hands the suite the way to do so:
//
//	func factory(t *testing.T) ops.Backend {
//		return mem.New(mem.WithClock(backendtest.Clock()), mem.WithIDs(backendtest.IDs()))
//	}
//
//	func TestConformance(t *testing.T) { backendtest.Run(t, factory) }
//
// Run runs every case of [Cases] as a subtest "suite/case" of the caller's
// test, in parallel. A case is one named behaviour that can fail: the
// suites are event, log, read-all, streams, kv, commit, idempotent,
// concurrency, alias, wait, limits, snapshot, project, subscribe, follow and
// lifecycle. The seed's behaviours are all here (event record, append and
// read, per-stream seqs from 1, stream isolation, kv get/put/delete/has/
// keys/get-or/update, projections with resume equal to the full fold at
// every cut, snapshots, subscriptions, conflicts as values and the
// two-writer race), with the rest of the ops contract: commit atomicity,
// idempotent retries, paging, compare-and-set, revisions, aliasing,
// clock-stamped times, waits, limits, Close and unknown effects.
//
// # Optional parts
//
// Cases that check an optional part of the contract run only for a
// backend whose [Options] say it keeps that part: [RunWith] with
// Options{Retention: true} adds the suites retention, delete, kv-history,
// kv-watch and generations (stream metadata and deletion, kv history,
// watch and wait, snapshot generations, stat and the replay property
// under retention); [Run] leaves them out. The switch is one field, to be
// removed once every backend keeps the part. Those cases expect the
// default kv-history depth, ops.DefaultKvHistory, and their consistency
// check allows the gaps in positions and seqs that hidden events leave
// (positions and seqs rise; a head is at least the last visible seq).
//
// # Two modes, one meaning
//
// Each case runs twice, each time on a fresh backend: in place (programs
// run with interp.Run) and stepped (interp.RunStepped, a driver answering
// each suspended effect). In both, an interp.Trace middleware stands in
// front of the backend and writes one line per effect and answer. A
// deterministic case must give the same answers (every program's result,
// compared deeply) and byte-identical traces in both modes; a difference
// fails the case and shows where the two part. Cases that are concurrent by
// nature (a two-writer race, a wait woken from another goroutine, many
// appenders) run in both modes too, but their traces and answers are not
// compared: only their checks count.
//
// # Reporting
//
// Like testing/fstest.TestFS, a case reports every misbehaviour it finds,
// not only the first: each check records a failure, located at the case
// code that made it, and the case goes on. Failures the two modes share are
// reported once. After each case that left the backend open, the suite
// checks that the backend agrees with itself: the global log is numbered
// 1, 2, 3, …; each stream's events are numbered in global order and read
// back the same from the stream as from the global log; the stream and key
// listings are sorted and match heads, kv-get and revisions. Then it closes
// the backend.
//
// # Decisions where the design was silent
//
//   - Observations made to decide whether something was written (the whole
//     state before and after a refused operation, the consistency check)
//     go to the backend directly, untraced, so they do not depend on the
//     mode under test.
//   - A refused kv change takes no revision: revisions rise by exactly one
//     per acknowledged commit touching kv, starting at 1 in a fresh store.
//   - An invalid single-part operation names its own field ("stream",
//     "events[0].type", "key"), not the field of the commit it stands for,
//     and its InvalidError.Op is the operation's name.
//   - Concurrent commits that touch the same streams are serializable: they
//     appear in the same order in every stream they touch.
//   - Closing a backend ends a pending wait with ops.ErrClosed.
//   - A case that does not finish within a minute (and a little more) is
//     reported and abandoned, so one hung case does not hang the suite.
//
// [Clock] and [IDs] give a factory its deterministic clock and ID source.
// The suite also logs, in verbose mode, a roster of the cases it is about
// to run (a line starting with [RosterPrefix]), so that the scoreboard
// counts a case that never reported, because the test binary died, as not
// passed.
package backendtest
