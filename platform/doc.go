// Package platform describes every operating-system call persist makes as an
// effect, and answers them with the real operating system.
//
// Each call is a plain value with exported fields ([Open], [WriteAt],
// [Fdatasync], [Rename], [SyncDir], [Clock], ...) that embeds
// effect.Returns of its answer, so a durable backend writes
//
//	fd, err := effect.Perform(p, platform.Open{Path: name, Flag: os.O_RDWR | os.O_CREATE, Perm: 0o644})
//	n, err := effect.Perform(p, platform.WriteAt{FD: fd, Off: off, Data: buf})
//	_, err = effect.Perform(p, platform.Fdatasync{FD: fd})
//
// and never touches package os itself. [OS] is the handler that carries these
// calls out on the real operating system; a crashable in-memory filesystem
// is another handler answering the same effects, which is how persist crash
// tests its file backend.
//
// Contract shared by every handler of these effects:
//
//   - Paths are plain strings, used as given (no working-directory tricks).
//   - An open file is named by an [FD], a handle value returned by io/open
//     (and io/lock); it is only meaningful to the handler that returned it.
//     Using an FD after io/close is an error matching fs.ErrClosed.
//   - Errors are *[Error] values naming the effect and the path, wrapping the
//     underlying error, so errors.Is(err, fs.ErrNotExist) and
//     errors.Is(err, syscall.ENOSPC) work as with package os.
//   - io/write-at writes all of Data at Off or returns an error (a short
//     write is io.ErrShortWrite). io/read-at fills Buf from Off; an answer
//     below len(Buf) means the file ended, and is not an error.
//   - io/fdatasync flushes a file's data and the metadata needed to read it
//     back; io/fsync flushes all of its metadata too. Neither is ever retried
//     by a handler: after a failed sync the pages may already be gone.
//   - io/sync-dir makes the directory's entries (creates, renames, removes)
//     durable.
//   - io/fallocate reserves Len bytes from Off and extends the file's size to
//     cover them (zeros), so later writes inside that range neither grow the
//     file nor need a metadata flush. Where the filesystem cannot reserve
//     space, the OS handler extends the file with ftruncate instead.
//   - io/lock takes an exclusive, non-blocking lock on a lock file (creating
//     it) and answers an FD; closing that FD releases the lock. A lock held
//     elsewhere is an error matching [ErrLocked].
//   - io/list answers a directory's entries sorted by name.
//   - io/clock and io/random are the only sources of time and randomness.
//
// A handler answers ErrUnhandled (from package effect) for effects it does
// not know, so it composes in a handler stack.
package platform
