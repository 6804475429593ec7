package server

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// stateTTL is how long a stream's state learned from the store is trusted
// at send time before it is read again: the bound on how late a follow
// sees a metadata change that did not pass through this server (another
// writer of a PostgreSQL store).
const stateTTL = time.Second

// streamInfo is what a feed knows of one stream of its ring: its state as
// last read from the store, shared by the ring's entries of the stream.
type streamInfo struct {
	stream string
	known  atomic.Pointer[knownState]
}

// knownState is a stream's state and when it was read (zero: stale, read
// it again before trusting it).
type knownState struct {
	st      ops.StreamState
	learned time.Time
}

func (i *streamInfo) learn(st ops.StreamState, at time.Time) {
	i.known.Store(&knownState{st: st, learned: at})
}

// stale marks the state to be read again before it is next trusted.
func (i *streamInfo) stale() {
	if k := i.known.Load(); k != nil {
		i.known.Store(&knownState{st: k.st})
	}
}

// readState reads a stream's state and stored head.
func (s *Server) readState(ctx context.Context, stream string) (ops.StreamMetaResult, error) {
	v, err := s.store.Handle(effect.Handle(ctx), ops.StreamMetaRead{Stream: stream})
	if errors.Is(err, effect.ErrUnhandled) {
		// A store without retention hides nothing.
		return ops.StreamMetaResult{Stream: stream}, nil
	}
	if err != nil {
		return ops.StreamMetaResult{}, err
	}
	return v.(ops.StreamMetaResult), nil
}

// sendCheck decides, for one batch of ring entries a follow is about to
// send, which are visible now. A stream with no limits and no deletion,
// whose state is fresh, costs no store read; a stream with any is read
// once a batch (its state and its head, which max-count counts from), and
// the backend's clock once a batch when one has a max-age.
type sendCheck struct {
	s     *Server
	ctx   context.Context
	wall  time.Time
	now   time.Time // the backend's clock, once asked
	fresh map[*streamInfo]ops.StreamMetaResult
}

func (c *sendCheck) visible(e *feedEntry) (bool, error) {
	info := e.info
	if info == nil {
		return true, nil
	}
	if c.wall.IsZero() {
		c.wall = time.Now()
	}
	k := info.known.Load()
	if k != nil && c.wall.Sub(k.learned) < c.s.stateTTL && k.st == (ops.StreamState{}) {
		return true, nil
	}
	r, ok := c.fresh[info]
	if !ok {
		var err error
		if r, err = c.s.readState(c.ctx, info.stream); err != nil {
			return false, err
		}
		info.learn(r.StreamState, c.wall)
		if c.fresh == nil {
			c.fresh = map[*streamInfo]ops.StreamMetaResult{}
		}
		c.fresh[info] = r
	}
	if r.StreamState == (ops.StreamState{}) {
		return true, nil
	}
	if r.MaxAge > 0 && c.now.IsZero() {
		now, err := c.s.storeNow(c.ctx)
		if err != nil {
			return false, err
		}
		c.now = now
	}
	return !r.Hides(e.ev.Seq, r.Head, e.ev.At, c.now), nil
}

// storeNow is the backend's clock, which its reads decide max-age by.
func (s *Server) storeNow(ctx context.Context) (time.Time, error) {
	v, err := s.store.Handle(effect.Handle(ctx), ops.Now{})
	if errors.Is(err, effect.ErrUnhandled) {
		return time.Now(), nil
	}
	if err != nil {
		return time.Time{}, err
	}
	return v.(time.Time), nil
}
