package programs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/interp"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/programs"
)

// callLog notes subscriber calls as "name:stream#seq".
type callLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *callLog) sub(name string) programs.Subscriber {
	return func(_ *effect.P, ev ops.Event) error {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.calls = append(l.calls, fmt.Sprintf("%s:%s#%d", name, ev.Stream, ev.Seq))
		return nil
	}
}

func (l *callLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.calls...)
}

func TestPublishFiresInOrder(t *testing.T) {
	var log callLog
	hub := programs.NewHub()
	hub.Subscribe("orders", log.sub("first"))
	var seen []ops.Event
	hub.Subscribe("orders", func(_ *effect.P, ev ops.Event) error { seen = append(seen, ev); return nil })
	hub.Subscribe("orders", log.sub("third"))
	hub.Subscribe("other", log.sub("other"))

	store := newStore(t)
	p := handle(t, store)
	mustAppend(t, p, "orders", "before")
	res, err := hub.Publish(p, "orders", ops.Exact(1), programs.Event("a", []byte("1")), programs.Event("b", []byte("2")))
	require.NoError(t, err)
	assert.Equal(t, uint64(2), res.FirstSeq)
	assert.Equal(t, uint64(3), res.Head)
	assert.Equal(t, []string{"first:orders#2", "third:orders#2", "first:orders#3", "third:orders#3"}, log.get())

	stored, err := programs.ReadFrom(p, "orders", 2)
	require.NoError(t, err)
	assert.Equal(t, stored, seen, "subscribers see the events as stored")
	assert.NotZero(t, seen[0].ID)
	assert.Equal(t, res.FirstPos, seen[0].Pos)
}

func TestPublishSteppedMatchesInPlace(t *testing.T) {
	prog := func(p *effect.P) ([]string, error) {
		var log callLog
		hub := programs.NewHub()
		hub.Subscribe("s", log.sub("x"))
		hub.Subscribe("s", func(p *effect.P, ev ops.Event) error {
			_, err := programs.Put(p, "last", []byte(ev.Type))
			return err
		})
		for i := range 3 {
			if _, err := hub.Publish(p, "s", ops.Exact(uint64(i)), programs.Event(fmt.Sprintf("e%d", i), nil)); err != nil {
				return nil, err
			}
		}
		v, err := programs.GetOr(p, "last", nil)
		return append(log.get(), string(v)), err
	}
	got, err := both(t, nil, prog)
	require.NoError(t, err)
	assert.Equal(t, []string{"x:s#1", "x:s#2", "x:s#3", "e2"}, got)
}

func TestPlainAppendBypassesHub(t *testing.T) {
	var log callLog
	hub := programs.NewHub()
	hub.Subscribe("s", log.sub("x"))
	p := handle(t, newStore(t))
	_, err := programs.Append(p, "s", ops.Any(), programs.Event("quiet", nil))
	require.NoError(t, err)
	_, err = programs.AppendRetry(p, "s", 2, func(*effect.P, uint64) ([]ops.EventData, error) {
		return []ops.EventData{programs.Event("quiet", nil)}, nil
	})
	require.NoError(t, err)
	assert.Empty(t, log.get())
	_, err = hub.Publish(p, "s", ops.Any(), programs.Event("loud", nil))
	require.NoError(t, err)
	assert.Equal(t, []string{"x:s#3"}, log.get())
}

func TestPublishFailedAppendFiresNothing(t *testing.T) {
	var log callLog
	hub := programs.NewHub()
	hub.Subscribe("s", log.sub("x"))
	p := handle(t, newStore(t))
	mustAppend(t, p, "s", "a")
	_, err := hub.Publish(p, "s", ops.NoStream(), programs.Event("b", nil))
	var c *ops.Conflict
	require.ErrorAs(t, err, &c)
	assert.Equal(t, uint64(1), c.Actual)
	_, err = hub.Publish(p, "s", ops.Any(), programs.Event("", nil))
	var inv *ops.InvalidError
	require.ErrorAs(t, err, &inv)
	_, err = hub.Publish(p, "s", ops.Any())
	require.ErrorAs(t, err, &inv)
	assert.Empty(t, log.get())
}

