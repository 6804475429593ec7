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

// Step is a projection's step: the value after one more event. It returns
// an error for an event it cannot fold (data that does not decode, an
// event that breaks the projection's rules), which stops the fold.
//
// The event is the step's to keep, Data included: a step may hold it in
// the value it returns, so that a fold gives the same value however it is
// read. A fold over lent events (Scan, with each event valid only until
// the next step) is faster and is written with a range over Scan.
type Step[S any] func(S, ops.Event) (S, error)

// StepError is a step that failed: the fold stopped at the event of stream
// Stream with seq Seq (its Type given too), and nothing after it was
// folded. Err is the step's error.
type StepError struct {
	Stream string
	Seq    uint64
	Type   string
	Err    error
}

func (e *StepError) Error() string {
	return fmt.Sprintf("project %q: step at seq %d (%s): %v", e.Stream, e.Seq, e.Type, e.Err)
}

// Unwrap gives the step's error.
func (e *StepError) Unwrap() error { return e.Err }

// Project folds the whole stream into a value: step(step(seed, e1), e2)…,
// up to the head seen by its first read (see ReadFrom). It is
// ProjectResume from State{Value: seed}.
//
// step must be pure: a function of the value and the event only, with no
// effects, clock or randomness, so that the same log always gives the same
// value (and the same error). It must not change a value it is given in
// place when that value may be shared (a State kept for later resumption,
// a snapshot), since Project does not copy values.
func Project[S any](p *effect.P, stream string, step Step[S], seed S) (State[S], error) {
	return ProjectResume(p, stream, step, State[S]{Value: seed})
}

// ProjectResume folds into st only the events of stream with seq above
// st.Seq, up to the head seen by its first read, and returns the state
// after the last of them (st itself when there are none). For every cut
// point k, resuming from the state of the first k events gives the state of
// the whole fold.
//
// A state whose Seq is above the stream's head (the stream was replaced)
// is not resumed: the error wraps ErrAhead. A step that returns an error
// stops the fold at that event: the error is a *StepError naming the
// stream and the event's seq, wrapping the step's error. On any error st
// is returned unchanged, so a caller never holds a state that covers part
// of a failed fold.
func ProjectResume[S any](p *effect.P, stream string, step Step[S], st State[S]) (State[S], error) {
	if step == nil {
		return st, &ops.InvalidError{Op: "programs/project", Field: "step", Reason: "nil"}
	}
	next := st
	head, err := scan(p, stream, st.Seq+1, nil, func(ev ops.Event) error {
		v, err := step(next.Value, ev)
		if err != nil {
			return &StepError{Stream: stream, Seq: ev.Seq, Type: ev.Type, Err: err}
		}
		next.Value = v
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
