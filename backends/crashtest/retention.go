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
// stay hidden, while every visible one keeps its seq and position. The
// workloads set only the limits that depend on seqs (max-count,
// truncate-before, deletion), since the model keeps no event times.

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
	return int(m.state(stream).FirstSeq(m.head(stream))) - 1
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

func (v modelView) EventTime(string, uint64) (time.Time, error) {
	return time.Time{}, fmt.Errorf("crashtest: the model keeps no event times (no workload sets a max-age)")
}

func (v modelView) Now() time.Time { return time.Time{} }

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
	return b.step(Step{Kind: StepMeta, Meta: &w})
}
