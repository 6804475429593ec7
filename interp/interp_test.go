package interp_test

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
	"rose-ash.com/persist/interp"
	"rose-ash.com/persist/ops"
)

type runner func(context.Context, func(*effect.P) (string, error), ...effect.Handler) (string, error)

var modes = []struct {
	name string
	run  runner
}{
	{"in place", interp.Run[string]},
	{"stepped", interp.RunStepped[string]},
}

const ordersResult = "head 3, count 3 at revision 1"

func TestRunBothModes(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			st, d := newStore(), newDisk()
			got, err := m.run(context.Background(), orders, st, d)
			require.NoError(t, err)
			assert.Equal(t, ordersResult, got)
			assert.Equal(t, 5, st.Calls())
			assert.Equal(t, 6, d.Calls(), "a write and a sync per append")
			assert.Equal(t, "orders placed {\"order\":0}\norders placed {\"order\":1}\norders placed {\"order\":2}\n", string(d.written["log"]))
		})
	}
}

// The program's own effects, traced innermost, and the platform effects the
// store performs, traced between the store and the disk.
const (
	wantInnerTrace = `(persist/append {:events [{:data "{\"order\":0}" :type "placed"}] :expect "no-stream" :stream "orders"}) => {:first-pos 1 :first-seq 1 :head 1 :last-pos 1 :stream "orders"}
(persist/append {:events [{:data "{\"order\":1}" :type "placed"}] :expect "1" :stream "orders"}) => {:first-pos 2 :first-seq 2 :head 2 :last-pos 2 :stream "orders"}
(persist/append {:events [{:data "{\"order\":2}" :type "placed"}] :expect "2" :stream "orders"}) => {:first-pos 3 :first-seq 3 :head 3 :last-pos 3 :stream "orders"}
(persist/kv-put {:expect "no-stream" :key "orders/count" :value "3"}) => {:existed false :key "orders/count" :revision 1}
(persist/kv-get {:key "orders/count"}) => {:key "orders/count" :revision 1 :value "3"}
`
	wantOuterTrace = `(io/write {:data "orders placed {\"order\":0}\n" :file "log"}) => 26
(io/fsync {:file "log"}) => {}
(io/write {:data "orders placed {\"order\":1}\n" :file "log"}) => 26
(io/fsync {:file "log"}) => {}
(io/write {:data "orders placed {\"order\":2}\n" :file "log"}) => 26
(io/fsync {:file "log"}) => {}
`
)

func TestTraceSameInPlaceAndStepped(t *testing.T) {
	var inner, outer []string
	for _, m := range modes {
		var in, out lineWriter
		got, err := m.run(context.Background(), orders, interp.Trace(&in), newStore(), interp.Trace(&out), newDisk())
		require.NoError(t, err, m.name)
		assert.Equal(t, ordersResult, got, m.name)
		inner, outer = append(inner, in.String()), append(outer, out.String())
	}
	assert.Equal(t, wantInnerTrace, inner[0])
	assert.Equal(t, wantOuterTrace, outer[0])
	assert.Equal(t, inner[0], inner[1], "program effects: in place and stepped")
	assert.Equal(t, outer[0], outer[1], "platform effects: in place and stepped")
}

func TestFormatStep(t *testing.T) {
	appendOp := ops.Append{Stream: "orders", Expect: ops.Exact(2), Events: []ops.EventData{{Type: "placed", Data: []byte("x")}}}
	const appendForm = `(persist/append {:events [{:data "x" :type "placed"}] :expect "2" :stream "orders"})`
	cases := []struct {
		name string
		e    effect.Effect
		v    any
		err  error
		want string
	}{
		{"answer", appendOp, ops.AppendResult{Stream: "orders", FirstSeq: 3, Head: 3, FirstPos: 7, LastPos: 7}, nil,
			appendForm + ` => {:first-pos 7 :first-seq 3 :head 3 :last-pos 7 :stream "orders"}`},
		{"conflict", appendOp, nil, &ops.Conflict{Stream: "orders", Expected: ops.Exact(2), Actual: 3},
			appendForm + ` !! persist: conflict on stream "orders": expected head 2, actual head 3`},
		{"no fields", ops.Now{}, time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), nil,
			`(persist/now) => "2025-01-02T03:04:05Z"`},
		{"number", ops.Head{Stream: "a"}, uint64(0), nil, `(persist/head {:stream "a"}) => 0`},
		{"panic keeps one line", ops.Head{Stream: "a"}, nil, &effect.PanicError{Value: "boom", Stack: []byte("goroutine 1\nmain.go:3\n")},
			`(persist/head {:stream "a"}) !! effect: panic: boom`},
		{"long message joined", ops.Head{Stream: "a"}, nil, errors.New("first\nsecond\n"),
			`(persist/head {:stream "a"}) !! first | second`},
		{"bytes that are not text", ioWrite{File: "f", Data: []byte{0xff, 0}}, 2, nil,
			`(io/write {:data (bytes "/wA=") :file "f"}) => 2`},
		{"name that is not a symbol", oddName{}, nil, nil, `("odd name") => nil`},
		{"field sx cannot print", withFunc{F: func() {}}, nil, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := interp.FormatStep(c.e, c.v, c.err)
			assert.NotContains(t, got, "\n")
			if c.want == "" {
				assert.True(t, strings.HasPrefix(got, `(test/with-func (go "{`), got)
				assert.Contains(t, got, "cannot convert a func()")
				return
			}
			assert.Equal(t, c.want, got)
		})
	}
}

