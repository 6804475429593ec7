package backendtest

import (
	"context"
	"errors"
	"sync"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// Waits that should be woken use a long timeout, so that only a backend that
// never wakes them fails, and never a slow machine.
const (
	longWait  = 30 * time.Second
	shortWait = 50 * time.Millisecond
	// nudge is how long a waker sleeps before writing, so that the waiter
	// is most likely blocked by then. The cases hold either way.
	nudge = 20 * time.Millisecond
)

func init() {
	register("wait",
		Case{Name: "passed", Doc: "a wait whose stream head is already past After answers at once with Passed and the head", Run: waitPassed},
		Case{Name: "global-passed", Doc: "a wait on the global log (no stream) answers at once when the last position is past After", Run: waitGlobalPassed},
		Case{Name: "timeout", Doc: "a wait that times out answers Passed false with the current head, not an error", Run: waitTimeout},
		Case{Name: "wake-stream", Concurrent: true, Doc: "an append to the stream wakes a waiter", Run: waitWakeStream},
		Case{Name: "wake-global", Concurrent: true, Doc: "an append to any stream wakes a waiter on the global log", Run: waitWakeGlobal},
		Case{Name: "other-stream", Concurrent: true, Doc: "an append to another stream does not pass a stream's wait", Run: waitOtherStream},
		Case{Name: "cancel", Concurrent: true, Doc: "a wait ends with the context's error when its context is cancelled", Run: waitCancel},
		Case{Name: "deadline", Concurrent: true, Doc: "a wait without timeout ends with the context's error at the context's deadline", Run: waitDeadline},
	)
}

func waitPassed(e *Env) {
	mustAppend(e, "s", ops.Any(), ev("t", "1"), ev("t", "2"))
	for _, after := range []uint64{0, 1} {
		r, err := perform(e, ops.Wait{Stream: "s", After: after, Timeout: longWait})
		e.NoError(err, "wait after %d", after)
		e.Equal(ops.WaitResult{Head: 2, Passed: true}, r, "wait after %d at head 2", after)
	}
}

func waitGlobalPassed(e *Env) {
	mustAppend(e, "a", ops.Any(), ev("t", "1"))
	mustAppend(e, "b", ops.Any(), ev("t", "2"), ev("t", "3"))
	r, err := perform(e, ops.Wait{After: 2, Timeout: longWait})
	e.NoError(err, "wait on the global log")
	e.Equal(ops.WaitResult{Head: 3, Passed: true}, r, "wait on the global log after 2")
}

func waitTimeout(e *Env) {
	r, err := perform(e, ops.Wait{Stream: "s", After: 0, Timeout: shortWait})
	e.NoError(err, "wait on an empty stream")
	e.Equal(ops.WaitResult{Head: 0, Passed: false}, r, "wait on an empty stream")
	mustAppend(e, "s", ops.Any(), ev("t", "1"), ev("t", "2"))
	start := time.Now()
	r, err = perform(e, ops.Wait{Stream: "s", After: 2, Timeout: shortWait})
	e.NoError(err, "wait after the head")
	e.Equal(ops.WaitResult{Head: 2, Passed: false}, r, "wait after the head")
	e.True(time.Since(start) >= shortWait, "wait answered after %s, before its timeout of %s", time.Since(start), shortWait)
	r, err = perform(e, ops.Wait{After: 2, Timeout: shortWait})
	e.NoError(err, "wait on the global log")
	e.Equal(ops.WaitResult{Head: 2, Passed: false}, r, "wait on the global log after its last position")
}

// waitWoken runs wait in one goroutine and, once it has likely started,
// write in another, and checks the wait's answer.
func waitWoken(e *Env, wait ops.Wait, write func(), want ops.WaitResult) {
	var wg sync.WaitGroup
	var r ops.WaitResult
	var err error
	wg.Go(func() { r, err = perform(e, wait) })
	wg.Go(func() { time.Sleep(nudge); write() })
	wg.Wait()
	if e.NoError(err, "wait") {
		e.Equal(want, r, "wait's answer")
	}
}

func waitWakeStream(e *Env) {
	mustAppend(e, "s", ops.Any(), ev("t", "1"))
	waitWoken(e, ops.Wait{Stream: "s", After: 1, Timeout: longWait},
		func() { mustAppendFrom(e, "s", ev("t", "2"), ev("t", "3")) },
		ops.WaitResult{Head: 3, Passed: true})
}

func waitWakeGlobal(e *Env) {
	mustAppend(e, "a", ops.Any(), ev("t", "1"))
	waitWoken(e, ops.Wait{After: 1, Timeout: longWait},
		func() { mustAppendFrom(e, "b", ev("t", "2")) },
		ops.WaitResult{Head: 2, Passed: true})
}

func waitOtherStream(e *Env) {
	waitWoken(e, ops.Wait{Stream: "a", After: 0, Timeout: 4 * nudge},
		func() { mustAppendFrom(e, "b", ev("t", "1")) },
		ops.WaitResult{Head: 0, Passed: false})
}

// mustAppendFrom appends from a goroutine other than the case body's: it
// records a failure but cannot end the case.
func mustAppendFrom(e *Env, stream string, events ...ops.EventData) {
	_, err := appendTo(e, stream, ops.Any(), events...)
	e.NoError(err, "append to %q", stream)
}

func waitCancel(e *Env) {
	ctx, cancel := context.WithCancel(e.Context())
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	wg.Go(func() { time.Sleep(nudge); cancel() })
	_, err := DoContext(e, ctx, waitProg(ops.Wait{Stream: "s", Timeout: longWait}))
	wg.Wait()
	e.True(errors.Is(err, context.Canceled), "wait whose context was cancelled: want context.Canceled, got %v", err)
	e.True(time.Since(start) < longWait, "wait ran to its timeout despite the cancelled context")
}

func waitDeadline(e *Env) {
	ctx, cancel := context.WithTimeout(e.Context(), 2*nudge)
	defer cancel()
	_, err := DoContext(e, ctx, waitProg(ops.Wait{Stream: "s"}))
	e.True(errors.Is(err, context.DeadlineExceeded), "wait without timeout past its context's deadline: want context.DeadlineExceeded, got %v", err)
}

func waitProg(op ops.Wait) func(*effect.P) (ops.WaitResult, error) {
	return func(p *effect.P) (ops.WaitResult, error) { return effect.Perform(p, op) }
}
