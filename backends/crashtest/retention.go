package crashtest

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// Stream metadata and deletion in the crash model. A metadata write or a
// delete is one more kind of write the oracle tracks: acknowledged, it
// must survive every crash, and from then on the events it hides must
// stay hidden, while every visible one keeps its seq and position.
//
// The model keeps no event times; it decides max-age by two regimes that
// need none. The mock platform's clock advances a tick (1 ms) on every
// io/clock, across crashes too, so every read or decision comes at least
// a tick after the commit of any event it sees; and a workload runs for
// far less than a day of mock time. So a max-age shorter than a tick
// hides every event of its stream from the next read on, and one of a
// day or more hides none. Workloads set only max-ages of those two kinds
// (the builder refuses others).

// metaWrite is a metadata write or a delete: exactly one is set.
type metaWrite struct {
	write *ops.StreamMetaWrite
	del   *ops.StreamDelete
}

func (w metaWrite) stream() string {
	if w.write != nil {
		return w.write.Stream
	}
	return w.del.Stream
}

// state gives the modelled state of a stream.
func (m *model) state(stream string) ops.StreamState {
	return m.states[stream]
}

// firstVisible is the index in m.streams[stream] of its first visible
// event.
func (m *model) firstVisible(stream string) int {
	st := m.state(stream)
	if ageHidesAll(st.MaxAge) {
		return int(m.head(stream))
	}
	return int(st.FirstSeq(m.head(stream))) - 1
}

// The two kinds of max-age the model decides (see above): below
// modelTick every event is older, from a day on none is.
const (
	modelTick    = time.Millisecond
	modelAgeNone = 24 * time.Hour
)

// ageHidesAll reports whether a max-age hides every event in the model.
func ageHidesAll(d time.Duration) bool { return d > 0 && d < modelTick }

// modelledAge reports whether the model decides max-age d.
func modelledAge(d time.Duration) bool {
	return d == 0 || ageHidesAll(d) || d >= modelAgeNone
}

// holds decides an expectation on a stream as ops does: a stream that
// reads as absent holds NoStream and fails Exists; Exact speaks of the
// stored head.
func (m *model) holds(e ops.Expect, stream string, head uint64) bool {
	if m.state(stream).Absent(head) {
		switch e.Kind {
		case ops.ExpectNoStream:
			return true
		case ops.ExpectExists:
			return false
		}
	}
	return e.Holds(head)
}

// applyMeta applies a metadata write or delete, decided by the rules of
// package ops against the model.
func (m *model) applyMeta(w metaWrite) (ops.StreamMetaResult, error) {
	var plan ops.MetaPlan
	var err error
	if w.write != nil {
		plan, err = ops.CheckMeta(*w.write, modelView{m})
	} else {
		plan, err = ops.CheckDelete(*w.del, modelView{m})
	}
	if err != nil {
		return ops.StreamMetaResult{}, err
	}
	if plan.State == (ops.StreamState{}) {
		delete(m.states, plan.Stream)
	} else {
		m.states[plan.Stream] = plan.State
	}
	return plan.Result(), nil
}

// modelView shows the model to ops.CheckMeta and ops.CheckDelete.
type modelView struct{ m *model }

func (v modelView) Head(stream string) uint64 { return v.m.head(stream) }

func (v modelView) EventAt(stream string, seq uint64) (uuid.UUID, uint64, error) {
	e := v.m.streams[stream][seq-1]
	return e.ID, e.Pos, nil
}

func (v modelView) FindID(stream string, id uuid.UUID) (uint64, uint64, error) {
	for _, e := range v.m.streams[stream] {
		if e.ID == id {
			return e.Seq, e.Pos, nil
		}
	}
	return 0, 0, nil
}

func (v modelView) KvRevision(key string) uint64 { return v.m.kvRev(key) }

func (v modelView) StreamState(stream string) (ops.StreamState, error) {
	return v.m.state(stream), nil
}

// EventTime and Now put every event one tick before now, which decides
// both kinds of max-age the model allows as the store does.
func (v modelView) EventTime(string, uint64) (time.Time, error) {
	return time.Unix(0, 0).UTC(), nil
}

func (v modelView) Now() time.Time { return time.Unix(0, 0).UTC().Add(modelTick) }

// visibleLog is the global log as a reader sees it: without the events
// the streams' states hide.
func (m *model) visibleLog() []ops.Event {
	if len(m.states) == 0 {
		return m.log
	}
	var out []ops.Event
	for _, e := range m.log {
		if e.Seq > uint64(m.firstVisible(e.Stream)) {
			out = append(out, e)
		}
	}
	return out
}

