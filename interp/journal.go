package interp

import (
	"errors"
	"sync"

	"rose-ash.com/persist/effect"
)

// Step is one effect of a run and the answer it received.
type Step struct {
	Effect effect.Effect
	Value  any
	Err    error
}

// Journal is the record of a run: its effects and answers, in the order they
// were answered. Record appends to it and Replay answers from it; both lock
// it, so read Steps directly only when no run uses the journal (or use
// [Journal.Snapshot]).
type Journal struct {
	mu    sync.Mutex
	Steps []Step
}

// Len returns the number of steps.
func (j *Journal) Len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.Steps)
}

// Snapshot returns a copy of the steps so far.
func (j *Journal) Snapshot() []Step {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]Step(nil), j.Steps...)
}

// Truncate keeps the first n steps (all of them when n is larger).
func (j *Journal) Truncate(n int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if n < len(j.Steps) {
		clear(j.Steps[n:])
		j.Steps = j.Steps[:n]
	}
}

// String prints the steps one per line, each as [FormatStep] does.
func (j *Journal) String() string {
	var b []byte
	for _, s := range j.Snapshot() {
		b = append(b, FormatStep(s.Effect, s.Value, s.Err)...)
		b = append(b, '\n')
	}
	return string(b)
}

func (j *Journal) add(s Step) {
	j.mu.Lock()
	j.Steps = append(j.Steps, s)
	j.mu.Unlock()
}

// step returns step i, or false when the journal has no such step.
func (j *Journal) step(i int) (Step, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if i >= len(j.Steps) {
		return Step{}, false
	}
	return j.Steps[i], true
}

// Record returns a handler that forwards every effect outward and appends
// the effect and its answer to j. It records what passes through it: placed
// innermost, the program's own effects; further out, also the effects the
// handlers within it perform.
//
// The effect and the answer are deep-copied (exported fields, slices, maps,
// pointers), so a program that reuses a slice after performing, or changes
// an answer, does not change the journal. Errors are kept as they are. An
// answer that is a crash (an error matching ErrCrash) is not recorded: the
// machine died before it was delivered, so the effect was in flight, and a
// re-run after a restart performs it again.
//
// Record is safe for concurrent use; steps of concurrent programs interleave
// in the order they were answered.
func Record(j *Journal) effect.Handler { return recorder{j} }

type recorder struct{ j *Journal }

func (r recorder) Handle(p *effect.P, e effect.Effect) (any, error) {
	v, err := p.Send(e)
	if err == nil || !errors.Is(err, ErrCrash) {
		r.j.add(Step{Effect: deepCopy(e), Value: deepCopy(v), Err: err})
	}
	return v, err
}
