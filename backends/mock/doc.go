// Package mock is a crashable, fault-injecting platform: a handler that
// answers every effect of package platform over an in-memory filesystem
// that keeps what is durable apart from what is not.
//
// # Model
//
// Every file has a durable image (its bytes as they are on stable storage)
// and a volatile layer: the writes, truncations and reservations made since
// its last io/fsync or io/fdatasync, in order. Every directory has durable
// entries and a volatile layer of its own: the creates, renames, unlinks and
// mkdirs made since its last io/sync-dir. Reads and listings see both layers,
// as they would through a kernel's page cache. A sync moves a file's or a
// directory's volatile layer into its durable image; syncing a file does not
// make its name durable, only syncing its directory does.
//
// [FS.Crash] builds a new, independent filesystem from the durable images
// and the volatile layers under a [Fault] drawn from a seeded random source:
// all unsynced state dropped, a random prefix or subset of it kept, torn
// sectors, extensions whose new bytes are zeros or garbage, directory
// operations reverted. The new filesystem holds only durable state, no open
// files and no locks: it is the disk a restarted process finds. The
// filesystem crashed from is left as it was, so one state can be crashed
// under many faults; [FS.Halt] makes it refuse every later effect, as a
// machine that lost power.
//
// # Faults while running
//
// An [Injector] fails the k-th effect matching a [Pred] with an [Action]:
// EIO (an fsync failing this way drops the file's unsynced pages, as ext4 and
// XFS do), ENOSPC, a short write, a misdirected write or read, or a crash
// (before or after the effect). Injectors are small values; their String is
// their reproducer, such as (fail :k 2 :when (op "io/fdatasync") :do eio).
// [FS.Corrupt] damages durable bytes at rest: a bit flip or a zeroed sector.
//
// # Determinism
//
// io/clock answers a fixed start plus one tick per call, io/random draws from
// a generator seeded with the filesystem's seed, and every fault draws from
// its own seed: the same seed, the same effects and the same faults give the
// same run, byte for byte. The recorder ([FS.Trace]) keeps one line per
// effect, with its answer.
//
// # Decisions where the platform contract is silent
//
//   - Paths are cleaned and taken from the root "/" (a relative path is
//     under the root); the root always exists and is durable.
//   - io/lock is process-local: a second lock of the same file in the same
//     filesystem fails with platform.ErrLocked until the first FD is closed,
//     or the filesystem crashed (a crash releases every lock).
//   - A file opened with O_APPEND or on a directory for writing is refused
//     with EINVAL or EISDIR; io/read-at on a directory is EISDIR.
//   - Directory operations in the volatile layer are kept, under a fault
//     that keeps some, as a prefix in the order they were made (a journaling
//     filesystem commits its metadata in order). A rename within one
//     directory is one operation: after a crash, either both names changed
//     or neither did. A rename across directories is two, one per
//     directory.
//   - Sectors are 512 bytes, aligned to file offsets.
//   - An effect on a halted filesystem, or with an FD it never returned, is
//     an error; the former wraps the crash error of [Options].
package mock
