package backendtest

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/mem"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

func memFactory(t *testing.T) ops.Backend {
	return mem.New(mem.WithClock(Clock()), mem.WithIDs(IDs()))
}

func TestCasesWellFormed(t *testing.T) {
	cs := Cases()
	require.GreaterOrEqual(t, len(cs), 54, "the seed's 54 behaviours at least")
	known := map[string]bool{}
	for _, s := range suiteOrder {
		known[s] = true
	}
	seen := map[string]bool{}
	for _, c := range cs {
		assert.True(t, known[c.Suite], "%s: suite not in suiteOrder", c.FullName())
		assert.False(t, seen[c.FullName()], "%s registered twice", c.FullName())
		seen[c.FullName()] = true
		assert.NotEmpty(t, c.Doc, "%s has no Doc", c.FullName())
		assert.NotNil(t, c.Run, "%s has no body", c.FullName())
		assert.NotContains(t, c.Name, " ", "%s: names are subtest names", c.FullName())
		assert.NotContains(t, c.Name, "/", "%s: names are one path element", c.FullName())
	}
	// Cases come grouped by suite, in suiteOrder.
	suites := Suites()
	assert.Equal(t, len(suites), len(uniq(suites)), "suites appear once each in Cases: %v", suites)
	for _, s := range suiteOrder {
		assert.Contains(t, suites, s, "suite %s has no cases", s)
	}
}

func uniq(xs []string) map[string]bool {
	m := map[string]bool{}
	for _, x := range xs {
		m[x] = true
	}
	return m
}

func TestClockAndIDs(t *testing.T) {
	c := Clock()
	assert.Equal(t, Epoch, c())
	assert.Equal(t, Epoch.Add(time.Millisecond), c())
	assert.Equal(t, Epoch, Clock()(), "each Clock starts at Epoch")

	ids := IDs()
	a, b := ids(), ids()
	assert.Equal(t, "00000000-0000-4000-8000-000000000001", a.String())
	assert.Equal(t, "00000000-0000-4000-8000-000000000002", b.String())
	assert.Equal(t, uuid.Version(4), a.Version())
	assert.Equal(t, uuid.RFC4122, a.Variant())
	assert.NotEqual(t, caseID(1), a, "case IDs live apart from backend IDs")

	// Safe for concurrent use: 8 goroutines draw 100 each, all distinct.
	ids = IDs()
	var mu sync.Mutex
	seen := map[uuid.UUID]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				id := ids()
				mu.Lock()
				seen[id] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	assert.Len(t, seen, 800)
}

// mutant is a backend that changes how another answers, to check that the
// suite notices.
type mutant struct {
	ops.Backend
	handle func(next ops.Backend, p *effect.P, e effect.Effect) (any, error)
	close  func(next ops.Backend) error
}

func (m *mutant) Handle(p *effect.P, e effect.Effect) (any, error) {
	if m.handle == nil {
		return m.Backend.Handle(p, e)
	}
	return m.handle(m.Backend, p, e)
}

func (m *mutant) Close() error {
	if m.close == nil {
		return m.Backend.Close()
	}
	return m.close(m.Backend)
}

// failing runs the named cases against open and returns the failures of
// each.
func failing(t *testing.T, open Factory, names ...string) map[string][]string {
	t.Helper()
	byName := map[string]Case{}
	for _, c := range Cases() {
		byName[c.FullName()] = c
	}
	out := map[string][]string{}
	for _, n := range names {
		c, ok := byName[n]
		require.True(t, ok, "no case %s", n)
		out[n] = execute(t, c, open).failures()
	}
	return out
}

// requireCaught checks that each named case fails against open, and that
// some failure of each mentions want.
func requireCaught(t *testing.T, open Factory, want string, names ...string) {
	t.Helper()
	for name, fails := range failing(t, open, names...) {
		if assert.NotEmpty(t, fails, "%s passes against the broken backend", name) {
			assert.Contains(t, strings.Join(fails, "\n"), want, "%s's failures", name)
		}
	}
}

func TestCatchesWallClock(t *testing.T) {
	open := func(t *testing.T) ops.Backend { return mem.New(mem.WithIDs(IDs())) }
	requireCaught(t, open, "traces differ", "event/fields", "log/read")
}

func TestCatchesRandomIDs(t *testing.T) {
	open := func(t *testing.T) ops.Backend { return mem.New(mem.WithClock(Clock())) }
	requireCaught(t, open, "traces differ", "event/fields")
}

