package interp

import (
	"fmt"
	"sync/atomic"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/sx"
)

// Inject is a handler that fails one effect: the At-th (from 0) of the
// effects it counts, or none when At is negative. It counts the effects
// named Op (every name when Op is empty) that Match accepts (every effect
// when Match is nil), and forwards every other effect, and every effect
// after the one it failed, unchanged.
//
// It answers the chosen effect with an *InjectedError wrapping Err (ErrCrash
// when Err is nil). Without After, the effect never reaches the handlers
// further out: it failed before it happened. With After, it is forwarded
// first and its answer thrown away: it happened, but the program never
// learned so (a crash after a write, before its acknowledgement).
//
// An Inject counts, so use a fresh one (or Reset it) for each run; several
// compose in one stack, each counting on its own. It is safe for concurrent
// use. Use it by pointer: &Inject{At: 3, Op: "io/fsync"}. Its String is a
// one-line reproducer.
type Inject struct {
	At    int                      // which counted effect fails, from 0
	Op    string                   // count only effects of this name
	Match func(effect.Effect) bool // count only effects it accepts
	Desc  string                   // what Match accepts, in words, for String
	After bool                     // fail the effect after it happened
	Err   error                    // the error to answer; nil is ErrCrash

	seen  atomic.Int64
	fired atomic.Bool
}

var _ effect.Handler = (*Inject)(nil)

// Handle counts e if it qualifies and fails it if it is the At-th.
func (in *Inject) Handle(p *effect.P, e effect.Effect) (any, error) {
	if in.Op != "" && e.EffectName() != in.Op {
		return nil, effect.ErrUnhandled
	}
	if in.Match != nil && !in.Match(e) {
		return nil, effect.ErrUnhandled
	}
	if n := in.seen.Add(1) - 1; in.At < 0 || n != int64(in.At) {
		return nil, effect.ErrUnhandled
	}
	in.fired.Store(true)
	if in.After {
		_, _ = p.Send(e)
	}
	return nil, &InjectedError{Inject: in.String(), Effect: e, Err: in.err()}
}

func (in *Inject) err() error {
	if in.Err == nil {
		return ErrCrash
	}
	return in.Err
}

// Seen returns how many effects it has counted, the failed one included.
// An Inject with a negative At never fires: a run with it counts the effects
// a workload performs, the range of At to try.
func (in *Inject) Seen() int { return int(in.seen.Load()) }

// Fired reports whether it has failed an effect.
func (in *Inject) Fired() bool { return in.fired.Load() }

// Reset forgets what it counted, for another run.
func (in *Inject) Reset() {
	in.seen.Store(0)
	in.fired.Store(false)
}

// String prints the injection in SX notation, such as
// (inject :at 3 :op "io/fsync" :after true :err crash): a one-line
// reproducer. The error is the symbol crash for ErrCrash, otherwise its
// message as a string; Match prints as Desc.
func (in *Inject) String() string {
	l := sx.List{sx.Symbol("inject"), sx.Keyword("at"), int64(in.At)}
	if in.Op != "" {
		l = append(l, sx.Keyword("op"), in.Op)
	}
	if in.Match != nil {
		desc := in.Desc
		if desc == "" {
			desc = "func"
		}
		l = append(l, sx.Keyword("match"), desc)
	}
	if in.After {
		l = append(l, sx.Keyword("after"), true)
	}
	var errv sx.Value = sx.Symbol("crash")
	if err := in.err(); err != ErrCrash {
		errv = err.Error()
	}
	l = append(l, sx.Keyword("err"), errv)
	return sx.Print(l)
}

// InjectedError is the answer of an Inject to the effect it fails. It wraps
// the Inject's error, so errors.Is(err, ErrCrash) tells a crash.
type InjectedError struct {
	Inject string // the Inject's String
	Effect effect.Effect
	Err    error
}

func (e *InjectedError) Error() string {
	return fmt.Sprintf("%v at %s, injected by %s", e.Err, e.Effect.EffectName(), e.Inject)
}

// Unwrap gives the injected error.
func (e *InjectedError) Unwrap() error { return e.Err }
