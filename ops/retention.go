package ops

import (
	"time"

	"rose-ash.com/persist/effect"
)

// Operation names of stream metadata, deletion, kv history and watch,
// snapshot generations and store statistics.
const (
	NameStreamMetaRead      = "persist/stream-meta-read"
	NameStreamMetaWrite     = "persist/stream-meta-write"
	NameStreamDelete        = "persist/stream-delete"
	NameKvHistory           = "persist/kv-history"
	NameKvWatch             = "persist/kv-watch"
	NameKvWait              = "persist/kv-wait"
	NameSnapshotGenerations = "persist/snapshot-generations"
	NameStat                = "persist/stat"
)

// Limits of the retention operations.
const (
	// MaxSeqLimit is the largest max-count and truncate-before a stream's
	// metadata may name: 2^53, the largest integer every JSON reader
	// holds exactly. No stream comes near it.
	MaxSeqLimit = 1 << 53
	// MaxAgeLimit is the longest max-age: 100 years (of 365.25 days).
	MaxAgeLimit = 36525 * 24 * time.Hour
	// DefaultKvHistory is how many versions of each key a store keeps
	// (the current one included) unless its options say otherwise.
	DefaultKvHistory = 10
	// MaxKvHistory is the most versions of a key a store may be asked to
	// keep.
	MaxKvHistory = 1000
	// MaxSnapshotGenerations is the most generations of one snapshot name
	// a SnapshotWrite may ask to keep.
	MaxSnapshotGenerations = 100
)

// StreamMeta is a stream's retention limits; a zero field sets no limit.
// An event is hidden when any limit hides it:
//
//   - MaxCount n keeps the last n events: seq s is hidden when head-s >= n.
//   - MaxAge d keeps events younger than d by the backend's clock: the
//     event is hidden once now - At >= d.
//   - TruncateBefore s hides every seq below s.
type StreamMeta struct {
	MaxCount       uint64
	MaxAge         time.Duration
	TruncateBefore uint64
}

// StreamState is what a backend stores of a stream besides its events:
// its limits and whether it was deleted. Deleted marks a soft delete,
// Tombstone a hard one (see the package doc).
type StreamState struct {
	StreamMeta
	Deleted   bool
	Tombstone bool
}

// Absent reports whether a stream in this state, whose stored head is
// head, reads as absent: it was hard-deleted, or soft-deleted and not
// appended to since.
func (st StreamState) Absent(head uint64) bool {
	return st.Tombstone || (st.Deleted && head < st.TruncateBefore)
}

// FirstSeq is the first seq the seq-based limits (tombstone,
// truncate-before, max-count) leave visible in a stream at head; head+1
// when they hide every event. Max-age may hide more (see Hides).
func (st StreamState) FirstSeq(head uint64) uint64 {
	if st.Tombstone {
		return head + 1
	}
	first := max(st.TruncateBefore, 1)
	if st.MaxCount > 0 && head > st.MaxCount {
		first = max(first, head-st.MaxCount+1)
	}
	return min(first, head+1)
}

// Hides reports whether the stored event at seq, stamped at, of a stream
// at head is hidden at the time now.
func (st StreamState) Hides(seq, head uint64, at, now time.Time) bool {
	if seq < st.FirstSeq(head) {
		return true
	}
	return st.MaxAge > 0 && now.Sub(at) >= st.MaxAge
}

// StreamMetaRead reads a stream's metadata and deletion state. A stream
// that was never given any reads as the zero state.
type StreamMetaRead struct {
	effect.Returns[StreamMetaResult]
	Stream string
}

// StreamMetaWrite replaces a stream's limits with Meta, if Expect holds
// for the stream's head (see the package doc). It raises no seq and takes
// no position.
type StreamMetaWrite struct {
	effect.Returns[StreamMetaResult]
	Stream string
	Expect Expect
	Meta   StreamMeta
}

// StreamDelete deletes a stream, if Expect holds for its head: a soft
// delete hides its events and lets a later append continue its numbering;
// a hard delete (Hard) leaves a tombstone, and the stream can never be
// written again. See the package doc.
type StreamDelete struct {
	effect.Returns[StreamMetaResult]
	Stream string
	Expect Expect
	Hard   bool `sx:",omitempty"`
}

