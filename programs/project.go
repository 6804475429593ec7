package programs

import (
	"fmt"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// State is a projection's value after folding the events of a stream up to
// seq Seq (0: none, Value is the seed).
type State[S any] struct {
	Value S
	Seq   uint64
}

// Project folds the whole stream into a value: step(step(seed, e1), e2)…,
// up to the head seen by its first read (see ReadFrom). It is
// ProjectResume from State{Value: seed}.
//
// step must be pure: a function of the value and the event only, with no
// effects, clock or randomness, so that the same log always gives the same
// value. It must not change a value it is given in place when that value
// may be shared (a State kept for later resumption, a snapshot), since
// Project does not copy values.
func Project[S any](p *effect.P, stream string, step func(S, ops.Event) S, seed S) (State[S], error) {
	return ProjectResume(p, stream, step, State[S]{Value: seed})
}

// ProjectResume folds into st only the events of stream with seq above
// st.Seq, up to the head seen by its first read, and returns the state
// after the last of them (st itself when there are none). For every cut
// point k, resuming from the state of the first k events gives the state of
// the whole fold.
//
// A state whose Seq is above the stream's head (the stream was replaced)
// is not resumed: the error wraps ErrAhead. On any error st is returned
// unchanged.
func ProjectResume[S any](p *effect.P, stream string, step func(S, ops.Event) S, st State[S]) (State[S], error) {
	if step == nil {
		return st, fmt.Errorf("project %q: nil step", stream)
	}
	next := st
	head, err := scan(p, stream, st.Seq+1, func(ev ops.Event) error {
		next.Value = step(next.Value, ev)
		next.Seq = ev.Seq
		return nil
	})
	if err != nil {
		return st, err
	}
	if head < st.Seq {
		return st, fmt.Errorf("project %q from seq %d: head is %d: %w", stream, st.Seq, head, ErrAhead)
	}
	return next, nil
}
