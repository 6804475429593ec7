package ops

import (
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Event is a stored event.
type Event struct {
	ID     uuid.UUID
	Stream string
	Seq    uint64
	Pos    uint64
	Type   string
	At     time.Time
	Data   []byte
}

// EventData is an event to append: the caller's part of an Event.
// A zero ID asks the backend for a fresh one; its SX form leaves :id out
// (sx:",omitzero"), so traces and the wire never show a nil UUID. A decoder
// that can tell an absent ID from a written-out nil UUID reads IDs with
// ParseEventID.
type EventData struct {
	ID   uuid.UUID `sx:",omitzero"`
	Type string
	Data []byte
}

// ParseEventID reads an event ID given as text (a command-line flag, an SX
// or JSON field): a UUID in any form uuid.Parse takes. The nil UUID is
// refused, since in Go a zero ID asks the backend to assign one: where an
// absent ID and a written-out nil UUID can be told apart, the nil UUID is a
// mistake, not a request. Errors are *InvalidError with Field "id".
func ParseEventID(s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, &InvalidError{Field: "id", Reason: fmt.Sprintf("%q is not a UUID: %v", s, err)}
	}
	if id == uuid.Nil {
		return uuid.Nil, &InvalidError{Field: "id", Reason: "the nil UUID is not an event ID; leave the ID out to have the backend assign one"}
	}
	return id, nil
}

// ExpectKind says what an Expect checks.
type ExpectKind uint8

const (
	// ExpectAny checks nothing.
	ExpectAny ExpectKind = iota
	// ExpectNoStream requires an empty stream (head 0) or an absent key.
	ExpectNoStream
	// ExpectExists requires a non-empty stream or a present key.
	ExpectExists
	// ExpectExact requires the stream's head, or the key's revision, to be N.
	ExpectExact
)

// Expect is an optimistic-concurrency expectation. The zero value is Any.
type Expect struct {
	Kind ExpectKind
	N    uint64
}

// Any expects nothing.
func Any() Expect { return Expect{} }

// NoStream expects an empty stream or an absent key.
func NoStream() Expect { return Expect{Kind: ExpectNoStream} }

// Exists expects a non-empty stream or a present key.
func Exists() Expect { return Expect{Kind: ExpectExists} }

// Exact expects head (or revision) n. Exact(0) is NoStream.
func Exact(n uint64) Expect {
	if n == 0 {
		return NoStream()
	}
	return Expect{Kind: ExpectExact, N: n}
}

// Holds reports whether a stream at head (or a key at revision) cur
// satisfies e. An unknown kind never holds.
func (e Expect) Holds(cur uint64) bool {
	switch e.Kind {
	case ExpectAny:
		return true
	case ExpectNoStream:
		return cur == 0
	case ExpectExists:
		return cur > 0
	case ExpectExact:
		return cur == e.N
	}
	return false
}

func (e Expect) String() string {
	switch e.Kind {
	case ExpectAny:
		return "any"
	case ExpectNoStream:
		return "no-stream"
	case ExpectExists:
		return "exists"
	case ExpectExact:
		return fmt.Sprintf("%d", e.N)
	}
	return fmt.Sprintf("unknown(%d)", e.Kind)
}

// MarshalText gives the String form, so that an expectation prints as any,
// no-stream, exists or its number in traces (SX) and JSON.
func (e Expect) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// UnmarshalText reads the String form, as ParseExpect does.
func (e *Expect) UnmarshalText(b []byte) error {
	x, err := ParseExpect(string(b))
	if err != nil {
		return err
	}
	*e = x
	return nil
}

// ParseExpect reads the String form of an Expect: "any", "no-stream",
// "exists" or a number.
func ParseExpect(s string) (Expect, error) {
	switch s {
	case "any", "":
		return Any(), nil
	case "no-stream":
		return NoStream(), nil
	case "exists":
		return Exists(), nil
	}
	var n uint64
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil || fmt.Sprint(n) != s {
		return Expect{}, &InvalidError{Field: "expect", Reason: fmt.Sprintf("%q is not any, no-stream, exists or a number", s)}
	}
	return Exact(n), nil
}

// KvEntry is a key with its value and the revision of its last change.
type KvEntry struct {
	Key      string
	Value    []byte
	Revision uint64
}

// KvChange is one kv part of a commit: a put, or a delete when Delete is set.
type KvChange struct {
	Key    string
	Value  []byte
	Delete bool
	Expect Expect
}

// Snapshot is a checkpoint of a projection: its value after folding the
// events of its source up to Seq, made by projection version Version.
type Snapshot struct {
	Name    string
	Version uint64
	Seq     uint64
	Value   []byte
}

// StreamInfo names a stream and its head.
type StreamInfo struct {
	Name string
	Head uint64
}
