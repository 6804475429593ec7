package ops

import (
	"time"

	"rose-ash.com/persist/effect"
)

// Append adds Events to Stream, atomically, if Expect holds.
type Append struct {
	effect.Returns[AppendResult]
	Stream string
	Expect Expect
	Events []EventData
}

// AppendResult tells where an append's events were stored.
// FirstSeq..Head are their seqs and FirstPos..LastPos their positions.
type AppendResult struct {
	Stream   string
	FirstSeq uint64
	Head     uint64
	FirstPos uint64
	LastPos  uint64
}

// Read returns up to Limit events of Stream from seq From (0 and 1 both mean
// the start), in seq order. Limit 0 means DefaultPage; more than MaxPage is
// an invalid operation.
//
// Page, when set, is memory the caller lends for the answer: its Events
// may live in the page, valid until the page is used again (see Page). It
// is not part of the operation's meaning: it is not printed, not sent on
// the wire, and a backend may ignore it.
type Read struct {
	effect.Returns[ReadResult]
	Stream string
	From   uint64
	Limit  int
	Page   *Page `sx:"-" json:"-"`
}

// ReadResult is a page of a stream and the stream's stored head when it
// was read. Events hidden by the stream's limits or deletion are left out,
// so a page may hold fewer than Limit events, or none, while more follow.
// Next is the seq to read from next (0 from a backend that does not set
// it: then continue after the last event); the reader has read up to Head
// when Next > Head.
type ReadResult struct {
	Events []Event
	Head   uint64
	Next   uint64 `sx:",omitzero"`
}

// ReadAll returns up to Limit events of every stream from position From (0
// and 1 both mean the start), in position order. Page is as in Read.
type ReadAll struct {
	effect.Returns[ReadAllResult]
	From  uint64
	Limit int
	Page  *Page `sx:"-" json:"-"`
}

// ReadAllResult is a page of the global log and its last position when it
// was read. Hidden events are left out, as in ReadResult; Next is the
// position to read from next (0 from a backend that does not set it), so a
// long run of hidden events gives short or empty pages, never a stall.
type ReadAllResult struct {
	Events []Event
	Head   uint64
	Next   uint64 `sx:",omitzero"`
}

// Head returns the head (last seq, 0 when empty) of a stream.
type Head struct {
	effect.Returns[uint64]
	Stream string
}

// Streams lists non-empty streams whose names start with Prefix, in byte
// order, after the name After, at most Limit (0 means DefaultPage).
// Streams that read as absent (soft- or hard-deleted) are left out unless
// Deleted is set: then every stream with stored events or a stored state
// (metadata, deletion) is listed, for tools that walk a whole store
// (export, digests).
type Streams struct {
	effect.Returns[StreamsResult]
	Prefix  string
	After   string
	Limit   int
	Deleted bool `sx:",omitempty"`
}

// StreamsResult is a page of streams; More is set when more follow.
type StreamsResult struct {
	Streams []StreamInfo
	More    bool
}

// Wait blocks until Stream's head (the global log's last position when Stream
// is empty) passes After, or Timeout elapses, or the context ends. Timeout 0
// means no timeout. A timeout is an answer, not an error.
type Wait struct {
	effect.Returns[WaitResult]
	Stream  string
	After   uint64
	Timeout time.Duration
}

// WaitResult is the head (or global position) seen last; Passed is false
// when the wait timed out.
type WaitResult struct {
	Head   uint64
	Passed bool
}

// KvGet reads a key: its entry, or nil when the key is absent. The answer
// is pointer-shaped so that performing it in place allocates nothing beyond
// the entry itself.
type KvGet struct {
	effect.Returns[*KvEntry]
	Key string
}

// KvPut sets a key's value if Expect holds for its revision.
type KvPut struct {
	effect.Returns[KvResult]
	Key    string
	Value  []byte
	Expect Expect
}

// KvDelete removes a key if Expect holds for its revision. Deleting an absent
// key (with an expectation that allows it) is not an error.
type KvDelete struct {
	effect.Returns[KvResult]
	Key    string
	Expect Expect
}

