package programs

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// Subscriber is called by Hub.Publish for each event published on the
// stream it subscribed to. It is part of the publishing program: it may
// perform effects on p (update a read model in kv, checkpoint a projection)
// and its error is returned by Publish.
type Subscriber func(p *effect.P, ev ops.Event) error

// Hub fires subscribers when events are published through it, so that read
// models update on write.
//
// The registrations are Go memory, kept by the Hub and safe for concurrent
// use; the firing is a program, run by Publish on the publisher's perform
// handle. Only events written through Publish fire: a plain persist/append
// (Append, AppendRetry, a commit) bypasses the hub by design, for bulk loads
// and replays. Subscribers that must see every event whoever wrote it
// belong in a Follow handler instead.
//
// The zero Hub is ready to use.
type Hub struct {
	mu     sync.Mutex
	nextID uint64
	subs   map[string][]*subscription
}

type subscription struct {
	id   uint64
	fn   Subscriber
	live atomic.Bool
}

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{} }

// Subscribe registers s for the events published on stream and returns the
// function that cancels the registration. Subscribers of a stream fire in
// the order they subscribed. Cancel may be called any number of times and
// from any goroutine; once it has returned, no call of s begins, except one
// that a Publish on another goroutine had already decided to make. Subscribe
// panics when s is nil.
func (h *Hub) Subscribe(stream string, s Subscriber) (cancel func()) {
	if s == nil {
		panic("programs: Subscribe with a nil subscriber")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs == nil {
		h.subs = make(map[string][]*subscription)
	}
	h.nextID++
	sub := &subscription{id: h.nextID, fn: s}
	sub.live.Store(true)
	h.subs[stream] = append(h.subs[stream], sub)
	return func() { h.cancel(stream, sub) }
}

func (h *Hub) cancel(stream string, sub *subscription) {
	sub.live.Store(false)
	h.mu.Lock()
	defer h.mu.Unlock()
	subs := h.subs[stream]
	for i, x := range subs {
		if x == sub {
			// Copy on write: a Publish may be ranging over the old slice.
			rest := make([]*subscription, 0, len(subs)-1)
			rest = append(append(rest, subs[:i]...), subs[i+1:]...)
			if len(rest) == 0 {
				delete(h.subs, stream)
			} else {
				h.subs[stream] = rest
			}
			return
		}
	}
}

func (h *Hub) subscribers(stream string) []*subscription {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.subs[stream]
}

// Publish appends events to stream if expect holds (as Append does), then
// fires the stream's subscribers: it reads the appended events back with
// one persist/read from the result's FirstSeq (so subscribers see them as
// stored, with seq, position, time and ID) and calls, for each event in seq
// order, each subscriber in subscription order. The subscribers are those
// registered when Publish starts firing, less any cancelled meanwhile.
//
// A failed append (a *ops.Conflict, an *ops.InvalidError) fires nothing and
// is returned as it is. Once the append succeeded its result is always
// returned: the events stay whatever the subscribers do. Every subscriber
// is called for every event even when some fail; their errors, each naming
// the event, are joined (errors.Join) into the error returned with the
// result. A failed read-back is returned with the result likewise, and
// fires nothing.
//
// A retried append (events whose IDs are already stored at that place, see
// ops) answers the original result, and Publish fires the subscribers again
// for those events. That is deliberate: a publisher that lost the answer of
// a Publish (a crash, a timeout) retries it with the same IDs and so
// completes the firing it may have missed. Delivery is therefore
// at-least-once per Publish call; subscribers should be idempotent, for
// example by recording the last seq they applied (ProjectResume does so by
// construction).
func (h *Hub) Publish(p *effect.P, stream string, expect ops.Expect, events ...ops.EventData) (ops.AppendResult, error) {
	res, err := Append(p, stream, expect, events...)
	if err != nil {
		return res, err
	}
	subs := h.subscribers(stream)
	if len(subs) == 0 || res.Head < res.FirstSeq {
		return res, nil
	}
	n := res.Head - res.FirstSeq + 1
	page, err := effect.Perform(p, ops.Read{Stream: stream, From: res.FirstSeq, Limit: int(n)})
	if err != nil {
		return res, fmt.Errorf("publish to %q: read back seq %d..%d: %w", stream, res.FirstSeq, res.Head, err)
	}
	// A stream's limits may hide part of the batch (a max-count smaller
	// than it, or, for a retry, appends since): the subscribers get what
	// is visible, as every reader does. A backend that does not say Next
	// hides nothing, and must give the batch whole.
	if page.Next == 0 && uint64(len(page.Events)) != n {
		return res, fmt.Errorf("publish to %q: read back seq %d..%d: got %d events", stream, res.FirstSeq, res.Head, len(page.Events))
	}
	var errs []error
	for _, ev := range page.Events {
		if ev.Seq < res.FirstSeq || ev.Seq > res.Head {
			break
		}
		for _, sub := range subs {
			if !sub.live.Load() {
				continue
			}
			if err := sub.fn(p, ev); err != nil {
				errs = append(errs, fmt.Errorf("subscriber %d on %q at seq %d: %w", sub.id, stream, ev.Seq, err))
			}
		}
	}
	return res, errors.Join(errs...)
}
