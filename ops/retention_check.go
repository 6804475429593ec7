package ops

import (
	"fmt"
	"time"

	"github.com/google/uuid"
)

// StreamView is the part of a View that stream metadata and deletion need.
// A backend that keeps them shows them to Check through it; a View
// without it stands for a store where no stream has metadata, and Check
// decides as before.
type StreamView interface {
	View
	// StreamState is the stream's stored state, the zero state when it
	// has none.
	StreamState(stream string) (StreamState, error)
	// EventTime is At of the stored event at seq (1 <= seq <=
	// Head(stream)). It is asked only of streams with a max-age.
	EventTime(stream string, seq uint64) (time.Time, error)
	// Now is the time the backend decides against: the time it stamps the
	// commit being checked with.
	Now() time.Time
}

// MetaPlan is what a StreamMetaWrite or StreamDelete will do, decided by
// CheckMeta or CheckDelete before anything is written: store State for
// Stream, whose stored head is Head. The result to answer is Result().
type MetaPlan struct {
	Stream string
	Head   uint64
	State  StreamState
}

// Result is the answer of the planned operation.
func (p MetaPlan) Result() StreamMetaResult {
	return StreamMetaResult{Stream: p.Stream, Head: p.Head, StreamState: p.State}
}

// CheckMeta validates op and decides it against v: a hard-deleted stream
// is a *StreamDeletedError, a failed expectation a *Conflict, a
// truncate-before beyond head+1 an *InvalidError naming the head. The new
// state replaces the limits wholesale and ends a soft delete (see the
// package doc).
func CheckMeta(op StreamMetaWrite, v View) (MetaPlan, error) {
	if err := op.Validate(); err != nil {
		return MetaPlan{}, err
	}
	head, _, err := writable(op.Stream, op.Expect, v)
	if err != nil {
		return MetaPlan{}, err
	}
	if op.Meta.TruncateBefore > head+1 {
		return MetaPlan{}, &InvalidError{Op: NameStreamMetaWrite, Field: "meta.truncate-before",
			Reason: fmt.Sprintf("seq %d is beyond the head %d of stream %q plus one", op.Meta.TruncateBefore, head, op.Stream)}
	}
	return MetaPlan{Stream: op.Stream, Head: head, State: StreamState{StreamMeta: op.Meta}}, nil
}

// CheckDelete validates op and decides it against v: a hard-deleted
// stream is a *StreamDeletedError, a failed expectation a *Conflict. The
// new state keeps the stream's max-count and max-age, truncates before
// head+1 and marks the stream deleted (and tombstoned when op.Hard).
func CheckDelete(op StreamDelete, v View) (MetaPlan, error) {
	if err := op.Validate(); err != nil {
		return MetaPlan{}, err
	}
	head, st, err := writable(op.Stream, op.Expect, v)
	if err != nil {
		return MetaPlan{}, err
	}
	st.TruncateBefore = head + 1
	st.Deleted = true
	st.Tombstone = op.Hard
	return MetaPlan{Stream: op.Stream, Head: head, State: st}, nil
}

// writable gives the head and state of a stream a metadata write or a
// delete may change: a hard-deleted stream is a *StreamDeletedError, an
// expectation that fails a *Conflict.
func writable(stream string, e Expect, v View) (uint64, StreamState, error) {
	head, st, err := streamOf(stream, v)
	if err != nil {
		return 0, StreamState{}, err
	}
	if st.Tombstone {
		return 0, StreamState{}, &StreamDeletedError{Stream: stream}
	}
	if !holds(e, head, st) {
		return 0, StreamState{}, &Conflict{Stream: stream, Expected: e, Actual: head}
	}
	return head, st, nil
}

// streamOf gives a stream's head and state as v shows them.
func streamOf(stream string, v View) (uint64, StreamState, error) {
	head := v.Head(stream)
	sv, ok := v.(StreamView)
	if !ok {
		return head, StreamState{}, nil
	}
	st, err := sv.StreamState(stream)
	return head, st, err
}

// holds decides an expectation on a stream at the stored head head in
// state st: a stream that reads as absent holds NoStream and fails Exists,
// while Exact speaks of the stored head, which numbering continues from.
func holds(e Expect, head uint64, st StreamState) bool {
	if st.Absent(head) {
		switch e.Kind {
		case ExpectNoStream:
			return true
		case ExpectExists:
			return false
		}
	}
	return e.Holds(head)
}

