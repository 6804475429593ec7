package effect_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
)

// onePerform performs a single double and returns its answer.
func onePerform(p *effect.P) (int, error) {
	return effect.Perform(p, double{N: 1})
}

func TestOneShotPanics(t *testing.T) {
	const (
		consumedResume = "effect: Resume of a suspension that was already resumed or aborted"
		consumedAbort  = "effect: Abort of a suspension that was already resumed or aborted"
		finishedResume = "effect: Resume of a finished program"
		finishedAbort  = "effect: Abort of a finished program"
	)
	ctx := context.Background()
	cases := []struct {
		name string
		want string
		do   func()
	}{
		{"resume twice", consumedResume, func() {
			s := effect.Start(ctx, prog)
			s.Resume(1, nil)
			s.Resume(1, nil)
		}},
		{"abort after resume", consumedAbort, func() {
			s := effect.Start(ctx, prog)
			s.Resume(1, nil)
			_ = s.Abort()
		}},
		{"resume after abort", consumedResume, func() {
			s := effect.Start(ctx, prog)
			_ = s.Abort()
			s.Resume(1, nil)
		}},
		{"abort twice", consumedAbort, func() {
			s := effect.Start(ctx, prog)
			_ = s.Abort()
			_ = s.Abort()
		}},
		{"resume of a finished program", finishedResume, func() {
			s := effect.Start(ctx, onePerform).Resume(2, nil)
			s.Resume(1, nil)
		}},
		{"abort of a finished program", finishedAbort, func() {
			s := effect.Start(ctx, onePerform).Resume(2, nil)
			_ = s.Abort()
		}},
		{"resume of a program that never suspended", finishedResume, func() {
			s := effect.Start(ctx, func(*effect.P) (int, error) { return 1, nil })
			s.Resume(1, nil)
		}},
		{"resume of a zero suspension", "effect: Resume of a zero Suspension", func() {
			var s effect.Suspension[int]
			s.Resume(1, nil)
		}},
		{"abort of a zero suspension", "effect: Abort of a zero Suspension", func() {
			var s effect.Suspension[int]
			_ = s.Abort()
		}},
		{"result before the end", "effect: Result of a program that has not finished", func() {
			s := effect.Start(ctx, prog)
			defer func() { _ = s.Abort() }()
			_, _ = s.Result()
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.PanicsWithValue(t, c.want, c.do)
		})
	}
}

func TestStaleSuspensionShowsNoEffect(t *testing.T) {
	s0 := effect.Start(context.Background(), prog)
	require.Equal(t, double{N: 3}, s0.Effect())
	s1 := s0.Resume(6, nil)
	assert.Nil(t, s0.Effect(), "a consumed suspension has no pending effect")
	assert.Equal(t, twice{N: 6}, s1.Effect(), "with no handler, twice goes to the host")
	s2 := s1.Resume(12, nil)
	require.True(t, s2.Done())
	assert.Nil(t, s2.Effect())
	got, err := s2.Result()
	require.NoError(t, err)
	assert.Equal(t, 18, got)
}

func TestNoEffectFinishesAtStart(t *testing.T) {
	s := effect.Start(context.Background(), func(*effect.P) (string, error) { return "done", nil })
	require.True(t, s.Done())
	assert.False(t, s.Aborted())
	got, err := s.Result()
	require.NoError(t, err)
	assert.Equal(t, "done", got)
}