type oddName struct{ effect.Returns[struct{}] }

func (oddName) EffectName() string { return "odd name" }

type withFunc struct {
	effect.Returns[struct{}]
	F func()
}

func (withFunc) EffectName() string { return "test/with-func" }

// Concurrent programs share one Trace: each line arrives whole, in one Write.
func TestTraceConcurrent(t *testing.T) {
	var w lineWriter
	tr := interp.Trace(&w)
	heads := effect.HandlerFunc(func(p *effect.P, e effect.Effect) (any, error) {
		if h, ok := e.(ops.Head); ok {
			return uint64(len(h.Stream)), nil
		}
		return nil, effect.ErrUnhandled
	})
	prog := func(g int) func(*effect.P) (string, error) {
		return func(p *effect.P) (string, error) {
			for i := range 10 {
				if _, err := effect.Perform(p, ops.Head{Stream: strings.Repeat("s", g*10+i+1)}); err != nil {
					return "", err
				}
			}
			return "ok", nil
		}
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for r := range 20 {
				_, err := modes[r%2].run(context.Background(), prog(g), tr, heads)
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	require.Len(t, w.writes, 8*20*10)
	for _, line := range w.writes {
		assert.Equal(t, 1, strings.Count(line, "\n"), "one line per write: %q", line)
		assert.True(t, strings.HasPrefix(line, `(persist/head {:stream "s`) && strings.HasSuffix(line, "\n"), line)
	}
}

func TestRecordThenReplay(t *testing.T) {
	for _, rec := range modes {
		for _, rep := range modes {
			t.Run("record "+rec.name+", replay "+rep.name, func(t *testing.T) {
				var j interp.Journal
				got, err := rec.run(context.Background(), orders, interp.Record(&j), newStore(), newDisk())
				require.NoError(t, err)
				require.Equal(t, ordersResult, got)
				require.Equal(t, 5, j.Len(), "the program's five effects")

				// The program reuses its event slice; the journal kept each append's own data.
				a0 := j.Steps[0].Effect.(ops.Append)
				assert.Equal(t, `{"order":0}`, string(a0.Events[0].Data))

				r := interp.Replay(&j)
				again, err := rep.run(context.Background(), orders, r, forbidden(t))
				require.NoError(t, err)
				assert.Equal(t, got, again)
				assert.Equal(t, 5, r.Replayed())
				assert.Zero(t, r.Live())
				assert.Nil(t, r.Divergence())
			})
		}
	}
}

// A replay answers errors as they were recorded.
func TestReplayRecordedErrors(t *testing.T) {
	var j interp.Journal
	st := newStore()
	st.streams["orders"] = make([]ops.Event, 5) // every exact append conflicts at first
	var trace1, trace2 lineWriter
	got, err := interp.Run(context.Background(), orders, interp.Trace(&trace1), interp.Record(&j), st, newDisk())
	require.NoError(t, err)
	require.True(t, errors.As(j.Steps[0].Err, new(*ops.Conflict)), "the first append conflicted: %v", j.Steps[0].Err)

	again, err := interp.RunStepped(context.Background(), orders, interp.Trace(&trace2), interp.Replay(&j, interp.ReplayOnly()), forbidden(t))
	require.NoError(t, err)
	assert.Equal(t, got, again)
	assert.Equal(t, trace1.String(), trace2.String())
}

// ordersDiverging performs the first append of orders, then a different one.
func ordersDiverging(p *effect.P) (string, error) {
	if _, err := effect.Perform(p, ops.Append{Stream: "orders", Expect: ops.NoStream(),
		Events: []ops.EventData{{Type: "placed", Data: []byte(`{"order":0}`)}}}); err != nil {
		return "", err
	}
	_, err := effect.Perform(p, ops.Append{Stream: "orders", Expect: ops.Exact(1),
		Events: []ops.EventData{{Type: "placed", Data: []byte(`{"order":7}`)}}})
	if err == nil {
		return "", errors.New("diverging append was answered")
	}
	_, err2 := effect.Perform(p, ops.Head{Stream: "orders"})
	return "", errors.Join(err, err2)
}

func TestReplayDivergence(t *testing.T) {
	var j interp.Journal
	_, err := interp.Run(context.Background(), orders, interp.Record(&j), newStore(), newDisk())
	require.NoError(t, err)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			r := interp.Replay(&j)
			_, err := m.run(context.Background(), ordersDiverging, r, forbidden(t))
			var div *interp.DivergenceError
			require.ErrorAs(t, err, &div)
			assert.ErrorIs(t, err, interp.ErrDiverged)
			assert.Equal(t, 1, div.Step)
			assert.Equal(t, interp.FormatEffect(j.Steps[1].Effect), div.Want)
			assert.Contains(t, div.Got, `{\"order\":7}`)
			assert.Equal(t, `interp: replay diverged at step 1 (- journal, + program)
- …nts [{:data "{\"order\":1}" :type "placed"}] :exp…
+ …nts [{:data "{\"order\":7}" :type "placed"}] :exp…
                           ^`, div.Error())
			// Every later effect gets the same error.
			assert.Same(t, div, r.Divergence())
			assert.Equal(t, 1, r.Replayed())
			assert.Equal(t, 2, strings.Count(err.Error(), "diverged at step 1"), "the head after the divergence was answered with it too")
		})
	}
}

