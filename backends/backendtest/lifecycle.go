package backendtest

import (
	"errors"
	"sync"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

func init() {
	register("lifecycle",
		Case{Name: "fresh-empty", Doc: "a fresh backend holds no events, streams, keys or snapshots", Run: lifeFreshEmpty},
		Case{Name: "closed", Doc: "after Close every operation answers ops.ErrClosed", Run: lifeClosed},
		Case{Name: "unknown-effect", Doc: "an effect the backend does not know is answered with effect.ErrUnhandled, so it composes in a stack", Run: lifeUnknownEffect},
		Case{Name: "close-ends-wait", Concurrent: true, Doc: "closing the backend ends a pending wait with ops.ErrClosed", Run: lifeCloseEndsWait},
	)
}

func lifeFreshEmpty(e *Env) {
	empty(e, "a fresh backend")
	r, err := perform(e, ops.SnapshotRead{Name: "any"})
	e.NoError(err, "snapshot-read")
	e.Equal(false, r.Found, "a snapshot in a fresh backend")
}

func lifeClosed(e *Env) {
	mustAppend(e, "s", ops.Any(), ev("t", "1"))
	mustPut(e, "k", "v")
	if err := e.Close(); err != nil {
		e.Errorf("close: %v", err)
	}
	all := []effect.Effect{
		ops.Append{Stream: "s", Events: []ops.EventData{ev("t", "2")}},
		ops.Read{Stream: "s"},
		ops.ReadAll{},
		ops.Head{Stream: "s"},
		ops.Streams{},
		ops.Wait{Stream: "s", After: 5, Timeout: shortWait},
		ops.KvGet{Key: "k"},
		ops.KvPut{Key: "k", Value: []byte("w")},
		ops.KvDelete{Key: "k"},
		ops.KvList{},
		ops.SnapshotRead{Name: "p"},
		ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "p", Value: []byte("v")}},
		ops.Now{},
		ops.Commit{Kv: []ops.KvChange{{Key: "k", Value: []byte("w")}}},
	}
	for _, op := range all {
		_, err := Do(e, func(p *effect.P) (any, error) { return p.Send(op) })
		e.ErrorIs(err, ops.ErrClosed, "%s after Close", op.EffectName())
	}
}

type unknownOp struct {
	effect.Returns[string]
	What string
}

func (unknownOp) EffectName() string { return "backendtest/unknown" }

func lifeUnknownEffect(e *Env) {
	// Asked directly, the backend answers ErrUnhandled itself, unwrapped.
	v, err := e.Backend().Handle(effect.Handle(e.Context()), unknownOp{What: "x"})
	e.True(err == effect.ErrUnhandled, "direct Handle of an unknown effect: want effect.ErrUnhandled itself, got %v", err)
	e.Equal(nil, v, "answer to an unknown effect")
	// In a stack, the next handler out answers it.
	outer := effect.HandlerFunc(func(p *effect.P, eff effect.Effect) (any, error) {
		if u, ok := eff.(unknownOp); ok {
			return "outer answered " + u.What, nil
		}
		return nil, effect.ErrUnhandled
	})
	got, err := effect.Perform(effect.Handle(e.Context(), e.Backend(), outer), unknownOp{What: "y"})
	e.NoError(err, "unknown effect with a handler beyond the backend")
	e.Equal("outer answered y", got, "answer of the handler beyond the backend")
	// Run with nothing beyond the backend, the program gets an error
	// naming the effect.
	_, err = Do(e, func(p *effect.P) (string, error) { return effect.Perform(p, unknownOp{What: "z"}) })
	e.ErrorIs(err, effect.ErrUnhandled, "unknown effect run against the backend alone")
	var ue *effect.UnhandledError
	if e.True(errors.As(err, &ue), "want an *effect.UnhandledError, got %T %v", err, err) {
		e.Equal("backendtest/unknown", ue.Effect.EffectName(), "the unhandled effect")
	}
	// The backend still works.
	mustAppend(e, "s", ops.Any(), ev("t", "1"))
}

func lifeCloseEndsWait(e *Env) {
	var wg sync.WaitGroup
	var err error
	start := time.Now()
	wg.Go(func() { _, err = perform(e, ops.Wait{Stream: "s", Timeout: longWait}) })
	wg.Go(func() {
		time.Sleep(nudge)
		if cerr := e.Close(); cerr != nil {
			e.Errorf("close: %v", cerr)
		}
	})
	wg.Wait()
	e.ErrorIs(err, ops.ErrClosed, "wait pending at Close")
	e.True(time.Since(start) < longWait, "the wait ran to its timeout despite Close")
}
