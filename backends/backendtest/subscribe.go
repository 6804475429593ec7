package backendtest

import (
	"errors"
	"fmt"
	"strconv"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/programs"
)

func init() {
	register("subscribe",
		Case{Name: "publish-fires", Doc: "Publish appends, then calls the stream's subscriber with each event as stored", Run: subPublishFires},
		Case{Name: "append-bypasses", Doc: "a plain append does not fire subscribers", Run: subAppendBypasses},
		Case{Name: "per-stream", Doc: "a subscriber fires only for its own stream", Run: subPerStream},
		Case{Name: "order", Doc: "for each event, subscribers fire in the order they subscribed", Run: subOrder},
		Case{Name: "read-model", Doc: "a subscriber keeps a kv read model equal to the projection of the stream", Run: subReadModel},
		Case{Name: "conflict-fires-nothing", Doc: "a Publish refused by its expectation fires nothing and returns the conflict", Run: subConflictFiresNothing},
		Case{Name: "cancel", Doc: "a cancelled subscriber fires no more", Run: subCancel},
		Case{Name: "subscriber-error", Doc: "a failing subscriber's error comes back with the result, and the events stay", Run: subSubscriberError},
	)
}

func publish(e *Env, h *programs.Hub, stream string, expect ops.Expect, events ...ops.EventData) (ops.AppendResult, error) {
	return Do(e, func(p *effect.P) (ops.AppendResult, error) { return h.Publish(p, stream, expect, events...) })
}

func subPublishFires(e *Env) {
	h := programs.NewHub()
	var got []ops.Event
	h.Subscribe("orders", func(p *effect.P, ev ops.Event) error { got = append(got, ev); return nil })
	r, err := publish(e, h, "orders", ops.NoStream(), ev("placed", "o1"), ev("paid", "o1"))
	e.NoError(err, "publish")
	e.Equal([]uint64{1, 2}, []uint64{r.FirstSeq, r.Head}, "FirstSeq and Head")
	_, err = publish(e, h, "orders", ops.Exact(2), ev("shipped", "o1"))
	e.NoError(err, "second publish")
	stored := mustRead(e, "orders", 1, 0).Events
	e.Equal(3, len(got), "events delivered")
	e.True(sameEvents(stored, got), "delivered events %+v differ from the stored %+v", got, stored)
}

func subAppendBypasses(e *Env) {
	h := programs.NewHub()
	fired := 0
	h.Subscribe("orders", func(p *effect.P, ev ops.Event) error { fired++; return nil })
	mustAppend(e, "orders", ops.Any(), ev("placed", "o1"))
	_, err := perform(e, ops.Commit{Appends: []ops.Append{{Stream: "orders", Events: []ops.EventData{ev("paid", "o1")}}}})
	e.NoError(err, "commit")
	e.Equal(0, fired, "subscriber calls after a plain append and a commit")
	_, err = publish(e, h, "orders", ops.Any(), ev("shipped", "o1"))
	e.NoError(err, "publish")
	e.Equal(1, fired, "subscriber calls after a publish")
}

func subPerStream(e *Env) {
	h := programs.NewHub()
	var a, b []string
	h.Subscribe("a", func(p *effect.P, ev ops.Event) error { a = append(a, string(ev.Data)); return nil })
	h.Subscribe("b", func(p *effect.P, ev ops.Event) error { b = append(b, string(ev.Data)); return nil })
	for _, x := range []struct{ stream, data string }{{"a", "a1"}, {"b", "b1"}, {"ab", "ab1"}, {"a", "a2"}} {
		_, err := publish(e, h, x.stream, ops.Any(), ev("t", x.data))
		e.NoError(err, "publish to %s", x.stream)
	}
	e.Equal([]string{"a1", "a2"}, a, "delivered to a's subscriber")
	e.Equal([]string{"b1"}, b, "delivered to b's subscriber")
}

func subOrder(e *Env) {
	h := programs.NewHub()
	var calls []string
	for _, name := range []string{"first", "second", "third"} {
		h.Subscribe("s", func(p *effect.P, ev ops.Event) error {
			calls = append(calls, fmt.Sprintf("%s:%d", name, ev.Seq))
			return nil
		})
	}
	_, err := publish(e, h, "s", ops.Any(), ev("t", "1"), ev("t", "2"))
	e.NoError(err, "publish")
	e.Equal([]string{"first:1", "second:1", "third:1", "first:2", "second:2", "third:2"}, calls, "subscriber calls")
}