// After Abort the program is answered nothing more: not by the host and not
// by its own handlers.
func TestAbortAnswersNothingMore(t *testing.T) {
	innerCalls := 0
	inner := effect.HandlerFunc(func(p *effect.P, e effect.Effect) (any, error) {
		if d, ok := e.(double); ok {
			innerCalls++
			return d.N * 2, nil
		}
		return nil, effect.ErrUnhandled
	})
	var errs []error
	s := effect.Start(context.Background(), func(p *effect.P) (int, error) {
		_, err := effect.Perform(p, twice{N: 1}) // to the host
		errs = append(errs, err)
		_, err = effect.Perform(p, double{N: 1}) // would be answered by inner
		errs = append(errs, err)
		_, err = effect.Perform(p, twice{N: 2}) // to the host again
		errs = append(errs, err)
		return 7, nil
	}, inner)
	require.Equal(t, twice{N: 1}, s.Effect())
	err := s.Abort()
	assert.ErrorIs(t, err, effect.ErrAborted, "a program that returns no error after Abort reports ErrAborted")
	require.Len(t, errs, 3)
	for i, e := range errs {
		assert.ErrorIs(t, e, effect.ErrAborted, "perform %d after Abort", i)
	}
	assert.Zero(t, innerCalls, "the program's own handler is not asked after Abort")
	assert.True(t, s.Done())
	assert.True(t, s.Aborted())
	got, rerr := s.Result()
	assert.Equal(t, 7, got)
	assert.ErrorIs(t, rerr, effect.ErrAborted)
}

func TestAbortReturnsProgramError(t *testing.T) {
	mine := errors.New("cleanup failed")
	s := effect.Start(context.Background(), func(p *effect.P) (int, error) {
		_, err := effect.Perform(p, double{N: 1})
		return 0, fmt.Errorf("%w (after %w)", mine, err)
	})
	err := s.Abort()
	assert.ErrorIs(t, err, mine)
	assert.ErrorIs(t, err, effect.ErrAborted)
}

func TestAbortPanicDuringUnwind(t *testing.T) {
	s := effect.Start(context.Background(), func(p *effect.P) (int, error) {
		if _, err := effect.Perform(p, double{N: 1}); err != nil {
			panic("unwinding: " + err.Error())
		}
		return 0, nil
	})
	err := s.Abort()
	var pe *effect.PanicError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "unwinding: effect: program aborted", pe.Value)
}

// Abort runs every deferred function of the program, however deep, and
// releases its coroutine: the goroutine count returns to where it was.
func TestAbortRunsDefersAndReleasesGoroutines(t *testing.T) {
	const n = 500
	base := runtime.NumGoroutine()
	deferred := 0
	nested := func(p *effect.P, depth int) error {
		var rec func(int) error
		rec = func(d int) error {
			defer func() { deferred++ }()
			if d == 0 {
				_, err := effect.Perform(p, double{N: d})
				return err
			}
			return rec(d - 1)
		}
		return rec(depth)
	}
	// All programs are suspended at once before any is aborted.
	ss := make([]effect.Suspension[int], n)
	for i := range ss {
		ss[i] = effect.Start(context.Background(), func(p *effect.P) (int, error) {
			return 0, nested(p, 3)
		})
		require.False(t, ss[i].Done())
	}
	assert.GreaterOrEqual(t, runtime.NumGoroutine(), n, "each suspended program holds a coroutine")
	for _, s := range ss {
		assert.ErrorIs(t, s.Abort(), effect.ErrAborted)
	}
	assert.Equal(t, n*4, deferred, "every frame's defer ran")
	assert.LessOrEqual(t, settledGoroutines(base), base, "aborted programs leave no goroutine")
}

// settledGoroutines waits briefly for the goroutine count to fall back to
// want (other tests' goroutines may still be exiting) and returns it.
func settledGoroutines(want int) int {
	n := runtime.NumGoroutine()
	for i := 0; i < 100 && n > want; i++ {
		time.Sleep(time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return n
}

func TestPanicBecomesPanicErrorWithStack(t *testing.T) {
	ctx := context.Background()
	boom := effect.HandlerFunc(func(p *effect.P, e effect.Effect) (any, error) {
		panicInHandler()
		return nil, nil
	})
	errBoom := errors.New("boom error")
	cases := []struct {
		name  string
		run   func() error
		value any
		frame string
	}{
		{"in place, program", func() error {
			_, err := effect.Call(effect.Handle(ctx), func(*effect.P) (int, error) { panicInProgram(); return 0, nil })
			return err
		}, "program panic", "panicInProgram"},
		{"in place, handler", func() error {
			_, err := effect.Call(effect.Handle(ctx, boom), onePerform)
			return err
		}, "handler panic", "panicInHandler"},
		{"stepped, program at start", func() error {
			_, err := effect.Start(ctx, func(*effect.P) (int, error) { panicInProgram(); return 0, nil }).Result()
			return err
		}, "program panic", "panicInProgram"},
		{"stepped, program after resume", func() error {
			s := effect.Start(ctx, func(p *effect.P) (int, error) {
				_, _ = effect.Perform(p, double{N: 1})
				panicInProgram()
				return 0, nil
			})
			_, err := s.Resume(2, nil).Result()
			return err
		}, "program panic", "panicInProgram"},
		{"stepped, program's own handler", func() error {
			_, err := effect.Start(ctx, onePerform, boom).Result()
			return err
		}, "handler panic", "panicInHandler"},
		{"error value", func() error {
			_, err := effect.Call(effect.Handle(ctx), func(*effect.P) (int, error) { panic(errBoom) })
			return err
		}, errBoom, "effect_test.TestPanicBecomesPanicErrorWithStack"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.run()
			var pe *effect.PanicError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, c.value, pe.Value)
			assert.Contains(t, string(pe.Stack), c.frame, "the stack shows where it panicked")
			assert.Contains(t, err.Error(), fmt.Sprint(c.value))
			if e, ok := c.value.(error); ok {
				assert.ErrorIs(t, err, e, "an error panic value unwraps")
			}
		})
	}
}

