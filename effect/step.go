package effect

import (
	"context"
	"fmt"
	"iter"
)

// Suspension is a stepped program stopped at an effect, or finished.
//
// It is one-shot: Resume or Abort consumes it and returns what comes next;
// using a consumed suspension again panics. It is a small value and safe to
// copy, but only one goroutine at a time may drive a program.
type Suspension[R any] struct {
	r   *run[R]
	gen uint64
}

type run[R any] struct {
	ctx       context.Context
	yield     func(Effect) bool
	next      func() (Effect, bool)
	stop      func()
	eff       Effect
	ans       any
	ansErr    error
	gen       uint64
	done      bool
	isAborted bool
	res       R
	err       error
}

// Start begins prog as a stepped program and runs it to its first effect
// that hs (innermost first, may be none) do not answer, or to its end.
func Start[R any](ctx context.Context, prog func(*P) (R, error), hs ...Handler) Suspension[R] {
	if ctx == nil {
		ctx = context.Background()
	}
	r := &run[R]{ctx: ctx}
	p := newP(ctx, r, hs)
	r.next, r.stop = iter.Pull(func(yield func(Effect) bool) {
		r.yield = yield
		r.res, r.err = Call(p, prog)
	})
	return r.advance()
}

func (r *run[R]) suspend(e Effect) (any, error) {
	if !r.yield(e) {
		return nil, ErrAborted
	}
	ans, err := r.ans, r.ansErr
	r.ans, r.ansErr = nil, nil
	return ans, err
}

func (r *run[R]) aborted() bool { return r.isAborted }

func (r *run[R]) advance() Suspension[R] {
	e, ok := r.next()
	r.gen++
	if !ok {
		r.done, r.eff = true, nil
		r.stop()
	} else {
		r.eff = e
	}
	return Suspension[R]{r: r, gen: r.gen}
}

// must panics with a clear message when s is the zero Suspension, which no
// Start returned.
func (s Suspension[R]) must(verb string) *run[R] {
	if s.r == nil {
		panic(fmt.Sprintf("effect: %s of a zero Suspension", verb))
	}
	return s.r
}

func (s Suspension[R]) claim(verb string) {
	s.must(verb)
	if s.gen != s.r.gen {
		panic(fmt.Sprintf("effect: %s of a suspension that was already resumed or aborted", verb))
	}
	if s.r.done {
		panic(fmt.Sprintf("effect: %s of a finished program", verb))
	}
	s.r.gen++
}

// Done reports whether the program has finished (returned or was aborted).
func (s Suspension[R]) Done() bool { return s.must("Done").done }

// Effect is the pending effect, or nil when the program has finished.
func (s Suspension[R]) Effect() Effect {
	if s.gen != s.must("Effect").gen {
		return nil
	}
	return s.r.eff
}

// Context is the context the program was started with.
func (s Suspension[R]) Context() context.Context { return s.must("Context").ctx }

// Resume answers the pending effect with (v, err) and runs the program to its
// next effect or its end. If the context was cancelled, the pending Perform
// returns the context's error instead. Resuming a consumed suspension panics.
func (s Suspension[R]) Resume(v any, err error) Suspension[R] {
	s.claim("Resume")
	if cerr := s.r.ctx.Err(); cerr != nil {
		v, err = nil, cerr
	}
	s.r.ans, s.r.ansErr = v, err
	return s.r.advance()
}

// Abort ends the suspended program: its pending Perform (and any later one)
// returns ErrAborted, its deferred functions run, and it releases its
// coroutine. It returns the program's error, ErrAborted when the program
// returned none.
func (s Suspension[R]) Abort() error {
	s.claim("Abort")
	r := s.r
	// Mark the run aborted before the program unwinds, so that every Perform
	// it makes from now on returns ErrAborted, including those its own
	// handlers would answer.
	r.isAborted = true
	r.stop()
	r.done, r.eff = true, nil
	if r.err == nil {
		r.err = ErrAborted
	}
	return r.err
}

// Aborted reports whether the program was ended by Abort.
func (s Suspension[R]) Aborted() bool { return s.must("Aborted").isAborted }

// Result is the program's result once Done; before that it panics.
func (s Suspension[R]) Result() (R, error) {
	if !s.must("Result").done {
		panic("effect: Result of a program that has not finished")
	}
	return s.r.res, s.r.err
}