func TestCatchesIgnoredExpectations(t *testing.T) {
	open := func(t *testing.T) ops.Backend {
		return &mutant{Backend: memFactory(t), handle: func(next ops.Backend, p *effect.P, e effect.Effect) (any, error) {
			if a, ok := e.(ops.Append); ok {
				a.Expect = ops.Any()
				e = a
			}
			return next.Handle(p, e)
		}}
	}
	requireCaught(t, open, "want a *ops.Conflict", "concurrency/conflict-exact", "concurrency/conflict-no-stream", "idempotent/different-batch")
	// Every misbehaviour of a case is reported, not just the first.
	fails := failing(t, open, "concurrency/conflict-exact")["concurrency/conflict-exact"]
	assert.GreaterOrEqual(t, len(fails), 3, "failures of conflict-exact: %v", fails)
}

// splitCommit applies a commit's parts one by one: not atomic.
func splitCommit(next ops.Backend, p *effect.P, e effect.Effect) (any, error) {
	c, ok := e.(ops.Commit)
	if !ok {
		return next.Handle(p, e)
	}
	var res ops.CommitResult
	for _, a := range c.Appends {
		r, err := next.Handle(p, a)
		if err != nil {
			return nil, err
		}
		res.Appends = append(res.Appends, r.(ops.AppendResult))
	}
	for _, k := range c.Kv {
		var op effect.Effect = ops.KvPut{Key: k.Key, Value: k.Value, Expect: k.Expect}
		if k.Delete {
			op = ops.KvDelete{Key: k.Key, Expect: k.Expect}
		}
		r, err := next.Handle(p, op)
		if err != nil {
			return nil, err
		}
		res.Kv = append(res.Kv, r.(ops.KvResult))
		res.Revision = r.(ops.KvResult).Revision
	}
	return res, nil
}

func TestCatchesNonAtomicCommit(t *testing.T) {
	open := func(t *testing.T) ops.Backend { return &mutant{Backend: memFactory(t), handle: splitCommit} }
	requireCaught(t, open, "after the commit with", "commit/atomic")
	requireCaught(t, open, "revision", "commit/kv-only")
}

// aliasingKv answers kv-get from a cache it hands out as it is.
func aliasingKv() func(next ops.Backend, p *effect.P, e effect.Effect) (any, error) {
	var mu sync.Mutex
	cache := map[string]*ops.KvEntry{}
	return func(next ops.Backend, p *effect.P, e effect.Effect) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		switch op := e.(type) {
		case ops.KvGet:
			if r, ok := cache[op.Key]; ok {
				return r, nil
			}
			v, err := next.Handle(p, e)
			if err == nil {
				cache[op.Key] = v.(*ops.KvEntry)
			}
			return v, err
		case ops.KvPut, ops.KvDelete, ops.Commit:
			clear(cache)
		}
		return next.Handle(p, e)
	}
}

func TestCatchesAliasing(t *testing.T) {
	open := func(t *testing.T) ops.Backend { return &mutant{Backend: memFactory(t), handle: aliasingKv()} }
	requireCaught(t, open, "value got again", "alias/kv-get-output")
}

func TestCatchesCloseThatDoesNotClose(t *testing.T) {
	open := func(t *testing.T) ops.Backend {
		return &mutant{Backend: memFactory(t), close: func(ops.Backend) error { return nil }}
	}
	requireCaught(t, open, "after Close", "lifecycle/closed")
}

func TestCatchesWrappedUnhandled(t *testing.T) {
	open := func(t *testing.T) ops.Backend {
		return &mutant{Backend: memFactory(t), handle: func(next ops.Backend, p *effect.P, e effect.Effect) (any, error) {
			v, err := next.Handle(p, e)
			if errors.Is(err, effect.ErrUnhandled) {
				return nil, errors.New("no such operation")
			}
			return v, err
		}}
	}
	requireCaught(t, open, "ErrUnhandled", "lifecycle/unknown-effect")
}

func TestCatchesInconsistentListing(t *testing.T) {
	// A backend whose stream listing forgets the last stream: every case
	// that writes to two streams fails the consistency check.
	open := func(t *testing.T) ops.Backend {
		return &mutant{Backend: memFactory(t), handle: func(next ops.Backend, p *effect.P, e effect.Effect) (any, error) {
			v, err := next.Handle(p, e)
			if r, ok := v.(ops.StreamsResult); ok && err == nil && len(r.Streams) > 1 {
				r.Streams = r.Streams[:len(r.Streams)-1]
				return r, nil
			}
			return v, err
		}}
	}
	requireCaught(t, open, "consistency:", "read-all/global-order")
}

func TestCatchesLostWakeUp(t *testing.T) {
	// A backend whose waits only ever time out.
	open := func(t *testing.T) ops.Backend {
		return &mutant{Backend: memFactory(t), handle: func(next ops.Backend, p *effect.P, e effect.Effect) (any, error) {
			if w, ok := e.(ops.Wait); ok {
				w.After = 1 << 60
				w.Timeout = 5 * time.Millisecond
				return next.Handle(p, w)
			}
			return next.Handle(p, e)
		}}
	}
	requireCaught(t, open, "wait", "wait/wake-stream", "wait/passed")
}