// metaStep issues a metadata write or delete and checks its answer
// against the model's.
func (m *machine) metaStep(i int, w metaWrite) {
	before, err := m.or.fold(nil, 0)
	if err != nil {
		m.violate("step %d: %v", i, err)
		m.stopped = true
		return
	}
	want, wantErr := before.applyMeta(w)
	m.or.entries = append(m.or.entries, entry{step: i, meta: &w, status: InFlight})
	wasFailed := m.or.failed
	var res ops.StreamMetaResult
	if w.write != nil {
		res, err = effect.Perform(m.sp(), *w.write)
	} else {
		res, err = effect.Perform(m.sp(), *w.del)
	}
	e := &m.or.entries[len(m.or.entries)-1]
	switch {
	case err == nil:
		e.status = Acked
		if wasFailed {
			m.violate("step %d: acknowledged after an IO error, before a reopen (invariant 9)", i)
		}
		if wantErr != nil {
			m.violate("step %d: acknowledged, but the model rejects it: %v", i, wantErr)
		} else if res != want {
			m.violate("step %d: result %+v, want %+v", i, res, want)
		}
	case refusal(err):
		m.refused(i, e, wantErr, wasFailed, err)
	default:
		m.failed(i, e, wasFailed, w.stream(), err)
	}
}

// refusal reports whether err is a decision (nothing written), not an IO
// failure.
func refusal(err error) bool {
	var conflict *ops.Conflict
	var deleted *ops.StreamDeletedError
	var invalid *ops.InvalidError
	return errors.As(err, &conflict) || errors.As(err, &deleted) || errors.As(err, &invalid)
}

func wMeta() *Workload {
	b := build("meta", "stream limits, soft and hard deletes among appends and kv changes, with a reopen: what they hide stays hidden", file.Options{CheckpointBytes: 2048})
	b.appendTo("a", ops.Any(), b.evs(4, "a%d")...)
	b.appendTo("b", ops.Any(), b.evs(2, "b%d")...)
	b.meta(metaWrite{write: &ops.StreamMetaWrite{Stream: "a", Meta: ops.StreamMeta{MaxCount: 2}}})
	b.appendTo("a", ops.Any(), b.ev("t", "a-after-limit"))
	b.meta(metaWrite{del: &ops.StreamDelete{Stream: "b"}})
	b.commit(ops.Commit{Kv: []ops.KvChange{{Key: "k", Value: []byte("1")}}})
	b.meta(metaWrite{del: &ops.StreamDelete{Stream: "c", Hard: true}})
	b.appendTo("c", ops.Any(), b.ev("t", "refused")) // a tombstone: refused
	b.step(Step{Kind: StepReopen})
	b.appendTo("b", ops.NoStream(), b.ev("t", "b-again")) // a soft-deleted stream reads as absent
	b.meta(metaWrite{write: &ops.StreamMetaWrite{Stream: "a", Expect: ops.Exact(5), Meta: ops.StreamMeta{TruncateBefore: 5}}})
	b.meta(metaWrite{write: &ops.StreamMetaWrite{Stream: "a", Meta: ops.StreamMeta{TruncateBefore: 9}}}) // beyond head+1: refused
	b.appendTo("a", ops.Any(), b.evs(2, "a%d")...)
	return b.w
}

func (b *builder) meta(w metaWrite) *builder {
	if w.write != nil && !modelledAge(w.write.Meta.MaxAge) {
		panic(fmt.Sprintf("crashtest: workload %s: max-age %s is neither below %s nor %s or more, which the model cannot decide", b.name, w.write.Meta.MaxAge, modelTick, modelAgeNone))
	}
	return b.step(Step{Kind: StepMeta, Meta: &w})
}

func wMaxAge() *Workload {
	b := build("max-age", "max-age limits among appends, an ID retried after its event aged out, and a reopen: what age hid stays hidden", file.Options{CheckpointBytes: 2048})
	b.appendTo("a", ops.Any(), b.evs(3, "a%d")...)
	old := b.ev("t", "b-old")
	b.appendTo("b", ops.Any(), old, b.ev("t", "b2"))
	b.meta(metaWrite{write: &ops.StreamMetaWrite{Stream: "a", Meta: ops.StreamMeta{MaxAge: 48 * time.Hour}}}) // hides nothing
	b.appendTo("a", ops.Any(), b.ev("t", "a-young"))
	b.meta(metaWrite{write: &ops.StreamMetaWrite{Stream: "b", Meta: ops.StreamMeta{MaxAge: time.Nanosecond}}}) // hides all of b
	b.commit(ops.Commit{Kv: []ops.KvChange{{Key: "k", Value: []byte("1")}}})
	b.appendTo("b", ops.Exact(2), b.ev("t", "b3")) // the head stays the stored one
	b.step(Step{Kind: StepReopen})
	b.appendTo("b", ops.Any(), old) // its event aged out: the ID is free again
	b.meta(metaWrite{write: &ops.StreamMetaWrite{Stream: "a", Meta: ops.StreamMeta{MaxAge: 48 * time.Hour, MaxCount: 2}}})
	b.commit(ops.Commit{Appends: []ops.Append{{Stream: "a", Expect: ops.Exact(4), Events: b.evs(2, "a%d")}, {Stream: "b", Expect: ops.Any(), Events: []ops.EventData{b.ev("t", "b5")}}}})
	return b.w
}