func TestPublishJoinsSubscriberErrors(t *testing.T) {
	var log callLog
	errA, errB := errors.New("a failed"), errors.New("b failed")
	hub := programs.NewHub()
	hub.Subscribe("s", func(_ *effect.P, ev ops.Event) error {
		if ev.Seq == 1 {
			return errA
		}
		return nil
	})
	hub.Subscribe("s", log.sub("ok"))
	hub.Subscribe("s", func(*effect.P, ops.Event) error { return errB })
	store := newStore(t)
	p := handle(t, store)
	res, err := hub.Publish(p, "s", ops.NoStream(), programs.Event("e", nil), programs.Event("e", nil))
	require.Error(t, err)
	assert.ErrorIs(t, err, errA)
	assert.ErrorIs(t, err, errB)
	assert.Contains(t, err.Error(), `on "s" at seq 2: b failed`)
	assert.Equal(t, uint64(2), res.Head, "the result comes back with the errors")
	assert.Equal(t, []string{"ok:s#1", "ok:s#2"}, log.get(), "every subscriber runs for every event")
	evs, err := programs.ReadStream(p, "s")
	require.NoError(t, err)
	assert.Len(t, evs, 2, "the append stays")
}

func TestCancel(t *testing.T) {
	var log callLog
	hub := &programs.Hub{} // the zero Hub works
	cancelA := hub.Subscribe("s", log.sub("a"))
	var cancelSelf func()
	cancelSelf = hub.Subscribe("s", func(p *effect.P, ev ops.Event) error {
		cancelSelf() // one-shot
		return log.sub("once")(p, ev)
	})
	hub.Subscribe("s", log.sub("b"))
	p := handle(t, newStore(t))
	_, err := hub.Publish(p, "s", ops.Any(), programs.Event("e", nil), programs.Event("e", nil))
	require.NoError(t, err)
	assert.Equal(t, []string{"a:s#1", "once:s#1", "b:s#1", "a:s#2", "b:s#2"}, log.get())

	cancelA()
	cancelA() // twice is harmless
	_, err = hub.Publish(p, "s", ops.Any(), programs.Event("e", nil))
	require.NoError(t, err)
	assert.Equal(t, []string{"a:s#1", "once:s#1", "b:s#1", "a:s#2", "b:s#2", "b:s#3"}, log.get())

	assert.Panics(t, func() { hub.Subscribe("s", nil) })
}

// TestPublishRetryFiresAgain documents the decision: a retried append (same
// IDs, same place) answers the original result and fires the subscribers
// again, without storing the events twice.
func TestPublishRetryFiresAgain(t *testing.T) {
	var log callLog
	hub := programs.NewHub()
	hub.Subscribe("s", log.sub("x"))
	p := handle(t, newStore(t))
	evs := []ops.EventData{{ID: idOf(901), Type: "a"}, {ID: idOf(902), Type: "b"}}
	first, err := hub.Publish(p, "s", ops.NoStream(), evs...)
	require.NoError(t, err)
	again, err := hub.Publish(p, "s", ops.NoStream(), evs...)
	require.NoError(t, err)
	assert.Equal(t, first, again)
	assert.Equal(t, []string{"x:s#1", "x:s#2", "x:s#1", "x:s#2"}, log.get())
	stored, err := programs.ReadStream(p, "s")
	require.NoError(t, err)
	assert.Len(t, stored, 2)
}

// readModel is the canonical subscriber: it resumes a projection kept in kv
// under key, so it is idempotent by construction.
func readModel(key, stream string) programs.Subscriber {
	return func(p *effect.P, _ ops.Event) error {
		var st programs.State[ledger]
		raw, found, err := programs.Get(p, key)
		if err != nil {
			return err
		}
		if found {
			if err := json.Unmarshal(raw.Value, &st); err != nil {
				return err
			}
		} else {
			st.Value.Trail = ">"
		}
		next, err := programs.ProjectResume(p, stream, applyLedger, st)
		if err != nil || next.Seq == st.Seq {
			return err
		}
		b, err := json.Marshal(next)
		if err != nil {
			return err
		}
		_, err = programs.PutIf(p, key, b, ops.Exact(raw.Revision))
		return err
	}
}

