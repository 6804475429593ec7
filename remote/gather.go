package remote

import (
	"context"
	"net/http"
	"sync"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/sx"
)

// maxGather is the most operations one gathered batch carries: the
// server's default batch limit.
const maxGather = 64

// maxSenders is how many requests the gatherer has in flight at most.
const maxSenders = 4

// pending is an operation waiting to travel in a gathered batch.
type pending struct {
	ctx  context.Context
	op   effect.Effect
	dec  func(sx.Value) (any, error)
	done chan struct{}
	v    any
	err  error
}

// gathered performs op through the gatherer: a caller that finds fewer
// than maxSenders requests in flight sends its operation alone;
// operations that arrive while they are in flight wait and go together
// in the next batch request. So concurrent operations share round trips (and, on the
// server, group commits) while a lone one pays no wait.
func (c *Client) gathered(ctx context.Context, op effect.Effect, dec func(sx.Value) (any, error)) (any, error) {
	c.gmu.Lock()
	if c.senders < maxSenders {
		c.senders++
		c.gmu.Unlock()
		v, err := c.do(ctx, op, dec)
		c.handOver()
		return v, err
	}
	p := &pending{ctx: ctx, op: op, dec: dec, done: make(chan struct{})}
	c.queue = append(c.queue, p)
	c.gmu.Unlock()
	select {
	case <-p.done:
		return p.v, p.err
	case <-ctx.Done():
		// The batch may still carry it: its outcome is unknown, as after
		// any request that got no answer.
		return nil, ctx.Err()
	}
}

// handOver ends the caller's turn: the operations queued meanwhile are
// sent by a goroutine of their own, so the caller returns at once.
func (c *Client) handOver() {
	c.gmu.Lock()
	if len(c.queue) == 0 {
		c.senders--
		c.gmu.Unlock()
		return
	}
	c.gmu.Unlock()
	go c.sendQueued()
}

// sendQueued sends the queued operations as batches until the queue is
// empty, then lets the next caller send.
func (c *Client) sendQueued() {
	for {
		c.gmu.Lock()
		if len(c.queue) == 0 {
			c.senders--
			c.gmu.Unlock()
			return
		}
		n := min(len(c.queue), maxGather)
		batch := c.queue[:n:n]
		c.queue = c.queue[n:]
		c.gmu.Unlock()
		c.sendBatch(batch)
	}
}

func (c *Client) sendBatch(batch []*pending) {
	finish := func(err error) {
		for _, p := range batch {
			p.err = err
			close(p.done)
		}
	}
	items := make(sx.Vector, 0, len(batch))
	live := batch[:0:0]
	hint := 0
	for _, p := range batch {
		if p.ctx.Err() != nil {
			p.err = p.ctx.Err()
			close(p.done)
			continue
		}
		v, err := opValue(p.op)
		if err != nil {
			p.err = err
			close(p.done)
			continue
		}
		items = append(items, v)
		live = append(live, p)
		hint += sizeHint(p.op)
	}
	batch = live
	if len(batch) == 0 {
		return
	}
	_, asJSON := c.notation()
	body, err := encodeValue(items, asJSON, hint)
	if err != nil {
		finish(err)
		return
	}
	status, v, err := c.post(context.Background(), "/v1/batch", body)
	if err != nil {
		finish(err)
		return
	}
	if status != http.StatusOK {
		if len(batch) > 1 && (status == http.StatusForbidden || status == http.StatusRequestEntityTooLarge) {
			// Refused whole for what some of its operations ask (a grant
			// one lacks, a body over the limit together): each goes alone,
			// for the answer it would have had alone.
			var wg sync.WaitGroup
			for _, p := range batch {
				wg.Go(func() {
					p.v, p.err = c.do(p.ctx, p.op, p.dec)
					close(p.done)
				})
			}
			wg.Wait()
			return
		}
		finish(decodeError(status, v))
		return
	}
	answers, ok := v.(sx.Vector)
	if !ok || len(answers) != len(batch) {
		finish(&Error{Status: status, Kind: "error", Message: "remote: batch answer does not match the batch"})
		return
	}
	for i, p := range batch {
		d, _ := answers[i].(*sx.Dict)
		if val, found := d.Get(sx.Keyword("ok")); found {
			p.v, p.err = p.dec(val)
		} else {
			p.err = decodeError(0, answers[i])
		}
		close(p.done)
	}
}