// A journal read back from a file cannot tell a nil slice from an empty
// one; replay does not either.
func TestReplayNilAndEmptyAlike(t *testing.T) {
	j := &interp.Journal{Steps: []interp.Step{
		{Effect: ops.KvPut{Key: "k", Value: nil}, Value: ops.KvResult{Key: "k", Revision: 1}},
		{Effect: ops.Append{Stream: "s", Events: []ops.EventData{{Type: "t", Data: []byte{}}}}, Value: ops.AppendResult{Stream: "s", Head: 1}},
	}}
	prog := func(p *effect.P) (string, error) {
		if _, err := effect.Perform(p, ops.KvPut{Key: "k", Value: []byte{}}); err != nil {
			return "", err
		}
		res, err := effect.Perform(p, ops.Append{Stream: "s", Events: []ops.EventData{{Type: "t"}}})
		return fmt.Sprint(res.Head), err
	}
	got, err := interp.Run(context.Background(), prog, interp.Replay(j, interp.ReplayOnly()))
	require.NoError(t, err)
	assert.Equal(t, "1", got)
}

// A program that crashed is re-run after the restart: it replays its
// journal, then goes on live, and ends as an uncrashed run would.
func TestCrashThenReplayGoesLive(t *testing.T) {
	isSync := func(e effect.Effect) bool { _, ok := e.(ioSync); return ok }
	for _, m := range modes {
		for _, after := range []bool{false, true} {
			for k := range 3 {
				t.Run(fmt.Sprintf("%s, fsync %d, after %v", m.name, k, after), func(t *testing.T) {
					st, d := newStore(), newDisk() // they survive the crash
					var j interp.Journal
					inj := &interp.Inject{At: k, Match: isSync, Desc: "fsync", After: after}
					_, err := m.run(context.Background(), orders, interp.Record(&j), st, inj, d)
					require.ErrorIs(t, err, interp.ErrCrash)
					assert.Equal(t, k, j.Len(), "the appends before the crash were recorded, the crashed one not")

					callsBefore := st.Calls()
					r := interp.Replay(&j)
					got, err := m.run(context.Background(), orders, r, st, d)
					require.NoError(t, err)
					assert.Equal(t, ordersResult, got)
					assert.Equal(t, k, r.Replayed())
					assert.Equal(t, 5-k, r.Live())
					assert.Equal(t, 5-k, st.Calls()-callsBefore, "only the live effects reached the store")
				})
			}
		}
	}
}