// KvResult is the revision after a kv change; Existed tells whether the key
// was present before it.
type KvResult struct {
	Key      string
	Revision uint64
	Existed  bool
}

// KvList lists entries whose keys start with Prefix, in byte order, after
// the key After, at most Limit (0 means DefaultPage).
type KvList struct {
	effect.Returns[KvListResult]
	Prefix string
	After  string
	Limit  int
}

// KvListResult is a page of entries; More is set when more follow.
type KvListResult struct {
	Entries []KvEntry
	More    bool
}

// SnapshotRead reads the newest snapshot called Name, or, when
// Generation is set, that generation of it (see SnapshotWrite).
type SnapshotRead struct {
	effect.Returns[SnapshotResult]
	Name       string
	Generation uint64 `sx:",omitzero"`
}

// SnapshotResult is the snapshot; Found is false when there is none.
// Generation is its generation (0 from a backend that keeps one only).
type SnapshotResult struct {
	Snapshot   Snapshot
	Found      bool
	Generation uint64 `sx:",omitzero"`
}

// SnapshotWrite stores a snapshot as the newest generation of its name.
// Generations of a name are numbered 1, 2, 3, … and never reused; the
// store keeps the newest Keep of them (0 means 1: the write replaces the
// previous one) and drops older ones in the same write.
type SnapshotWrite struct {
	effect.Returns[struct{}]
	Snapshot Snapshot
	Keep     int `sx:",omitzero"`
}

// Now returns the backend's clock.
type Now struct {
	effect.Returns[time.Time]
}

// Commit applies its parts atomically: all or none.
type Commit struct {
	effect.Returns[CommitResult]
	Appends []Append
	Kv      []KvChange
}

// CommitResult has one result per part, in the order of the commit.
// Revision is the kv revision the commit's kv changes share (0 when it has
// none).
type CommitResult struct {
	Appends  []AppendResult
	Kv       []KvResult
	Revision uint64
}

// Operation names, as printed in traces and at the command line.
const (
	NameAppend        = "persist/append"
	NameRead          = "persist/read"
	NameReadAll       = "persist/read-all"
	NameHead          = "persist/head"
	NameStreams       = "persist/streams"
	NameWait          = "persist/wait"
	NameKvGet         = "persist/kv-get"
	NameKvPut         = "persist/kv-put"
	NameKvDelete      = "persist/kv-delete"
	NameKvList        = "persist/kv-list"
	NameSnapshotRead  = "persist/snapshot-read"
	NameSnapshotWrite = "persist/snapshot-write"
	NameNow           = "persist/now"
	NameCommit        = "persist/commit"
)

func (Append) EffectName() string        { return NameAppend }
func (Read) EffectName() string          { return NameRead }
func (ReadAll) EffectName() string       { return NameReadAll }
func (Head) EffectName() string          { return NameHead }
func (Streams) EffectName() string       { return NameStreams }
func (Wait) EffectName() string          { return NameWait }
func (KvGet) EffectName() string         { return NameKvGet }
func (KvPut) EffectName() string         { return NameKvPut }
func (KvDelete) EffectName() string      { return NameKvDelete }
func (KvList) EffectName() string        { return NameKvList }
func (SnapshotRead) EffectName() string  { return NameSnapshotRead }
func (SnapshotWrite) EffectName() string { return NameSnapshotWrite }
func (Now) EffectName() string           { return NameNow }
func (Commit) EffectName() string        { return NameCommit }

// AsCommit gives the commit an append, a kv put or a kv delete stands for.
func AsCommit(e effect.Effect) (Commit, bool) {
	switch op := e.(type) {
	case Commit:
		return op, true
	case Append:
		return Commit{Appends: []Append{op}}, true
	case KvPut:
		return Commit{Kv: []KvChange{{Key: op.Key, Value: op.Value, Expect: op.Expect}}}, true
	case KvDelete:
		return Commit{Kv: []KvChange{{Key: op.Key, Delete: true, Expect: op.Expect}}}, true
	}
	return Commit{}, false
}
