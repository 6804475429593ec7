package programs

import (
	"encoding/json"
	"errors"
	"fmt"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/sx"
)

// ErrAhead reports a position (a projection state, a snapshot or a follow
// checkpoint) that claims to cover events its source does not hold: the
// source was replaced or lost events. Nothing is folded or delivered.
var ErrAhead = errors.New("programs: position is ahead of its source")

// Append performs persist/append: it adds events to stream, atomically, if
// expect holds for the stream's head. A failed expectation is the backend's
// *ops.Conflict and an invalid append its *ops.InvalidError, both returned
// as they are.
func Append(p *effect.P, stream string, expect ops.Expect, events ...ops.EventData) (ops.AppendResult, error) {
	return effect.Perform(p, ops.Append{Stream: stream, Expect: expect, Events: events})
}

// Head performs persist/head: the stream's last seq, 0 when it is empty.
func Head(p *effect.P, stream string) (uint64, error) {
	return effect.Perform(p, ops.Head{Stream: stream})
}

// ReadFrom returns the events of stream from seq from (0 and 1 both mean the
// start) up to the head seen by its first persist/read, paging through
// further reads as needed. Events appended after that first read are not
// included, so the result is a consistent prefix of the stream. It is nil
// when there are no such events, a from past the head included. On an
// error the events read before it come back with it.
func ReadFrom(p *effect.P, stream string, from uint64) ([]ops.Event, error) {
	var out []ops.Event
	_, err := scan(p, stream, from, nil, func(ev ops.Event) error {
		out = append(out, ev)
		return nil
	})
	return out, err
}

// ReadStream returns the whole stream as ReadFrom(p, stream, 1) does.
func ReadStream(p *effect.P, stream string) ([]ops.Event, error) {
	return ReadFrom(p, stream, 1)
}

// scan calls fn for each event of stream from seq from up to the head seen
// by the first read, a page at a time, and returns that head. An error from
// fn stops it and is returned as it is. A from past the head calls fn for
// nothing; callers that hold a position check the head against it. With a
// page, the reads lend it (ops.Read.Page): each event fn gets is valid
// until fn returns.
func scan(p *effect.P, stream string, from uint64, pg *ops.Page, fn func(ops.Event) error) (uint64, error) {
	from = max(from, 1)
	page, err := effect.Perform(p, ops.Read{Stream: stream, From: from, Page: pg})
	if err != nil {
		return 0, err
	}
	head := page.Head
	for {
		for _, ev := range page.Events {
			if ev.Seq > head {
				return head, nil
			}
			if err := fn(ev); err != nil {
				return head, err
			}
			from = ev.Seq + 1
		}
		// A page may end short where hidden events were skipped; Next
		// says where to go on (0 from a backend that does not set it).
		if page.Next > from {
			from = page.Next
		}
		if from > head {
			return head, nil
		}
		if len(page.Events) == 0 && page.Next == 0 {
			return head, fmt.Errorf("read %q from %d: empty page below the head %d", stream, from, head)
		}
		if page, err = effect.Perform(p, ops.Read{Stream: stream, From: from, Page: pg}); err != nil {
			return head, err
		}
	}
}

// Event builds an event to append of type typ carrying data. Its ID is
// zero, so the backend assigns one; set it to make retries idempotent.
func Event(typ string, data []byte) ops.EventData {
	return ops.EventData{Type: typ, Data: data}
}

// JSONEvent builds an event to append of type typ whose data is v encoded as
// JSON. Its ID is zero, as with Event.
func JSONEvent(typ string, v any) (ops.EventData, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return ops.EventData{}, fmt.Errorf("encode %s event: %w", typ, err)
	}
	return ops.EventData{Type: typ, Data: data}, nil
}

// Decode reads an event's data into a T. The data may be JSON or SX text:
// {"order": 17} and {:order 17} decode to the same struct, by the struct's
// JSON field names and tags (sx.Unmarshal, the one rule for data). An
// error names the event's type, stream and seq.
func Decode[T any](ev ops.Event) (T, error) {
	v, err := DecodeData[T](ev.Data)
	if err != nil {
		return v, fmt.Errorf("decode %s event %s#%d: %w", ev.Type, ev.Stream, ev.Seq, err)
	}
	return v, nil
}

// DecodeData reads data, JSON or SX text such as a kv value, into a T as
// Decode does.
func DecodeData[T any](data []byte) (T, error) {
	var v T
	if err := sx.Unmarshal(data, &v); err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}
