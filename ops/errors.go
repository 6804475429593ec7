package ops

import (
	"errors"
	"fmt"

	"github.com/google/uuid"
)

var (
	// ErrConflict matches every *Conflict.
	ErrConflict = errors.New("persist: conflict")
	// ErrInvalid matches every *InvalidError.
	ErrInvalid = errors.New("persist: invalid operation")
	// ErrDuplicateID matches every *DuplicateIDError.
	ErrDuplicateID = errors.New("persist: duplicate event id")
	// ErrClosed is returned by a backend after Close.
	ErrClosed = errors.New("persist: store closed")
)

// Conflict is a failed expectation: nothing was written. Stream is set for an
// append, Key for a kv change. Actual is the stream's head or the key's
// revision (0 when empty or absent).
type Conflict struct {
	Stream   string
	Key      string
	Expected Expect
	Actual   uint64
}

func (c *Conflict) Error() string {
	if c.Key != "" || c.Stream == "" {
		actual := fmt.Sprintf("revision %d", c.Actual)
		if c.Actual == 0 {
			actual = "absent"
		}
		var want string
		switch c.Expected.Kind {
		case ExpectNoStream:
			want = "the key absent"
		case ExpectExists:
			want = "the key present"
		default:
			want = "revision " + c.Expected.String()
		}
		return fmt.Sprintf("persist: conflict on key %q: expected %s, actual %s", c.Key, want, actual)
	}
	var want string
	switch c.Expected.Kind {
	case ExpectNoStream:
		want = "no stream (head 0)"
	case ExpectExists:
		want = "an existing stream"
	default:
		want = "head " + c.Expected.String()
	}
	return fmt.Sprintf("persist: conflict on stream %q: expected %s, actual head %d", c.Stream, want, c.Actual)
}

// Is makes errors.Is(err, ErrConflict) match.
func (c *Conflict) Is(target error) bool { return target == ErrConflict }

// InvalidError is an operation that breaks a rule of its own (a limit, a
// malformed field): nothing was written.
type InvalidError struct {
	Op     string // the operation's name, such as "persist/append"
	Field  string // the field at fault, such as "events[2].data"
	Reason string
}

func (e *InvalidError) Error() string {
	if e.Op == "" {
		return fmt.Sprintf("persist: invalid %s: %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("%s: invalid %s: %s", e.Op, e.Field, e.Reason)
}

// Is makes errors.Is(err, ErrInvalid) match.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// DuplicateIDError is an append that reuses the ID of an event stored in
// its stream other than as a retry of a whole stored batch (see the package
// doc): nothing was written. Seq is where the stored event with that ID is;
// Index is the event of the append that carries it.
type DuplicateIDError struct {
	Stream string
	ID     uuid.UUID
	Seq    uint64
	Index  int
}

func (e *DuplicateIDError) Error() string {
	return fmt.Sprintf("persist: event id %s (events[%d]) is already stored in stream %q at seq %d", e.ID, e.Index, e.Stream, e.Seq)
}

// Is makes errors.Is(err, ErrDuplicateID) match.
func (e *DuplicateIDError) Is(target error) bool { return target == ErrDuplicateID }

var (
	// ErrStreamDeleted matches every *StreamDeletedError.
	ErrStreamDeleted = errors.New("persist: stream deleted")
	// ErrCompacted matches every *CompactedError.
	ErrCompacted = errors.New("persist: revision compacted")
)

func (e *StreamDeletedError) Error() string {
	return fmt.Sprintf("persist: stream %q is hard-deleted and can not be written again", e.Stream)
}

// Is makes errors.Is(err, ErrStreamDeleted) match.
func (e *StreamDeletedError) Is(target error) bool { return target == ErrStreamDeleted }

func (e *CompactedError) Error() string {
	return fmt.Sprintf("persist: kv revision %d is compacted: history holds changes after revision %d only", e.Revision, e.Compacted)
}

// Is makes errors.Is(err, ErrCompacted) match.
func (e *CompactedError) Is(target error) bool { return target == ErrCompacted }
