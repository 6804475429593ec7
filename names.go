package persist

import (
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/programs"
)

// The types of the data model, under the names the methods use. They are
// aliases: a persist.Event is an ops.Event, so values pass unchanged
// between the methods of a DB and programs run on it.
type (
	// Event is a stored event.
	Event = ops.Event
	// EventData is an event to append; a zero ID asks the store for one.
	EventData = ops.EventData
	// Expect is an optimistic-concurrency expectation: Any, NoStream,
	// Exists or Exact(n).
	Expect = ops.Expect
	// AppendResult tells where an append's events were stored.
	AppendResult = ops.AppendResult
	// StreamInfo names a stream and its head.
	StreamInfo = ops.StreamInfo
	// WaitResult is the head seen last; Passed is false on a timeout.
	WaitResult = ops.WaitResult
	// KvEntry is a key with its value and revision.
	KvEntry = ops.KvEntry
	// KvResult is the revision after a kv change.
	KvResult = ops.KvResult
	// Commit is several appends and kv changes applied all or none.
	Commit = ops.Commit
	// Append is one append of a Commit.
	Append = ops.Append
	// KvChange is one kv put or delete of a Commit.
	KvChange = ops.KvChange
	// CommitResult has one result per part of a Commit.
	CommitResult = ops.CommitResult
	// Conflict is a failed expectation: nothing was written.
	Conflict = ops.Conflict
	// InvalidError is an operation that breaks a rule: nothing was written.
	InvalidError = ops.InvalidError
	// Projection is a fold of a stream checkpointed as a snapshot.
	Projection[S any] = programs.Projection[S]
	// State is a projection's value and the seq it covers.
	State[S any] = programs.State[S]
	// Step is a projection's step; its error stops the fold. The event is
	// the step's to keep, Data included.
	Step[S any] = programs.Step[S]
	// StepError is a step that failed, naming the stream and seq.
	StepError = programs.StepError
	// StreamLimits is a stream's retention limits: max-count, max-age,
	// truncate-before (ops.StreamMeta).
	StreamLimits = ops.StreamMeta
	// StreamMetaResult is a stream's limits, deletion state and stored
	// head.
	StreamMetaResult = ops.StreamMetaResult
	// StreamDeletedError refuses a write to a hard-deleted stream.
	StreamDeletedError = ops.StreamDeletedError
	// KvVersion is one change of a key: a value with its revision, or a
	// delete.
	KvVersion = ops.KvVersion
	// CompactedError refuses a watch from a revision history dropped.
	CompactedError = ops.CompactedError
	// StatResult is what a store holds, visible against stored.
	StatResult = ops.StatResult
	// CheckpointPolicy says when ProjectCheckpointed checkpoints.
	CheckpointPolicy = programs.CheckpointPolicy
)

// Any expects nothing: the zero Expect.
func Any() Expect { return ops.Any() }

// NoStream expects an empty stream (head 0) or an absent key.
func NoStream() Expect { return ops.NoStream() }

// Exists expects a non-empty stream or a present key.
func Exists() Expect { return ops.Exists() }

// Exact expects head n of a stream or revision n of a key; Exact(0) is
// NoStream.
func Exact(n uint64) Expect { return ops.Exact(n) }

// Errors to branch on with errors.Is; they are the errors of packages ops
// and programs themselves.
var (
	// ErrConflict matches every *Conflict.
	ErrConflict = ops.ErrConflict
	// ErrInvalid matches every *InvalidError.
	ErrInvalid = ops.ErrInvalid
	// ErrClosed is the answer of a closed DB.
	ErrClosed = ops.ErrClosed
	// ErrStreamDeleted matches every *StreamDeletedError.
	ErrStreamDeleted = ops.ErrStreamDeleted
	// ErrCompacted matches every *CompactedError.
	ErrCompacted = ops.ErrCompacted
	// ErrRetriesExhausted is wrapped by AppendRetry and KvUpdate when every
	// attempt met a conflict.
	ErrRetriesExhausted = programs.ErrRetriesExhausted
	// ErrAhead is wrapped when a position claims more than its source
	// holds.
	ErrAhead = programs.ErrAhead
)

// NewEvent builds an event to append of type typ carrying data (JSON or
// SX text, or any bytes).
func NewEvent(typ string, data []byte) EventData { return programs.Event(typ, data) }

// JSONEvent builds an event to append of type typ whose data is v encoded
// as JSON.
func JSONEvent(typ string, v any) (EventData, error) { return programs.JSONEvent(typ, v) }

// Decode reads an event's data, written as JSON or as SX, into a T by the
// T's JSON field names: {:order 17} and {"order": 17} decode alike (see
// programs.Decode).
func Decode[T any](ev Event) (T, error) { return programs.Decode[T](ev) }

// DecodeData reads data, such as a kv value, into a T as Decode does.
func DecodeData[T any](data []byte) (T, error) { return programs.DecodeData[T](data) }