func TestModeMismatchShowsBothTraces(t *testing.T) {
	open := func(t *testing.T) ops.Backend { return mem.New(mem.WithIDs(IDs())) }
	fails := failing(t, open, "event/now")["event/now"]
	require.NotEmpty(t, fails)
	msg := strings.Join(fails, "\n")
	assert.Contains(t, msg, "in place:")
	assert.Contains(t, msg, "stepped:")
	assert.Contains(t, msg, "persist/now")
}

func TestFailuresLocatedAndSharedAcrossModes(t *testing.T) {
	c := Case{Suite: "harness", Name: "located", Doc: "fails twice", Run: func(e *Env) {
		_, err := Do(e, func(p *effect.P) (int, error) {
			e.Equal(1, 2, "inside a program")
			return 0, nil
		})
		e.NoError(err, "program")
		e.True(false, "outside any program")
	}}
	fails := execute(t, c, memFactory).failures()
	require.Len(t, fails, 2, "one failure per check, shared by the two modes: %v", fails)
	assert.True(t, strings.HasPrefix(fails[0], "backendtest_test.go:"), "located at the check: %s", fails[0])
	assert.Contains(t, fails[0], "inside a program: want 1, got 2")
	assert.Contains(t, fails[1], "outside any program")
}

func TestFailuresOfOneModeAreLabelled(t *testing.T) {
	c := Case{Suite: "harness", Name: "one-mode", Doc: "fails stepped", Run: func(e *Env) {
		e.True(e.Mode() == InPlace, "only in place")
	}}
	fails := execute(t, c, memFactory).failures()
	require.Len(t, fails, 1)
	assert.True(t, strings.HasPrefix(fails[0], "[stepped] "), fails[0])
}

func TestConcurrentCasesSkipTraceComparison(t *testing.T) {
	wall := func(t *testing.T) ops.Backend { return mem.New() }
	now := func(e *Env) {
		_, err := perform(e, ops.Now{})
		e.NoError(err, "now")
	}
	det := Case{Suite: "harness", Name: "det", Doc: "reads the clock", Run: now}
	conc := Case{Suite: "harness", Name: "conc", Doc: "reads the clock", Concurrent: true, Run: now}
	assert.NotEmpty(t, execute(t, det, wall).failures(), "a wall clock shows in a deterministic case")
	assert.Empty(t, execute(t, conc, wall).failures(), "but not in a concurrent one")
}

func TestFatalEndsTheCase(t *testing.T) {
	reached := false
	c := Case{Suite: "harness", Name: "fatal", Doc: "stops", Run: func(e *Env) {
		e.Fatalf("precondition")
		reached = true
	}}
	fails := execute(t, c, memFactory).failures()
	assert.Len(t, fails, 1)
	assert.False(t, reached)
}

func TestPanicIsAFailure(t *testing.T) {
	c := Case{Suite: "harness", Name: "panic", Doc: "panics", Run: func(e *Env) { panic("boom") }}
	fails := execute(t, c, memFactory).failures()
	require.Len(t, fails, 1)
	assert.Contains(t, fails[0], "case panicked: boom")
}

func TestCatchesIgnoredLimit(t *testing.T) {
	open := func(t *testing.T) ops.Backend {
		return &mutant{Backend: memFactory(t), handle: func(next ops.Backend, p *effect.P, e effect.Effect) (any, error) {
			switch op := e.(type) {
			case ops.Read:
				op.Limit = 0
				e = op
			case ops.KvList:
				op.Limit = 0
				e = op
			}
			return next.Handle(p, e)
		}}
	}
	requireCaught(t, open, "Limit", "log/read-limit", "log/read-paging")
	requireCaught(t, open, "More", "kv/list-paging")
}

func TestCatchesForgottenIDs(t *testing.T) {
	// A backend that drops the IDs it is given: retries are written again.
	open := func(t *testing.T) ops.Backend {
		return &mutant{Backend: memFactory(t), handle: func(next ops.Backend, p *effect.P, e effect.Effect) (any, error) {
			if a, ok := e.(ops.Append); ok {
				evs := slices.Clone(a.Events)
				for i := range evs {
					evs[i].ID = uuid.Nil
				}
				a.Events = evs
				e = a
			}
			return next.Handle(p, e)
		}}
	}
	requireCaught(t, open, "ID", "event/id-kept")
	requireCaught(t, open, "retry", "idempotent/exact", "idempotent/any")
}