func TestReplayOnlyExhausted(t *testing.T) {
	var j interp.Journal
	_, err := interp.Run(context.Background(), orders, interp.Record(&j), newStore(), newDisk())
	require.NoError(t, err)
	j.Truncate(3)
	for _, m := range modes {
		_, err := m.run(context.Background(), orders, interp.Replay(&j, interp.ReplayOnly()), forbidden(t))
		require.ErrorIs(t, err, interp.ErrJournalExhausted, m.name)
		assert.Contains(t, err.Error(), "after 3 steps, at (persist/kv-put {", m.name)
	}
}

func TestRecordConcurrent(t *testing.T) {
	var j interp.Journal
	rec := interp.Record(&j)
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			_, err := modes[g%2].run(context.Background(), orders, rec, newStore(), newDisk())
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	assert.Equal(t, 30, j.Len())
	assert.Equal(t, 30, strings.Count(j.String(), "\n"))
}

// Fail or crash at every effect: the k-th io effect the store performs, and
// the k-th effect of the program itself.
func TestInjectAtEveryK(t *testing.T) {
	isIO := func(e effect.Effect) bool { return strings.HasPrefix(e.EffectName(), "io/") }
	errEIO := errors.New("io: input/output error")

	counter := &interp.Inject{At: -1, Match: isIO}
	_, err := interp.Run(context.Background(), orders, newStore(), counter, newDisk())
	require.NoError(t, err)
	n := counter.Seen()
	require.Equal(t, 6, n)
	require.False(t, counter.Fired())

	for k := range n {
		for _, after := range []bool{false, true} {
			t.Run(fmt.Sprintf("crash io %d after %v", k, after), func(t *testing.T) {
				var traces []string
				for _, m := range modes {
					st, d := newStore(), newDisk()
					inj := &interp.Inject{At: k, Match: isIO, Desc: "io", After: after}
					var w lineWriter
					got, err := m.run(context.Background(), orders, interp.Trace(&w), st, inj, d)
					require.ErrorIs(t, err, interp.ErrCrash, m.name)
					assert.Contains(t, err.Error(), inj.String())
					assert.Empty(t, got)
					assert.True(t, inj.Fired())
					want := k
					if after {
						want++
					}
					assert.Equal(t, want, d.Calls(), "%s: nothing reaches the disk after the crash", m.name)
					assert.Equal(t, k/2, strings.Count(w.String(), "=> {:first-pos"), "%s: appends acknowledged", m.name)
					traces = append(traces, w.String())
				}
				assert.Equal(t, traces[0], traces[1])
			})
			t.Run(fmt.Sprintf("fail io %d after %v", k, after), func(t *testing.T) {
				var traces, results []string
				for _, m := range modes {
					st, d := newStore(), newDisk()
					inj := &interp.Inject{At: k, Match: isIO, After: after, Err: errEIO}
					var w lineWriter
					got, err := m.run(context.Background(), orders, interp.Trace(&w), st, inj, d)
					assert.True(t, inj.Fired())
					traces = append(traces, w.String())
					results = append(results, fmt.Sprint(got, err))
					if err != nil {
						assert.ErrorIs(t, err, errEIO)
					}
					assert.Contains(t, w.String(), "io: input/output error at io/")
				}
				assert.Equal(t, traces[0], traces[1])
				assert.Equal(t, results[0], results[1])
			})
		}
	}

	for k := range 5 {
		t.Run(fmt.Sprintf("crash program effect %d", k), func(t *testing.T) {
			var traces []string
			for _, m := range modes {
				st := newStore()
				var w lineWriter
				inj := &interp.Inject{At: k}
				_, err := m.run(context.Background(), orders, interp.Trace(&w), inj, st, newDisk())
				require.ErrorIs(t, err, interp.ErrCrash)
				assert.Equal(t, k, st.Calls(), "the store saw the effects before the crash only")
				assert.Equal(t, k+1, strings.Count(w.String(), "\n"))
				traces = append(traces, w.String())
			}
			assert.Equal(t, traces[0], traces[1])
		})
	}
}

func TestInjectComposes(t *testing.T) {
	errEIO := errors.New("EIO")
	var w lineWriter
	first := &interp.Inject{At: 1, Op: "io/write", Err: errEIO}
	second := &interp.Inject{At: 2, Op: "io/fsync"}
	_, err := interp.Run(context.Background(), orders, newStore(), interp.Trace(&w), first, second, newDisk())
	require.ErrorIs(t, err, interp.ErrCrash)
	assert.True(t, first.Fired())
	assert.True(t, second.Fired())
	assert.Equal(t, 4, first.Seen(), "writes: 0, 1 failed, its retry, 2")
	assert.Equal(t, 3, second.Seen())
}