func TestReadModelSubscriber(t *testing.T) {
	hub := programs.NewHub()
	hub.Subscribe("acct", readModel("rm/acct", "acct"))
	store := newStore(t)
	p := handle(t, store)
	for i, ev := range ledgerEvents {
		if i == 4 {
			// A plain append bypasses the hub; the next publish catches up.
			mustAppend(t, p, "acct", "deposit")
			continue
		}
		ev.ID = idOf(uint64(500 + i))
		_, err := hub.Publish(p, "acct", ops.Any(), ev)
		require.NoError(t, err)
		if i == 6 {
			// A retried publish fires again and changes nothing.
			_, err = hub.Publish(p, "acct", ops.Any(), ev)
			require.NoError(t, err)
		}
	}
	full, err := programs.Project(p, "acct", applyLedger, ledger{Trail: ">"})
	require.NoError(t, err)
	require.Equal(t, uint64(len(ledgerEvents)), full.Seq, "the retry stored nothing")
	raw, found := kvValue(t, store, "rm/acct")
	require.True(t, found)
	var model programs.State[ledger]
	require.NoError(t, json.Unmarshal([]byte(raw), &model))
	assert.Equal(t, full, model)
}

func TestCounterSubscriber(t *testing.T) {
	hub := programs.NewHub()
	hub.Subscribe("orders", func(p *effect.P, ev ops.Event) error {
		_, err := programs.Update(p, "count/"+ev.Type, 5, increment)
		return err
	})
	store := newStore(t)
	p := handle(t, store)
	for _, typ := range []string{"placed", "placed", "paid", "placed"} {
		_, err := hub.Publish(p, "orders", ops.Any(), programs.Event(typ, nil))
		require.NoError(t, err)
	}
	placed, _ := kvValue(t, store, "count/placed")
	paid, _ := kvValue(t, store, "count/paid")
	assert.Equal(t, "3", placed)
	assert.Equal(t, "1", paid)
}

// TestHubConcurrent publishes, subscribes and cancels from many goroutines.
func TestHubConcurrent(t *testing.T) {
	const publishers, each = 4, 25
	hub := programs.NewHub()
	var total atomic.Int64
	hub.Subscribe("s", func(*effect.P, ops.Event) error { total.Add(1); return nil })
	store := newStore(t)
	var wg sync.WaitGroup
	for i := range publishers {
		wg.Go(func() {
			p := handle(t, store)
			for j := range each {
				_, err := hub.Publish(p, "s", ops.Any(), programs.Event("e", []byte(strconv.Itoa(i*each+j))))
				assert.NoError(t, err)
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for range 50 {
				cancel := hub.Subscribe("s", func(*effect.P, ops.Event) error { return nil })
				cancel()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(publishers*each), total.Load())
	h, err := programs.Head(handle(t, store), "s")
	require.NoError(t, err)
	assert.Equal(t, uint64(publishers*each), h)
}

func TestPublishReadBackFailure(t *testing.T) {
	var log callLog
	hub := programs.NewHub()
	hub.Subscribe("s", log.sub("x"))
	store := newStore(t)
	lost := errors.New("connection lost")
	failRead := intercept(func(_ *effect.P, e effect.Effect) error {
		if _, ok := e.(ops.Read); ok {
			return lost
		}
		return nil
	})
	res, err := hub.Publish(handle(t, failRead, store), "s", ops.Any(), programs.Event("e", nil))
	require.ErrorIs(t, err, lost)
	assert.Contains(t, err.Error(), "read back seq 1..1")
	assert.Equal(t, uint64(1), res.Head, "the append stays and its result comes back")
	assert.Empty(t, log.get())
}

// A batch partly hidden by its stream's max-count fires the subscribers
// for its visible events only.
func TestPublishUnderMaxCount(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	_, err := interp.Run(ctx, func(p *effect.P) (ops.StreamMetaResult, error) {
		return effect.Perform(p, ops.StreamMetaWrite{Stream: "s", Meta: ops.StreamMeta{MaxCount: 2}})
	}, s)
	require.NoError(t, err)
	h := programs.NewHub()
	var seen []uint64
	h.Subscribe("s", func(_ *effect.P, ev ops.Event) error { seen = append(seen, ev.Seq); return nil })
	res, err := interp.Run(ctx, func(p *effect.P) (ops.AppendResult, error) {
		return h.Publish(p, "s", ops.Any(), programs.Event("t", nil), programs.Event("t", nil), programs.Event("t", nil))
	}, s)
	require.NoError(t, err)
	assert.Equal(t, uint64(3), res.Head)
	assert.Equal(t, []uint64{2, 3}, seen)
}