// StreamMetaResult is a stream's state after a metadata read, write or
// delete, and its stored head.
type StreamMetaResult struct {
	Stream string
	Head   uint64
	StreamState
}

// StreamDeletedError refuses a write (append, metadata, delete) to a
// hard-deleted stream: nothing was written.
type StreamDeletedError struct {
	Stream string
}

// KvVersion is one change of a key: its value and revision, or its
// deletion.
type KvVersion struct {
	Key      string
	Revision uint64
	Value    []byte `sx:",omitempty"`
	Deleted  bool   `sx:",omitempty"`
}

// KvHistory reads the kept versions of a key, newest first, at most Limit
// (0 means every kept version). A store keeps the last DefaultKvHistory
// versions of each key unless its options say otherwise.
type KvHistory struct {
	effect.Returns[KvHistoryResult]
	Key   string
	Limit int
}

// KvHistoryResult holds a key's versions, newest first; More is set when
// older kept versions follow.
type KvHistoryResult struct {
	Versions []KvVersion
	More     bool
}

// KvWatch reads the changes of keys starting with Prefix from revision
// From on, in revision order (a commit's changes, sharing one revision, in
// key order), at most Limit changes (0 means DefaultPage) but never part
// of a revision. From 0 starts at the oldest revision the store's history
// still holds whole. A From at or below what history dropped is a
// *CompactedError, never a silent gap.
type KvWatch struct {
	effect.Returns[KvWatchResult]
	Prefix string
	From   uint64
	Limit  int
}

// KvWatchResult is a page of changes. Next is the revision to watch from
// next; Revision is the store's kv revision when the page was read, so the
// watcher has seen everything when Next > Revision, and then waits with
// KvWait{After: Revision}.
type KvWatchResult struct {
	Changes  []KvVersion
	Next     uint64
	Revision uint64
}

// KvWait blocks until the store's kv revision passes After, or Timeout
// elapses, or the context ends, as Wait does for the log. Timeout 0 means
// no timeout; a timeout is an answer (Passed false), not an error. Its
// Head is the kv revision seen last.
type KvWait struct {
	effect.Returns[WaitResult]
	After   uint64
	Timeout time.Duration
}

// CompactedError refuses a watch from a revision the store's kv history
// no longer holds whole: changes at or below Compacted were dropped.
// Watch from Compacted+1 (or From 0) after reading the current state.
type CompactedError struct {
	Revision  uint64
	Compacted uint64
}

// SnapshotGenerations lists the kept generations of a snapshot name,
// newest first.
type SnapshotGenerations struct {
	effect.Returns[SnapshotGenerationsResult]
	Name string
}

// SnapshotGeneration describes one kept generation of a snapshot.
type SnapshotGeneration struct {
	Generation uint64
	Version    uint64
	Seq        uint64
}

// SnapshotGenerationsResult holds the kept generations, newest first.
type SnapshotGenerationsResult struct {
	Generations []SnapshotGeneration
}

// Stat asks a backend what it holds, logically and physically.
type Stat struct {
	effect.Returns[StatResult]
}

// StatResult is what a store holds. Counts of what is visible and what is
// stored differ by what retention and deletion hide and compaction has
// not yet removed. Byte figures are those of a backend that knows them
// (BytesKnown); LastCompaction is zero when the store was never compacted.
type StatResult struct {
	Streams          uint64 // streams that read as present
	StreamsDeleted   uint64 // streams soft- or hard-deleted and not written since
	EventsStored     uint64
	EventsVisible    uint64
	KvKeys           uint64
	KvRevision       uint64
	KvVersions       uint64 // kv versions kept in history, current ones included
	Snapshots        uint64 // snapshot generations kept
	BytesKnown       bool
	BytesStored      uint64
	BytesReclaimable uint64
	LastCompaction   time.Time
}

func (StreamMetaRead) EffectName() string      { return NameStreamMetaRead }
func (StreamMetaWrite) EffectName() string     { return NameStreamMetaWrite }
func (StreamDelete) EffectName() string        { return NameStreamDelete }
func (KvHistory) EffectName() string           { return NameKvHistory }
func (KvWatch) EffectName() string             { return NameKvWatch }
func (KvWait) EffectName() string              { return NameKvWait }
func (SnapshotGenerations) EffectName() string { return NameSnapshotGenerations }
func (Stat) EffectName() string                { return NameStat }