func TestInjectString(t *testing.T) {
	cases := []struct {
		in   *interp.Inject
		want string
	}{
		{&interp.Inject{}, `(inject :at 0 :err crash)`},
		{&interp.Inject{At: 3, Op: "io/fsync", After: true, Err: interp.ErrCrash}, `(inject :at 3 :op "io/fsync" :after true :err crash)`},
		{&interp.Inject{At: 1, Match: func(effect.Effect) bool { return true }, Err: errors.New("disk \"full\"")}, `(inject :at 1 :match "func" :err "disk \"full\"")`},
		{&interp.Inject{At: 2, Match: func(effect.Effect) bool { return true }, Desc: "appends to orders"}, `(inject :at 2 :match "appends to orders" :err crash)`},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, c.in.String())
	}
	inj := &interp.Inject{At: 0, Op: "persist/head"}
	_, err := interp.Run(context.Background(), func(p *effect.P) (uint64, error) {
		return effect.Perform(p, ops.Head{Stream: "a"})
	}, inj, forbidden(t))
	var ie *interp.InjectedError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, `interp: crash at persist/head, injected by (inject :at 0 :op "persist/head" :err crash)`, err.Error())
	assert.Equal(t, ops.Head{Stream: "a"}, ie.Effect)
	inj.Reset()
	assert.Zero(t, inj.Seen())
	assert.False(t, inj.Fired())
}

// After a crash, the program is answered ErrAborted and nothing reaches a
// handler, even when the program carries on performing.
func TestCrashEndsTheRun(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			st := newStore()
			power := effect.HandlerFunc(func(p *effect.P, e effect.Effect) (any, error) {
				if _, ok := e.(ioSync); ok {
					return nil, fmt.Errorf("power: %w", interp.ErrCrash)
				}
				return nil, effect.ErrUnhandled
			})
			var errs []error
			deferred := false
			stubborn := func(p *effect.P) (string, error) {
				defer func() { deferred = true }()
				for i := range 4 {
					_, err := effect.Perform(p, ops.Append{Stream: "s", Events: []ops.EventData{{Type: fmt.Sprint(i)}}})
					errs = append(errs, err)
				}
				return "carried on", nil
			}
			got, err := m.run(context.Background(), stubborn, st, power, newDisk())
			require.ErrorIs(t, err, interp.ErrCrash)
			assert.Equal(t, "power: interp: crash", err.Error())
			assert.Empty(t, got)
			assert.True(t, deferred)
			assert.Equal(t, 1, st.Calls(), "only the first append reached the store")
			require.Len(t, errs, 4)
			for _, e := range errs {
				assert.ErrorIs(t, e, effect.ErrAborted)
			}
		})
	}
}

func TestHandlerPanicAbortsProgram(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			base := runtime.NumGoroutine()
			for range 50 {
				deferred := false
				calls := 0
				bad := effect.HandlerFunc(func(p *effect.P, e effect.Effect) (any, error) {
					calls++
					if calls == 2 {
						panic(fmt.Sprintf("bad handler on %s", e.EffectName()))
					}
					return uint64(1), nil
				})
				got, err := m.run(context.Background(), func(p *effect.P) (string, error) {
					defer func() { deferred = true }()
					for range 5 {
						if _, err := effect.Perform(p, ops.Head{Stream: "s"}); err != nil {
							return "", err
						}
					}
					return "done", nil
				}, bad)
				var pe *effect.PanicError
				require.ErrorAs(t, err, &pe)
				assert.Equal(t, "bad handler on persist/head", pe.Value)
				assert.Contains(t, string(pe.Stack), "interp_test")
				assert.Empty(t, got)
				assert.True(t, deferred)
				assert.Equal(t, 2, calls)
			}
			assert.LessOrEqual(t, settledGoroutines(base), base, "no program is left suspended")
		})
	}
}