// subReadModel keeps the balance of an account in kv: the subscriber
// resumes the projection from the state stored beside it and stores the
// result, the canonical use of a subscription. A second subscriber counts
// events in kv with Update.
func subReadModel(e *Env) {
	h := programs.NewHub()
	h.Subscribe("acct", func(p *effect.P, ev ops.Event) error {
		st := programs.State[int]{}
		if v, found, err := programs.Get(p, "model/acct/seq"); err != nil {
			return err
		} else if found {
			st.Seq, _ = strconv.ParseUint(string(v.Value), 10, 64)
			b, err := programs.GetOr(p, "model/acct/balance", []byte("0"))
			if err != nil {
				return err
			}
			st.Value, _ = strconv.Atoi(string(b))
		}
		st, err := programs.ProjectResume(p, "acct", func(bal int, ev ops.Event) (int, error) {
			t, err := tallyStep(tally{Balance: bal}, ev)
			return t.Balance, err
		}, st)
		if err != nil {
			return err
		}
		_, err = effect.Perform(p, ops.Commit{Kv: []ops.KvChange{
			{Key: "model/acct/balance", Value: []byte(strconv.Itoa(st.Value))},
			{Key: "model/acct/seq", Value: []byte(strconv.FormatUint(st.Seq, 10))},
		}})
		return err
	})
	h.Subscribe("acct", func(p *effect.P, ev ops.Event) error {
		_, err := programs.Update(p, "model/acct/count", 1, incr)
		return err
	})
	for i := 1; i <= 6; i++ {
		typ := "credit"
		if i%3 == 0 {
			typ = "debit"
		}
		_, err := publish(e, h, "acct", ops.Any(), ev(typ, strconv.Itoa(i*10)))
		e.NoError(err, "publish %d", i)
	}
	full, err := Do(e, projectProg("acct"))
	e.NoError(err, "projection")
	e.Equal(strconv.Itoa(full.Value.Balance), string(mustGet(e, "model/acct/balance").Entry.Value), "balance in the read model")
	e.Equal("6", string(mustGet(e, "model/acct/seq").Entry.Value), "seq in the read model")
	e.Equal("6", string(mustGet(e, "model/acct/count").Entry.Value), "count in the read model")
}

func subConflictFiresNothing(e *Env) {
	h := programs.NewHub()
	fired := 0
	h.Subscribe("s", func(p *effect.P, ev ops.Event) error { fired++; return nil })
	mustAppend(e, "s", ops.Any(), ev("t", "1"))
	_, err := publish(e, h, "s", ops.NoStream(), ev("t", "2"))
	e.Conflict(err, ops.Conflict{Stream: "s", Expected: ops.NoStream(), Actual: 1}, "publish expecting no stream")
	e.Equal(0, fired, "subscriber calls")
	e.Equal(uint64(1), mustHead(e, "s"), "head")
}

func subCancel(e *Env) {
	h := programs.NewHub()
	var kept, cancelled int
	cancel := h.Subscribe("s", func(p *effect.P, ev ops.Event) error { cancelled++; return nil })
	h.Subscribe("s", func(p *effect.P, ev ops.Event) error { kept++; return nil })
	_, err := publish(e, h, "s", ops.Any(), ev("t", "1"))
	e.NoError(err, "publish before cancel")
	cancel()
	_, err = publish(e, h, "s", ops.Any(), ev("t", "2"))
	e.NoError(err, "publish after cancel")
	e.Equal([]int{1, 2}, []int{cancelled, kept}, "calls of the cancelled and the kept subscriber")
}

func subSubscriberError(e *Env) {
	h := programs.NewHub()
	boom := errors.New("read model unavailable")
	calls := 0
	h.Subscribe("s", func(p *effect.P, ev ops.Event) error { return boom })
	h.Subscribe("s", func(p *effect.P, ev ops.Event) error { calls++; return nil })
	r, err := publish(e, h, "s", ops.Any(), ev("t", "1"), ev("t", "2"))
	e.ErrorIs(err, boom, "publish with a failing subscriber")
	e.Equal([]uint64{1, 2}, []uint64{r.FirstSeq, r.Head}, "result returned with the error")
	e.Equal(2, calls, "calls of the other subscriber")
	e.Equal(uint64(2), mustHead(e, "s"), "head")
}
