// Package crashtest crashes persist's file backend at every IO effect of
// its workloads, restarts it on the disk the crash left, and checks the ten
// invariants of RELIABILITY.md against an oracle of what was acknowledged,
// refused and in doubt.
//
// A workload ([Workloads]) is a fixed sequence of commits, snapshots,
// reads, clean reopens and crashes on a new store on the mock platform
// (package mock). A campaign ([Run]) first runs each workload without
// faults and counts its IO effects n; then, for every crash point k in
// 0..n (a seeded sample of them for the large workloads), before and after
// effect k, and for several draws of every fault, it builds the disk and
// judges it:
//
//   - crash faults (drop, prefix, subset, torn, extend-zero,
//     extend-garbage, dirs, keep) decide what of the unsynced state the
//     crash keeps;
//   - disk faults strike the disk a crash left: a bit flip or a zeroed
//     sector at rest, anywhere, or aimed at what recovery trusts to a
//     store checkpoint without reading it (a seal record, a commit record
//     the newest checkpoint covers), a crash during the recovery (then a
//     second crash under a drawn fault), an EIO or a misdirected read
//     during recovery;
//   - run faults strike the running store at effect k (fsync EIO that drops
//     the pages, write EIO, ENOSPC, a short write, a misdirected write, and
//     EIO or ENOSPC at the creates, renames, removes, cuts, reservations
//     and closes of rolls, store checkpoints and snapshots); the workload
//     goes on and the machine crashes at its end.
//
// The rollckpt workload rolls tiny segments with a store checkpoint due
// after every commit, so that every roll has a checkpoint due, with a
// reopen between two rolls; it is sampled for crash and disk faults, but
// every run fault strikes every effect it applies to (RunAll).
//
// The kvtier workload makes a store checkpoint after every kv commit, so
// that each writes a new kv run of the keys the commit changed and folds
// the newest runs into it as they reach its size (deletes of keys the
// oldest run holds leave tombstones, the last commits fold every run into
// one): its crash points include the writes of a fold, the instant
// between a folded run's rename and its checkpoint's, and the removal of
// the runs a fold replaced.
//
// The streamrun workload rolls tiny segments after each round of multi-
// stream batches, so that the checkpoint of each reopen writes the
// round's streams as a stream run and folds the older runs into it, with
// a crash that restarts the store on runs: the stream run faults (st-
// missing, st-torn, st-bitflip) find a run to strike at most of its
// crash points.
//
// The ids workload retries stored batches (after other events, as a part
// of a commit, after a reopen) and reuses stored IDs beside new ones; the
// model applies the rule that an event ID is unique within its stream, so
// a store that wrote a reused ID, or refused a retry, fails every case.
//
// The meta and max-age workloads set stream limits and deletions among
// appends; the model decides max-age without event times, by the mock
// clock's tick (see retention.go): a max-age below a tick hides every
// event, one of a day or more none, and workloads set only those.
//
// The compact workload runs the file store's Compact (StepCompact) after
// limits and deletes hid events in sealed segments and puts superseded
// a key's kept history (Options.KvHistory 2), and again after a reopen. Compaction changes nothing a reader sees, so the model has no
// step for it: every crash inside it is judged by the invariants above,
// which say that what retention hid stays hidden, nothing visible is
// lost, positions are unchanged and each key holds its last value;
// without a fault it must take the hidden events and superseded kv
// changes it names off the disk.
//
// The judge ([checker]) opens copies of the disk and checks: every
// acknowledged write present, byte-identical, at its seq and position;
// nothing never issued; each write in doubt all there or all gone, the
// survivors a prefix of the issue order (1-3); seqs 1..head without gap
// (4); every read right or a typed error (5); two opens of one disk
// identical, LSN included (6); the same state without store checkpoints
// (7); recovery idempotent, also when a crash cuts it short (8); nothing
// acknowledged after an IO error until a reopen (9, checked while the
// workload runs); a new append after recovery at the next position and a
// fresh LSN, durable at once (10). The model the state is compared with is
// the fold of the surviving writes in issue order by the rules of package
// ops; for snapshots, the newest of each name and its kept generations
// (listed, newest first, and each read back by its number) are the newest
// Keep of the surviving writes of that name, the Keep of the last ruling.
//
// Disks damaged behind the store's back (bytes at rest, a misdirected
// write) are judged leniently in one way only: the store may refuse them
// with file.ErrCorrupt, fail a read with it (damage in records a
// checkpoint covers is found by the read, and by an open without
// checkpoints, not by Open), or cut a damaged tail that its recovery
// report names (the limit its package doc states); it may never serve
// wrong bytes or silently serve less.
//
// Program-level: [RunProgram] runs a persistence program (such as
// [LedgerProgram], written with package programs) stepped on the file
// backend, crashes the machine at an IO effect, restarts the store on the
// disk left, checks that every step the program saw acknowledged is there
// (naming the step that is not), and re-runs the program with its recorded
// journal (interp.Replay): the steps answered before the crash are
// replayed, the rest performed anew, and the result and the store's
// content must be those of a run without a crash.
//
// Every case is named by seed, workload, crash point, side, fault and
// draw, and [Case.Command] is the one line that replays it with
// `persist crashtest`. Same seed, same run: the mock platform's clock,
// randomness and every fault draw come from the seed.
package crashtest