func settledGoroutines(want int) int {
	n := runtime.NumGoroutine()
	for i := 0; i < 100 && n > want; i++ {
		time.Sleep(time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return n
}

func TestUnhandledNamesEffect(t *testing.T) {
	for _, m := range modes {
		_, err := m.run(context.Background(), orders, newStore())
		require.ErrorIs(t, err, effect.ErrUnhandled, m.name)
		assert.Contains(t, err.Error(), "effect: no handler for io/write", m.name)
		var ue *effect.UnhandledError
		require.ErrorAs(t, err, &ue)
		assert.Equal(t, "io/write", ue.Effect.EffectName())
	}
}

// A handler that blocks on the context ends when it is cancelled.
func TestCancelEndsBlockedHandler(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			waiting := make(chan struct{})
			waiter := effect.HandlerFunc(func(p *effect.P, e effect.Effect) (any, error) {
				if _, ok := e.(ops.Wait); !ok {
					return nil, effect.ErrUnhandled
				}
				close(waiting)
				select {
				case <-p.Context().Done():
					return nil, p.Context().Err()
				case <-time.After(5 * time.Second):
					return ops.WaitResult{}, errors.New("the wait was not cancelled")
				}
			})
			go func() { <-waiting; cancel() }()
			start := time.Now()
			_, err := m.run(ctx, func(p *effect.P) (string, error) {
				_, err := effect.Perform(p, ops.Wait{Stream: "s", After: 1})
				return "", err
			}, waiter)
			assert.ErrorIs(t, err, context.Canceled)
			assert.Less(t, time.Since(start), 2*time.Second)
		})
	}
}

// Drive answers what the program's own handlers leave: here the store runs
// inside the stepped program and only its io effects reach the host.
func TestDriveWithProgramHandlers(t *testing.T) {
	var w lineWriter
	d := newDisk()
	s := effect.Start(context.Background(), orders, newStore())
	got, err := interp.Drive(s, interp.Trace(&w), d)
	require.NoError(t, err)
	assert.Equal(t, ordersResult, got)
	assert.Equal(t, wantOuterTrace, w.String())

	// Step by step for the first two effects, then Drive the rest.
	s = effect.Start(context.Background(), orders, newStore())
	d = newDisk()
	for range 2 {
		v, err := d.Handle(nil, s.Effect())
		s = s.Resume(v, err)
	}
	got, err = interp.Drive(s, d)
	require.NoError(t, err)
	assert.Equal(t, ordersResult, got)

	// A finished suspension gives its result.
	got, err = interp.Drive(effect.Start(context.Background(), func(*effect.P) (string, error) { return "at once", nil }))
	require.NoError(t, err)
	assert.Equal(t, "at once", got)
}

// ordersEarly performs the first two appends of orders and stops.
func ordersEarly(p *effect.P) (string, error) {
	for i := range 2 {
		_, err := effect.Perform(p, ops.Append{Stream: "orders", Expect: ops.Exact(uint64(i)),
			Events: []ops.EventData{{Type: "placed", Data: fmt.Appendf(nil, `{"order":%d}`, i)}}})
		if err != nil {
			return "", err
		}
	}
	return "stopped early", nil
}

// A program that ends before its journal does has diverged: the journal's
// next step is what it did not perform.
func TestReplayProgramStopsEarly(t *testing.T) {
	var j interp.Journal
	_, err := interp.Run(context.Background(), orders, interp.Record(&j), newStore(), newDisk())
	require.NoError(t, err)
	require.Equal(t, 5, j.Len())
	for _, m := range modes {
		for _, only := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, replay only %v", m.name, only), func(t *testing.T) {
				var opts []interp.ReplayOption
				if only {
					opts = append(opts, interp.ReplayOnly())
				}
				r := interp.Replay(&j, opts...)
				got, err := m.run(context.Background(), ordersEarly, r, forbidden(t))
				var div *interp.DivergenceError
				require.ErrorAs(t, err, &div, "the run returned %q", got)
				assert.ErrorIs(t, err, interp.ErrDiverged)
				assert.Empty(t, got)
				assert.Equal(t, 2, div.Step)
				assert.True(t, div.Ended)
				assert.Equal(t, interp.FormatEffect(j.Steps[2].Effect), div.Want)
				assert.Contains(t, div.Error(), "replay diverged at step 2: the program ended with 3 of the journal's 5 steps not performed, the next")
				assert.Same(t, div, r.Divergence())
				assert.Equal(t, div, r.Finish())
			})
		}
	}
	// A program that uses the whole journal ends without a divergence.
	r := interp.Replay(&j)
	_, err = interp.Run(context.Background(), orders, r, forbidden(t))
	require.NoError(t, err)
	assert.NoError(t, r.Finish())
}
