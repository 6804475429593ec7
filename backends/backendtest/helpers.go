package backendtest

import (
	"bytes"
	"fmt"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// ev is an event to append.
func ev(typ, data string) ops.EventData { return ops.EventData{Type: typ, Data: []byte(data)} }

// idEv is an event with an ID chosen by the case.
func idEv(id uint64, typ, data string) ops.EventData {
	return ops.EventData{ID: caseID(id), Type: typ, Data: []byte(data)}
}

// numbered returns n events of type typ with data "<prefix>1", "<prefix>2", …
func numbered(n int, typ, prefix string) []ops.EventData {
	out := make([]ops.EventData, n)
	for i := range out {
		out[i] = ev(typ, fmt.Sprintf("%s%d", prefix, i+1))
	}
	return out
}

func appendTo(e *Env, stream string, expect ops.Expect, events ...ops.EventData) (ops.AppendResult, error) {
	return perform(e, ops.Append{Stream: stream, Expect: expect, Events: events})
}

// mustAppend appends as a precondition of the case: on failure the case ends.
func mustAppend(e *Env, stream string, expect ops.Expect, events ...ops.EventData) ops.AppendResult {
	r, err := appendTo(e, stream, expect, events...)
	if err != nil {
		e.Fatalf("precondition: append %d events to %q: %v", len(events), stream, err)
	}
	return r
}

func mustPut(e *Env, key, value string) ops.KvResult {
	r, err := perform(e, ops.KvPut{Key: key, Value: []byte(value)})
	if err != nil {
		e.Fatalf("precondition: put %q: %v", key, err)
	}
	return r
}

func mustRead(e *Env, stream string, from uint64, limit int) ops.ReadResult {
	r, err := perform(e, ops.Read{Stream: stream, From: from, Limit: limit})
	if err != nil {
		e.Fatalf("precondition: read %q from %d: %v", stream, from, err)
	}
	return r
}

// gotKey is a kv-get answer in a shape convenient for checks: the entry
// (zero but for Key when absent) and whether it was found.
type gotKey struct {
	Entry ops.KvEntry
	Found bool
}

func mustGet(e *Env, key string) gotKey {
	r, err := perform(e, ops.KvGet{Key: key})
	if err != nil {
		e.Fatalf("precondition: kv-get %q: %v", key, err)
	}
	if r == nil {
		return gotKey{Entry: ops.KvEntry{Key: key}}
	}
	return gotKey{Entry: *r, Found: true}
}

func mustHead(e *Env, stream string) uint64 {
	h, err := perform(e, ops.Head{Stream: stream})
	if err != nil {
		e.Fatalf("precondition: head %q: %v", stream, err)
	}
	return h
}

// typesOf and dataOf give the types and data of events, for comparison.
func typesOf(evs []ops.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Type
	}
	return out
}

func dataOf(evs []ops.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = string(ev.Data)
	}
	return out
}

func seqsOf(evs []ops.Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, ev := range evs {
		out[i] = ev.Seq
	}
	return out
}

func posOf(evs []ops.Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, ev := range evs {
		out[i] = ev.Pos
	}
	return out
}

func span(from, to uint64) []uint64 {
	var out []uint64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// state is everything a backend shows: the global log, every stream's head,
// every kv entry and the snapshots a case names. It is read without a trace,
// outside the mode under test, to observe what a case did.
type state struct {
	log     []ops.Event
	streams []ops.StreamInfo
	kv      []ops.KvEntry
	snaps   map[string]ops.SnapshotResult
	err     error
}

// observe reads the whole state of e's backend.
func observe(e *Env, snapshots ...string) state {
	p := effect.Handle(e.ctx, e.b)
	var s state
	s.snaps = map[string]ops.SnapshotResult{}
	fail := func(err error) state { s.err = err; return s }
	for from := uint64(1); ; {
		r, err := effect.Perform(p, ops.ReadAll{From: from, Limit: ops.MaxPage})
		if err != nil {
			return fail(fmt.Errorf("read-all from %d: %w", from, err))
		}
		s.log = append(s.log, r.Events...)
		if r.Next != 0 { // a page may be short where hidden events were skipped
			if r.Next > r.Head {
				break
			}
			from = r.Next
			continue
		}
		if len(r.Events) == 0 || r.Events[len(r.Events)-1].Pos >= r.Head {
			break
		}
		from = r.Events[len(r.Events)-1].Pos + 1
	}
	for after := ""; ; {
		r, err := effect.Perform(p, ops.Streams{After: after, Limit: ops.MaxPage})
		if err != nil {
			return fail(fmt.Errorf("streams after %q: %w", after, err))
		}
		s.streams = append(s.streams, r.Streams...)
		if !r.More || len(r.Streams) == 0 {
			break
		}
		after = r.Streams[len(r.Streams)-1].Name
	}
	for after := ""; ; {
		r, err := effect.Perform(p, ops.KvList{After: after, Limit: ops.MaxPage})
		if err != nil {
			return fail(fmt.Errorf("kv-list after %q: %w", after, err))
		}
		s.kv = append(s.kv, r.Entries...)
		if !r.More || len(r.Entries) == 0 {
			break
		}
		after = r.Entries[len(r.Entries)-1].Key
	}
	for _, name := range snapshots {
		r, err := effect.Perform(p, ops.SnapshotRead{Name: name})
		if err != nil {
			return fail(fmt.Errorf("snapshot-read %q: %w", name, err))
		}
		s.snaps[name] = r
	}
	return s
}

// unchanged checks that the backend's state is still before.
func unchanged(e *Env, before state, what string, snapshots ...string) {
	after := observe(e, snapshots...)
	if before.err != nil || after.err != nil {
		e.Errorf("%s: observe state: %v, %v", what, before.err, after.err)
		return
	}
	e.Equal(len(before.log), len(after.log), "%s: events in the global log", what)
	e.Equal(before.log, after.log, "%s: global log", what)
	e.Equal(before.streams, after.streams, "%s: streams", what)
	e.Equal(before.kv, after.kv, "%s: kv entries", what)
	e.Equal(before.snaps, after.snaps, "%s: snapshots", what)
}

// empty checks that nothing at all is stored.
func empty(e *Env, what string) {
	s := observe(e)
	if !e.NoError(s.err, "%s: observe state", what) {
		return
	}
	e.Equal(0, len(s.log), "%s: events stored", what)
	e.Equal(0, len(s.streams), "%s: streams listed", what)
	e.Equal(0, len(s.kv), "%s: kv entries listed", what)
}

func sameBytes(a, b []byte) bool { return bytes.Equal(a, b) }