// visibleAt reports whether the stored event at seq of stream, whose head
// is head and state st, is visible to v now; it asks for the event's time
// only when the stream has a max-age.
func visibleAt(v StreamView, stream string, seq, head uint64, st StreamState) (bool, error) {
	if seq < st.FirstSeq(head) {
		return false, nil
	}
	if st.MaxAge == 0 {
		return true, nil
	}
	at, err := v.EventTime(stream, seq)
	if err != nil {
		return false, err
	}
	return !st.Hides(seq, head, at, v.Now()), nil
}

// idView hides from the event-ID rule the events a stream's limits hide:
// a hidden event is gone to every reader, so its ID counts as unused,
// the same before and after compaction removes it.
type idView struct {
	StreamView
	head uint64
	st   StreamState
}

func (v idView) FindID(stream string, id uuid.UUID) (uint64, uint64, error) {
	seq, pos, err := v.StreamView.FindID(stream, id)
	if err != nil || seq == 0 {
		return seq, pos, err
	}
	ok, err := visibleAt(v.StreamView, stream, seq, v.head, v.st)
	if err != nil || !ok {
		return 0, 0, err
	}
	return seq, pos, nil
}

func (v idView) EventAt(stream string, seq uint64) (uuid.UUID, uint64, error) {
	id, pos, err := v.StreamView.EventAt(stream, seq)
	if err != nil {
		return id, pos, err
	}
	ok, err := visibleAt(v.StreamView, stream, seq, v.head, v.st)
	if err != nil {
		return uuid.Nil, 0, err
	}
	if !ok {
		return uuid.Nil, pos, nil // a hidden event matches no ID: not a retry
	}
	return id, pos, nil
}

// Validate checks the operation; see the package doc.
func (op StreamMetaRead) Validate() error {
	v := validator{op: NameStreamMetaRead}
	v.name("stream", op.Stream, MaxNameBytes)
	return v.result()
}

// Validate checks the operation; see the package doc.
func (op StreamMetaWrite) Validate() error {
	v := validator{op: NameStreamMetaWrite}
	v.name("stream", op.Stream, MaxNameBytes)
	v.expect("expect", op.Expect)
	v.meta("meta.", op.Meta)
	return v.result()
}

// Validate checks the operation; see the package doc.
func (op StreamDelete) Validate() error {
	v := validator{op: NameStreamDelete}
	v.name("stream", op.Stream, MaxNameBytes)
	v.expect("expect", op.Expect)
	return v.result()
}

// Validate checks the operation; see the package doc.
func (op KvHistory) Validate() error {
	v := validator{op: NameKvHistory}
	v.key("key", op.Key)
	v.limit(op.Limit)
	return v.result()
}

// Validate checks the operation; see the package doc.
func (op KvWatch) Validate() error {
	v := validator{op: NameKvWatch}
	v.prefix("prefix", op.Prefix, MaxKeyBytes)
	v.limit(op.Limit)
	return v.result()
}

// Validate checks the operation; see the package doc.
func (op KvWait) Validate() error {
	v := validator{op: NameKvWait}
	if op.Timeout < 0 {
		v.fail("timeout", fmt.Sprintf("negative duration %s", op.Timeout))
	}
	return v.result()
}

// Validate checks the operation; see the package doc.
func (op SnapshotGenerations) Validate() error {
	v := validator{op: NameSnapshotGenerations}
	v.name("name", op.Name, MaxNameBytes)
	return v.result()
}

// ValidateKvHistory checks a store's kv-history depth option: 1 (only the
// current version) to MaxKvHistory.
func ValidateKvHistory(n int) error {
	if n < 1 || n > MaxKvHistory {
		return &InvalidError{Field: "kv-history", Reason: fmt.Sprintf("%d is outside 1..%d", n, MaxKvHistory)}
	}
	return nil
}

func (v *validator) meta(prefix string, m StreamMeta) {
	if m.MaxCount > MaxSeqLimit {
		v.fail(prefix+"max-count", fmt.Sprintf("%d is over the limit of %d", m.MaxCount, uint64(MaxSeqLimit)))
	}
	if m.MaxAge < 0 {
		v.fail(prefix+"max-age", fmt.Sprintf("negative duration %s", m.MaxAge))
	}
	if m.MaxAge > MaxAgeLimit {
		v.fail(prefix+"max-age", fmt.Sprintf("%s is over the limit of %s (100 years)", m.MaxAge, MaxAgeLimit))
	}
	if m.TruncateBefore > MaxSeqLimit {
		v.fail(prefix+"truncate-before", fmt.Sprintf("%d is over the limit of %d", m.TruncateBefore, uint64(MaxSeqLimit)))
	}
}

func (v *validator) keep(n int) {
	if n < 0 || n > MaxSnapshotGenerations {
		v.fail("keep", fmt.Sprintf("%d is outside 0..%d", n, MaxSnapshotGenerations))
	}
}