//go:noinline
func panicInProgram() { panic("program panic") }

//go:noinline
func panicInHandler() { panic("handler panic") }

// A handler of a stepped program that performs outward while answering
// reaches the host; the host sees the outer effect, never the inner one.
func TestSteppedHandlerPerformsOutward(t *testing.T) {
	s := effect.Start(context.Background(), prog, twicer)
	var seen []effect.Effect
	for !s.Done() {
		seen = append(seen, s.Effect())
		v, err := doubler.Handle(nil, s.Effect())
		s = s.Resume(v, err)
	}
	got, err := s.Result()
	require.NoError(t, err)
	assert.Equal(t, 18, got)
	assert.Equal(t, []effect.Effect{double{N: 3}, double{N: 6}}, seen)
}

func TestResultTypeError(t *testing.T) {
	wrong := effect.HandlerFunc(func(*effect.P, effect.Effect) (any, error) { return "six", nil })
	_, err := effect.Call(effect.Handle(context.Background(), wrong), onePerform)
	var rte *effect.ResultTypeError
	require.ErrorAs(t, err, &rte)
	assert.Equal(t, "six", rte.Got)
	assert.Equal(t, "effect: handler answered test/double with a string", err.Error())

	// The same check applies to a host's answer in a stepped program.
	s := effect.Start(context.Background(), onePerform).Resume("six", nil)
	_, err = s.Result()
	require.ErrorAs(t, err, &rte)
}

// An *UnhandledError coming back from further out is an answer: the handlers
// further in do not pass it on as if they did not know the effect.
func TestUnhandledFromOutsideIsAnAnswer(t *testing.T) {
	asked := 0
	outer := effect.HandlerFunc(func(*effect.P, effect.Effect) (any, error) { asked++; return 2, nil })
	forward := effect.HandlerFunc(func(p *effect.P, e effect.Effect) (any, error) {
		return nil, &effect.UnhandledError{Effect: e}
	})
	_, err := effect.Call(effect.Handle(context.Background(), forward, outer), onePerform)
	require.ErrorIs(t, err, effect.ErrUnhandled)
	assert.Zero(t, asked)
}

func TestCancelledContextInPlace(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	asked := 0
	h := effect.HandlerFunc(func(*effect.P, effect.Effect) (any, error) { asked++; return 2, nil })
	_, err := effect.Call(effect.Handle(ctx, h), onePerform)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, asked, "no handler is asked once the context has ended")
}

// A handler that waits on the context ends when it is cancelled, and the
// program receives the context's error.
func TestCancelEndsHandlerWait(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	waiting := make(chan struct{})
	h := effect.HandlerFunc(func(p *effect.P, e effect.Effect) (any, error) {
		close(waiting)
		<-p.Context().Done()
		return nil, p.Context().Err()
	})
	go func() { <-waiting; cancel() }()
	_, err := effect.Call(effect.Handle(ctx, h), onePerform)
	assert.ErrorIs(t, err, context.Canceled)
}

