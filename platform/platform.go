package platform

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"rose-ash.com/persist/effect"
)

// FD names an open file. Its meaning is private to the handler that
// returned it.
type FD uint64

// Effect names, as printed in traces.
const (
	NameOpen      = "io/open"
	NameWriteAt   = "io/write-at"
	NameReadAt    = "io/read-at"
	NameFdatasync = "io/fdatasync"
	NameFsync     = "io/fsync"
	NameTruncate  = "io/truncate"
	NameRename    = "io/rename"
	NameRemove    = "io/remove"
	NameList      = "io/list"
	NameMkdir     = "io/mkdir"
	NameSyncDir   = "io/sync-dir"
	NameStat      = "io/stat"
	NameClose     = "io/close"
	NameLock      = "io/lock"
	NameFallocate = "io/fallocate"
	NameClock     = "io/clock"
	NameRandom    = "io/random"
)

// Open opens (with os.O_* flags in Flag, creating with Perm when
// os.O_CREATE is set) the file at Path.
type Open struct {
	effect.Returns[FD]
	Path string
	Flag int
	Perm fs.FileMode
}

// WriteAt writes all of Data at offset Off of FD (pwrite). It answers the
// number of bytes written, len(Data) unless there is an error.
type WriteAt struct {
	effect.Returns[int]
	FD   FD
	Off  int64
	Data []byte
}

// ReadAt reads into Buf from offset Off of FD (pread). It answers the number
// of bytes read; fewer than len(Buf) means the file ended.
type ReadAt struct {
	effect.Returns[int]
	FD  FD
	Off int64
	Buf []byte
}

// Fdatasync flushes FD's data (and the metadata needed to read it) to
// stable storage.
type Fdatasync struct {
	effect.Returns[struct{}]
	FD FD
}

// Fsync flushes FD's data and all its metadata to stable storage.
type Fsync struct {
	effect.Returns[struct{}]
	FD FD
}

// Truncate sets FD's size to Size (ftruncate).
type Truncate struct {
	effect.Returns[struct{}]
	FD   FD
	Size int64
}

// Rename renames From to To atomically, replacing To.
type Rename struct {
	effect.Returns[struct{}]
	From string
	To   string
}

// Remove removes the file or empty directory at Path.
type Remove struct {
	effect.Returns[struct{}]
	Path string
}

// DirEntry is one entry of a directory listing.
type DirEntry struct {
	Name  string
	IsDir bool
}

// List answers the entries of directory Dir, sorted by name.
type List struct {
	effect.Returns[[]DirEntry]
	Dir string
}

// Mkdir creates the directory Path (its parent must exist). An existing
// directory is an error matching fs.ErrExist.
type Mkdir struct {
	effect.Returns[struct{}]
	Path string
	Perm fs.FileMode
}

// SyncDir makes the entries of directory Path durable.
type SyncDir struct {
	effect.Returns[struct{}]
	Path string
}

// FileInfo describes a file.
type FileInfo struct {
	Name    string
	Size    int64
	IsDir   bool
	Mode    fs.FileMode
	ModTime time.Time
}

// Stat describes the file at Path.
type Stat struct {
	effect.Returns[FileInfo]
	Path string
}

// Close closes FD (releasing its lock, if it came from Lock).
type Close struct {
	effect.Returns[struct{}]
	FD FD
}

// Lock takes an exclusive non-blocking lock on the file at Path, creating
// it, and answers the FD that holds the lock. A lock held by another process
// (or another open of the same file) is an error matching ErrLocked.
type Lock struct {
	effect.Returns[FD]
	Path string
}

// Fallocate reserves the range [Off, Off+Len) of FD and extends its size to
// cover it.
type Fallocate struct {
	effect.Returns[struct{}]
	FD  FD
	Off int64
	Len int64
}

// Clock answers the current time.
type Clock struct {
	effect.Returns[time.Time]
}

// Random answers N random bytes.
type Random struct {
	effect.Returns[[]byte]
	N int
}

func (Open) EffectName() string      { return NameOpen }
func (WriteAt) EffectName() string   { return NameWriteAt }
func (ReadAt) EffectName() string    { return NameReadAt }
func (Fdatasync) EffectName() string { return NameFdatasync }
func (Fsync) EffectName() string     { return NameFsync }
func (Truncate) EffectName() string  { return NameTruncate }
func (Rename) EffectName() string    { return NameRename }
func (Remove) EffectName() string    { return NameRemove }
func (List) EffectName() string      { return NameList }
func (Mkdir) EffectName() string     { return NameMkdir }
func (SyncDir) EffectName() string   { return NameSyncDir }
func (Stat) EffectName() string      { return NameStat }
func (Close) EffectName() string     { return NameClose }
func (Lock) EffectName() string      { return NameLock }
func (Fallocate) EffectName() string { return NameFallocate }
func (Clock) EffectName() string     { return NameClock }
func (Random) EffectName() string    { return NameRandom }

// ErrLocked matches the error of a Lock on a file that is locked elsewhere.
var ErrLocked = errors.New("platform: locked by another process")

// Error is a failed IO effect: the effect's name, the path it concerned
// (for a rename, "from -> to") and the underlying error.
type Error struct {
	Op   string
	Path string
	Err  error
}

func (e *Error) Error() string { return fmt.Sprintf("%s %s: %v", e.Op, e.Path, e.Err) }

// Unwrap gives the underlying error.
func (e *Error) Unwrap() error { return e.Err }
