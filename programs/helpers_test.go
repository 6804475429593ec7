package programs_test

import (
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/mem"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// newStore returns a mem store whose clock and event IDs are deterministic,
// so two stores fed the same operations answer identically.
func newStore(t testing.TB) *mem.Store {
	t.Helper()
	var ticks, ids atomic.Uint64
	s := mem.New(
		mem.WithClock(func() time.Time { return epoch.Add(time.Duration(ticks.Add(1)) * time.Second) }),
		mem.WithIDs(func() uuid.UUID { return idOf(ids.Add(1)) }),
	)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func idOf(n uint64) uuid.UUID {
	var u uuid.UUID
	binary.BigEndian.PutUint64(u[8:], n)
	u[0] = 0xee
	return u
}

// recorder is a middleware handler that notes the name of every effect that
// passes through it and passes it on.
type recorder struct {
	mu    sync.Mutex
	trace []string
}

func (r *recorder) Handle(_ *effect.P, e effect.Effect) (any, error) {
	r.mu.Lock()
	r.trace = append(r.trace, describe(e))
	r.mu.Unlock()
	return nil, effect.ErrUnhandled
}

func (r *recorder) names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.trace...)
}

// describe names an effect with the detail the tests check.
func describe(e effect.Effect) string {
	switch op := e.(type) {
	case ops.Read:
		return fmt.Sprintf("%s %s@%d", op.EffectName(), op.Stream, op.From)
	case ops.ReadAll:
		return fmt.Sprintf("%s @%d", op.EffectName(), op.From)
	case ops.KvPut:
		return fmt.Sprintf("%s %s=%s", op.EffectName(), op.Key, op.Value)
	}
	return e.EffectName()
}

// intercept is a middleware that runs fn on every effect before passing it
// on; fn may perform effects outward on p (another writer, say) or answer
// with an error of its own.
func intercept(fn func(p *effect.P, e effect.Effect) error) effect.Handler {
	return effect.HandlerFunc(func(p *effect.P, e effect.Effect) (any, error) {
		if err := fn(p, e); err != nil {
			return nil, err
		}
		return nil, effect.ErrUnhandled
	})
}

// inPlace runs prog in place on store and returns its result and trace.
func inPlace[R any](t testing.TB, store *mem.Store, prog func(*effect.P) (R, error)) (R, []string, error) {
	t.Helper()
	rec := &recorder{}
	p := effect.Handle(t.Context(), rec, store)
	r, err := effect.Call(p, prog)
	return r, rec.names(), err
}

// stepped runs prog as a stepped program, answering each effect it
// suspends on from store, and returns its result and trace.
func stepped[R any](t testing.TB, store *mem.Store, prog func(*effect.P) (R, error)) (R, []string, error) {
	t.Helper()
	hp := effect.Handle(t.Context(), store)
	var trace []string
	s := effect.Start(t.Context(), prog)
	for !s.Done() {
		e := s.Effect()
		trace = append(trace, describe(e))
		s = s.Resume(hp.Send(e))
	}
	r, err := s.Result()
	return r, trace, err
}

// both runs setup then prog on two fresh stores, once in place and once
// stepped, checks that results, errors and traces agree, and returns the
// in-place result and error.
func both[R any](t *testing.T, setup func(p *effect.P), prog func(*effect.P) (R, error)) (R, error) {
	t.Helper()
	a, b := newStore(t), newStore(t)
	if setup != nil {
		setup(effect.Handle(t.Context(), a))
		setup(effect.Handle(t.Context(), b))
	}
	r1, tr1, err1 := inPlace(t, a, prog)
	r2, tr2, err2 := stepped(t, b, prog)
	assert.Equal(t, r1, r2, "stepped result differs from in place")
	assert.Equal(t, tr1, tr2, "stepped trace differs from in place")
	if err1 == nil {
		assert.NoError(t, err2)
	} else if assert.Error(t, err2) {
		assert.Equal(t, err1.Error(), err2.Error())
	}
	return r1, err1
}

// mustAppend appends typed events with data "<type>" to stream.
func mustAppend(t testing.TB, p *effect.P, stream string, types ...string) ops.AppendResult {
	t.Helper()
	evs := make([]ops.EventData, len(types))
	for i, typ := range types {
		evs[i] = ops.EventData{Type: typ, Data: []byte(typ)}
	}
	res, err := effect.Perform(p, ops.Append{Stream: stream, Events: evs})
	require.NoError(t, err)
	return res
}

// count returns how many entries of trace equal name.
func count(trace []string, name string) int {
	n := 0
	for _, s := range trace {
		if s == name {
			n++
		}
	}
	return n
}

// handle returns a perform handle on hs for the test's context.
func handle(t testing.TB, hs ...effect.Handler) *effect.P {
	return effect.Handle(t.Context(), hs...)
}

// answer resumes s with the store's answer to its pending effect.
func answer[R any](hp *effect.P, s effect.Suspension[R]) effect.Suspension[R] {
	return s.Resume(hp.Send(s.Effect()))
}

// kvValue reads a key straight from the store.
func kvValue(t testing.TB, store *mem.Store, key string) (string, bool) {
	t.Helper()
	r, err := store.KvGet(ops.KvGet{Key: key})
	require.NoError(t, err)
	if r == nil {
		return "", false
	}
	return string(r.Value), true
}
