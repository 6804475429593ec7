package postgres

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// groupTimer ends the context of the group in flight once the commit
// timeout (WithCommitTimeout) has passed, with one timer for the store
// rather than one per group. A timer started per group (what
// context.WithTimeout does) cost a one-event commit about 14 µs of the
// client's CPU, most of it the runtime waking its network poller for
// each new timer; the store's timer is set again only when it fires,
// about once a timeout while commits go on. Groups run one at a time
// (their leader holds the commit token), so one group is in flight at
// most; a group started while the timer is set for an earlier deadline
// is found unexpired when it fires, and the timer is set for its own.
type groupTimer struct {
	mu      sync.Mutex
	t       *time.Timer
	pending bool      // t is set to fire
	cur     *groupCtx // the group in flight, nil when none
}

// groupCtx is a group's context: canceled at the end of the group, or
// when its deadline passed, when Err is context.DeadlineExceeded as for
// a context of context.WithTimeout. It does not embed its inner cancel
// context: a context derived from it (context.WithCancel, WithTimeout,
// AfterFunc: pgx derives one to connect and watches each query by one)
// would find that one by its Value and end with its error, context
// canceled. It hides it instead and offers AfterFunc, by which the
// context package ends the derived ones with this one's Err and cause.
type groupCtx struct {
	inner    context.Context // canceled at the group's end or deadline
	cancel   context.CancelFunc
	deadline time.Time
	expired  atomic.Bool
}

func (c *groupCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *groupCtx) Done() <-chan struct{} { return c.inner.Done() }

func (c *groupCtx) Err() error {
	if c.expired.Load() {
		return context.DeadlineExceeded
	}
	return c.inner.Err()
}

// Value is nil for every key: the context holds no values, and the
// context package must not find the inner cancel context (see groupCtx).
func (c *groupCtx) Value(any) any { return nil }

// AfterFunc runs f once the context ended, as context.AfterFunc does;
// the context package calls it for the contexts derived from c.
func (c *groupCtx) AfterFunc(f func()) func() bool { return context.AfterFunc(c.inner, f) }

// start returns the context of a group that may run for timeout, and
// the function that ends it.
func (g *groupTimer) start(timeout time.Duration) (context.Context, func()) {
	inner, cancel := context.WithCancel(context.Background())
	c := &groupCtx{inner: inner, cancel: cancel, deadline: time.Now().Add(timeout)}
	g.mu.Lock()
	g.cur = c
	if !g.pending {
		g.pending = true
		if g.t == nil {
			g.t = time.AfterFunc(timeout, g.fire)
		} else {
			g.t.Reset(timeout)
		}
	}
	g.mu.Unlock()
	return c, func() {
		g.mu.Lock()
		if g.cur == c {
			g.cur = nil
		}
		g.mu.Unlock()
		cancel()
	}
}

// fire ends the group in flight if its deadline passed, and otherwise
// sets the timer for it.
func (g *groupTimer) fire() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pending = false
	c := g.cur
	if c == nil {
		return
	}
	if d := time.Until(c.deadline); d > 0 {
		g.pending = true
		g.t.Reset(d)
		return
	}
	g.cur = nil
	c.expired.Store(true)
	c.cancel()
}

// stop stops the timer, for Close.
func (g *groupTimer) stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.t != nil {
		g.t.Stop()
	}
	g.pending = false
}