// A suspension may be handed from one goroutine to another, as long as one
// goroutine at a time drives it.
func TestSuspensionMovesBetweenGoroutines(t *testing.T) {
	const n = 50
	handoff := make(chan effect.Suspension[int])
	done := make(chan effect.Suspension[int])
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for s := range handoff {
				v, err := doubler.Handle(nil, s.Effect())
				s = s.Resume(v, err)
				if s.Done() {
					done <- s
					continue
				}
				handoff <- s
			}
		})
	}
	handoff <- effect.Start(context.Background(), loopProg(n))
	s := <-done
	close(handoff)
	wg.Wait()
	got, err := s.Result()
	require.NoError(t, err)
	want := 0
	for i := range n {
		want += (i & 0x7f) * 2
	}
	assert.Equal(t, want, got)
}

func TestConcurrentSteppedPrograms(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				s := effect.Start(context.Background(), loopProg(g+i), twicer)
				for !s.Done() {
					v, err := doubler.Handle(nil, s.Effect())
					s = s.Resume(v, err)
				}
				if _, err := s.Result(); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A handler may drive a stepped program of its own while answering an
// effect of a stepped program: coroutines nest.
func TestNestedSteppedPrograms(t *testing.T) {
	sub := effect.HandlerFunc(func(p *effect.P, e effect.Effect) (any, error) {
		tw, ok := e.(twice)
		if !ok {
			return nil, effect.ErrUnhandled
		}
		s := effect.Start(p.Context(), func(q *effect.P) (int, error) {
			a, err := effect.Perform(q, double{N: tw.N})
			if err != nil {
				return 0, err
			}
			return effect.Perform(q, double{N: a / 2})
		})
		for !s.Done() {
			v, err := p.Send(s.Effect()) // the inner program's effects go outward
			s = s.Resume(v, err)
		}
		return s.Result()
	})
	s := effect.Start(context.Background(), prog, sub)
	steps := 0
	for !s.Done() {
		steps++
		v, err := doubler.Handle(nil, s.Effect())
		s = s.Resume(v, err)
	}
	got, err := s.Result()
	require.NoError(t, err)
	assert.Equal(t, 18, got)
	assert.Equal(t, 3, steps, "double{3}, then the two doubles of the inner program")
}

// Many programs started, stepped and aborted leave neither goroutines nor
// heap behind.
func TestManyProgramsNoGrowth(t *testing.T) {
	n := 1_000_000
	if testing.Short() || raceEnabled {
		n = 20_000
	}
	var before, after runtime.MemStats
	cycle := func(i int) {
		s := effect.Start(context.Background(), loopProg(3), twicer)
		s = s.Resume(i&0x7f, nil)
		if i%2 == 0 {
			s = s.Resume(i&0x7f, nil)
		}
		if err := s.Abort(); !errors.Is(err, effect.ErrAborted) {
			t.Fatalf("program %d: abort: %v", i, err)
		}
	}
	for i := range 1000 { // warm up pools and caches before measuring
		cycle(i)
	}
	runtime.GC()
	base := runtime.NumGoroutine()
	runtime.ReadMemStats(&before)
	start := time.Now()
	for i := range n {
		cycle(i)
	}
	elapsed := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	t.Logf("%d programs in %v (%v each); heap %d -> %d bytes", n, elapsed, elapsed/time.Duration(n), before.HeapAlloc, after.HeapAlloc)
	assert.LessOrEqual(t, settledGoroutines(base), base, "goroutines")
	const tolerance = 1 << 20
	assert.Less(t, int64(after.HeapAlloc)-int64(before.HeapAlloc), int64(tolerance), "heap grew")
	assert.Greater(t, after.Mallocs-before.Mallocs, uint64(n), "the programs did allocate, so the check means something")
}

func TestPanicErrorMessage(t *testing.T) {
	_, err := effect.Call(effect.Handle(context.Background()), func(*effect.P) (int, error) { panicInProgram(); return 0, nil })
	require.Error(t, err)
	first, _, _ := strings.Cut(err.Error(), "\n")
	assert.Equal(t, "effect: panic: program panic", first)
}
