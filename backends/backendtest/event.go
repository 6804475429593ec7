package backendtest

import (
	"unicode/utf8"

	"github.com/google/uuid"

	"rose-ash.com/persist/ops"
)

func init() {
	register("event",
		Case{Name: "fields", Doc: "a stored event carries its stream, seq, position, type, data, time and ID", Run: eventFields},
		Case{Name: "at-from-clock", Doc: "an event's At is stamped from the backend clock, between the persist/now answers around the append", Run: eventAtFromClock},
		Case{Name: "now", Doc: "persist/now answers the backend clock, never going back", Run: eventNow},
		Case{Name: "id-assigned", Doc: "events appended without an ID get fresh, distinct IDs", Run: eventIDAssigned},
		Case{Name: "id-kept", Doc: "events appended with an ID keep it, also next to events without one", Run: eventIDKept},
		Case{Name: "data-binary", Doc: "data is opaque bytes: every byte value, NUL and invalid UTF-8 come back unchanged", Run: eventDataBinary},
		Case{Name: "data-empty", Doc: "an event with no data reads back with empty data", Run: eventDataEmpty},
		Case{Name: "type-unicode", Doc: "a type with multi-byte UTF-8 comes back unchanged", Run: eventTypeUnicode},
	)
}

func eventFields(e *Env) {
	r := mustAppend(e, "order-1", ops.NoStream(), ev("created", `{"n":1}`), ev("renamed", `{"n":2}`))
	page := mustRead(e, "order-1", 1, 0)
	if !e.Equal(2, len(page.Events), "events read") {
		return
	}
	for i, got := range page.Events {
		e.Equal("order-1", got.Stream, "event %d: Stream", i)
		e.Equal(uint64(i+1), got.Seq, "event %d: Seq", i)
		e.Equal(r.FirstPos+uint64(i), got.Pos, "event %d: Pos", i)
		e.True(got.ID != uuid.Nil, "event %d: ID is zero", i)
		e.True(!got.At.IsZero(), "event %d: At is zero", i)
	}
	e.Equal([]string{"created", "renamed"}, typesOf(page.Events), "types")
	e.Equal([]string{`{"n":1}`, `{"n":2}`}, dataOf(page.Events), "data")
	e.Equal(uint64(2), page.Head, "Head")
}

func eventAtFromClock(e *Env) {
	before, err := perform(e, ops.Now{})
	e.NoError(err, "persist/now before")
	mustAppend(e, "s", ops.Any(), ev("t", "a"), ev("t", "b"))
	after, err := perform(e, ops.Now{})
	e.NoError(err, "persist/now after")
	page := mustRead(e, "s", 1, 0)
	for i, got := range page.Events {
		e.True(!got.At.Before(before) && !got.At.After(after),
			"event %d: At %s is not between the backend clock's %s and %s", i, got.At, before, after)
	}
}

func eventNow(e *Env) {
	a, err := perform(e, ops.Now{})
	e.NoError(err, "first persist/now")
	b, err := perform(e, ops.Now{})
	e.NoError(err, "second persist/now")
	e.True(!a.IsZero() && !b.IsZero(), "persist/now answered the zero time: %s, %s", a, b)
	e.True(!b.Before(a), "persist/now went back from %s to %s", a, b)
}

func eventIDAssigned(e *Env) {
	mustAppend(e, "s", ops.Any(), ev("t", "1"), ev("t", "2"), ev("t", "3"))
	mustAppend(e, "s", ops.Any(), ev("t", "4"))
	mustAppend(e, "other", ops.Any(), ev("t", "5"))
	seen := map[uuid.UUID]string{}
	for _, stream := range []string{"s", "other"} {
		for _, got := range mustRead(e, stream, 1, 0).Events {
			if !e.True(got.ID != uuid.Nil, "%s#%d: no ID assigned", stream, got.Seq) {
				continue
			}
			if prev, dup := seen[got.ID]; dup {
				e.Errorf("%s#%d: ID %s already given to %s", stream, got.Seq, got.ID, prev)
			}
			seen[got.ID] = got.Stream
		}
	}
}

func eventIDKept(e *Env) {
	mustAppend(e, "s", ops.Any(), idEv(1, "t", "a"), ev("t", "b"), idEv(2, "t", "c"))
	page := mustRead(e, "s", 1, 0)
	if !e.Equal(3, len(page.Events), "events read") {
		return
	}
	e.Equal(caseID(1), page.Events[0].ID, "first event's ID")
	e.True(page.Events[1].ID != uuid.Nil && page.Events[1].ID != caseID(1) && page.Events[1].ID != caseID(2),
		"second event's assigned ID %s is zero or repeats a given one", page.Events[1].ID)
	e.Equal(caseID(2), page.Events[2].ID, "third event's ID")
}

func eventDataBinary(e *Env) {
	data := make([]byte, 0, 260)
	for i := range 256 {
		data = append(data, byte(i))
	}
	data = append(data, 0xff, 0xfe, 0x00, 0xc0)
	if utf8.Valid(data) {
		e.Fatalf("test data should not be UTF-8")
	}
	mustAppend(e, "bin", ops.Any(), ops.EventData{Type: "raw", Data: data})
	page := mustRead(e, "bin", 1, 0)
	if e.Equal(1, len(page.Events), "events read") {
		e.True(sameBytes(data, page.Events[0].Data), "binary data changed: got %q", page.Events[0].Data)
	}
}

func eventDataEmpty(e *Env) {
	mustAppend(e, "s", ops.Any(), ops.EventData{Type: "nil"}, ops.EventData{Type: "empty", Data: []byte{}})
	page := mustRead(e, "s", 1, 0)
	if e.Equal(2, len(page.Events), "events read") {
		e.Equal(0, len(page.Events[0].Data), "nil data read back")
		e.Equal(0, len(page.Events[1].Data), "empty data read back")
	}
}

func eventTypeUnicode(e *Env) {
	typ := "prix-réglé/注文/🚀"
	mustAppend(e, "s", ops.Any(), ops.EventData{Type: typ, Data: []byte("x")})
	page := mustRead(e, "s", 1, 0)
	if e.Equal(1, len(page.Events), "events read") {
		e.Equal(typ, page.Events[0].Type, "type")
	}
}
