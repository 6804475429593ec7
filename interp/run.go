package interp

import (
	"context"
	"errors"
	"runtime/debug"
	"sync/atomic"

	"rose-ash.com/persist/effect"
)

// ErrCrash is the simulated crash of the machine a program runs on. A
// handler that answers with an error matching ErrCrash (an [Inject] with
// Err: ErrCrash, a crashing platform) ends the run: see [Run] and [Drive].
var ErrCrash = errors.New("interp: crash")

// Run runs prog in place with the handlers hs, innermost first, and returns
// its result. A panic in prog or in a handler comes back as an
// *effect.PanicError. When a [Replayer] among hs holds steps the program did
// not perform, Run returns its *DivergenceError (see [Replayer.Finish]).
//
// When a handler answers with an error matching ErrCrash, the run has
// crashed: from then on no handler is asked anything (an effect that reaches
// one is answered with the crash error), the program's pending Perform and
// every later one return effect.ErrAborted (as in a stepped program the host
// aborts), and Run returns the crash error, whatever the program returns.
func Run[R any](ctx context.Context, prog func(*effect.P) (R, error), hs ...effect.Handler) (R, error) {
	l := new(latch)
	r, err := effect.Call(effect.Handle(ctx, l.stack(hs, true)...), prog)
	if cerr := l.crashed(); cerr != nil {
		var zero R
		return zero, cerr
	}
	return finish(r, err, hs)
}

// finish checks, once a program has returned r and err, that every
// Replayer among hs has seen its whole journal used: a journal not used up
// is a divergence, answered instead of the program's result. A panic is
// answered as it is.
func finish[R any](r R, err error, hs []effect.Handler) (R, error) {
	if _, panicked := err.(*effect.PanicError); panicked {
		return r, err
	}
	for _, h := range hs {
		if rp, ok := h.(*Replayer); ok {
			if ferr := rp.Finish(); ferr != nil {
				if errors.Is(err, ferr) {
					return r, err // the program already answered the divergence
				}
				var zero R
				return zero, ferr
			}
		}
	}
	return r, err
}

// RunStepped runs prog as a stepped program whose every effect is answered by
// the host with the handlers hs: effect.Start, then [Drive]. It has the
// meaning of [Run]: the same effects reach the same handlers in the same
// order, and the result is the same.
func RunStepped[R any](ctx context.Context, prog func(*effect.P) (R, error), hs ...effect.Handler) (R, error) {
	return Drive(effect.Start(ctx, prog), hs...)
}

// Drive drives a stepped program to its end: it sends each pending effect to
// the handlers hs (innermost first) on a perform handle with the program's
// context, resumes the program with the answer, and returns the program's
// result. A suspension that is already finished gives its result.
//
// The program is aborted, and Drive returns at once, when a handler panics
// (Drive returns an *effect.PanicError) or answers with an error matching
// ErrCrash (Drive returns that error, which wraps ErrCrash). Drive does not
// return before the program has ended either way, so no coroutine is left
// behind. Effects the program's own handlers (those given to effect.Start)
// answer never reach the host, so Drive sees only the rest; a crash answered
// by one of those is an ordinary error to the program.
func Drive[R any](s effect.Suspension[R], hs ...effect.Handler) (R, error) {
	l := new(latch)
	p := effect.Handle(s.Context(), l.stack(hs, false)...)
	for !s.Done() {
		v, err, pe := send(p, s.Effect())
		if pe == nil {
			pe = l.crashed()
		}
		if pe != nil {
			_ = s.Abort()
			var zero R
			return zero, pe
		}
		s = s.Resume(v, err)
	}
	r, err := s.Result()
	return finish(r, err, hs)
}

// send asks the handlers of p for the answer to e, turning a panic into an
// *effect.PanicError.
func send(p *effect.P, e effect.Effect) (v any, err, panicked error) {
	defer func() {
		if r := recover(); r != nil {
			v, err, panicked = nil, nil, &effect.PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	v, err = p.Send(e)
	return v, err, nil
}

// latch records the first crash of one run. It is shared by the guards of
// every handler of the run, and read without a lock on every effect.
type latch struct {
	err atomic.Pointer[error]
}

func (l *latch) crashed() error {
	if e := l.err.Load(); e != nil {
		return *e
	}
	return nil
}

func (l *latch) trip(err error) { l.err.CompareAndSwap(nil, &err) }

// stack wraps each handler of hs in a guard of l and, when gate is set, puts
// l itself innermost so that the program is answered ErrAborted once the run
// has crashed.
func (l *latch) stack(hs []effect.Handler, gate bool) []effect.Handler {
	n := len(hs)
	if gate {
		n++
	}
	out := make([]effect.Handler, 0, n)
	if gate {
		out = append(out, gateHandler{l})
	}
	gs := make([]guard, len(hs))
	for i, h := range hs {
		gs[i] = guard{h: h, l: l}
		out = append(out, &gs[i])
	}
	return out
}

// guard stands in for one handler of a run: it answers for it once the run
// has crashed, and trips the latch when the handler answers with a crash.
type guard struct {
	h effect.Handler
	l *latch
}

func (g *guard) Handle(p *effect.P, e effect.Effect) (any, error) {
	if err := g.l.crashed(); err != nil {
		return nil, err
	}
	v, err := g.h.Handle(p, e)
	if err != nil && err != effect.ErrUnhandled && errors.Is(err, ErrCrash) {
		g.l.trip(err)
	}
	return v, err
}

// gateHandler is the innermost handler of an in-place run: what the program
// receives once the run has crashed is effect.ErrAborted.
type gateHandler struct{ l *latch }

func (g gateHandler) Handle(p *effect.P, e effect.Effect) (any, error) {
	if g.l.crashed() != nil {
		return nil, effect.ErrAborted
	}
	v, err := p.Send(e)
	if g.l.crashed() != nil {
		return nil, effect.ErrAborted
	}
	return v, err
}
