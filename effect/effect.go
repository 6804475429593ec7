package effect

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
)

// Effect is an operation descriptor: a value that names one operation.
// EffectName gives its SX-style name, such as "persist/append".
type Effect interface {
	EffectName() string
}

// Returns is embedded in a descriptor to fix the type R of its answer.
type Returns[R any] struct{}

func (Returns[R]) returns(R) {}

// Op is an effect whose answer has type R. Any descriptor that embeds
// Returns[R] is an Op[R].
type Op[R any] interface {
	Effect
	returns(R)
}

// Handler answers effects. Handle returns the answer for e, or ErrUnhandled
// itself (not wrapped) when it does not know e, so that the next handler out
// is asked; any other error, an *UnhandledError from further out included, is
// the answer. p performs
// effects outward: to the handlers beyond this one, never to this one.
// A handler answers with the result type its descriptor declares.
type Handler interface {
	Handle(p *P, e Effect) (any, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(p *P, e Effect) (any, error)

// Handle calls f(p, e).
func (f HandlerFunc) Handle(p *P, e Effect) (any, error) { return f(p, e) }

var (
	// ErrUnhandled is returned by a handler that does not know an effect.
	ErrUnhandled = errors.New("effect: unhandled")
	// ErrAborted is what a pending Perform returns when the host aborts the
	// suspended program.
	ErrAborted = errors.New("effect: program aborted")
)

// UnhandledError reports an effect that no handler answered.
type UnhandledError struct {
	Effect Effect
}

func (e *UnhandledError) Error() string {
	return fmt.Sprintf("effect: no handler for %s", e.Effect.EffectName())
}

// Is reports ErrUnhandled as a match.
func (e *UnhandledError) Is(target error) bool { return target == ErrUnhandled }

// ResultTypeError reports a handler that answered an effect with a value of
// the wrong type: a bug in the handler.
type ResultTypeError struct {
	Effect Effect
	Got    any
}

func (e *ResultTypeError) Error() string {
	return fmt.Sprintf("effect: handler answered %s with a %T", e.Effect.EffectName(), e.Got)
}

// PanicError is a panic raised by a program or a handler, caught and turned
// into an error.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("effect: panic: %v\n%s", e.Value, e.Stack)
}

// Unwrap gives the panic value when it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// suspender receives the effects of a stepped program that no handler
// answered. aborted reports that the host has ended the program, after which
// no effect is answered any more, not even by the program's own handlers.
type suspender interface {
	suspend(e Effect) (any, error)
	aborted() bool
}

// P is a perform handle: what a program (or a handler) performs effects on.
// It carries the context of the run. A P is used by one goroutine at a time.
type P struct {
	ctx  context.Context
	fr   *frame
	host suspender
}

type frame struct {
	h     Handler
	outer P
}

// Handle returns a perform handle whose effects go to hs, innermost first.
func Handle(ctx context.Context, hs ...Handler) *P {
	return newP(ctx, nil, hs)
}

func newP(ctx context.Context, host suspender, hs []Handler) *P {
	if ctx == nil {
		ctx = context.Background()
	}
	// Build the chain from the outermost handler inward, so that each
	// frame's outer handle starts at the next handler out.
	p := P{ctx: ctx, host: host}
	for i := len(hs) - 1; i >= 0; i-- {
		f := &frame{h: hs[i], outer: p}
		p = P{ctx: ctx, fr: f, host: host}
	}
	return &p
}

// Context returns the context of the run.
func (p *P) Context() context.Context { return p.ctx }

// Perform performs op and returns its answer: asks the handlers from the
// innermost out, then the host of a stepped program. A nil answer is the
// zero value of R.
func Perform[R any](p *P, op Op[R]) (R, error) {
	var zero R
	v, err := p.Send(op)
	if err != nil {
		return zero, err
	}
	if v == nil {
		return zero, nil
	}
	r, ok := v.(R)
	if !ok {
		return zero, &ResultTypeError{Effect: op, Got: v}
	}
	return r, nil
}

// Send performs e untyped, as Perform does. Middleware and hosts use it to
// forward effects they do not interpret.
func (p *P) Send(e Effect) (any, error) {
	if err := p.ctx.Err(); err != nil {
		return nil, err
	}
	if p.host != nil && p.host.aborted() {
		return nil, ErrAborted
	}
	for f := p.fr; f != nil; f = f.outer.fr {
		v, err := f.h.Handle(&f.outer, e)
		if err != ErrUnhandled {
			return v, err
		}
	}
	if p.host != nil {
		return p.host.suspend(e)
	}
	return nil, &UnhandledError{Effect: e}
}

// Call runs prog with p in place and turns a panic in it, or in a handler it
// reaches, into a *PanicError.
func Call[R any](p *P, prog func(*P) (R, error)) (r R, err error) {
	defer func() {
		if v := recover(); v != nil {
			var zero R
			r, err = zero, &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return prog(p)
}
