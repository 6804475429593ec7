package server

import (
	"context"
	"sort"
	"strconv"
	"sync"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/sx"
)

// feedRing is how many of the latest events a feed keeps for its follows,
// and feedRingBytes how many bytes of data at most (the newest page is
// kept whatever its size).
const (
	feedRing      = 4096
	feedRingBytes = 32 << 20
)

// A feed tails one source (a stream, or "" for the global log) once for
// all the follows of it: it reads each new event from the store once and
// frames it once per notation, and the follows that are caught up write
// the frame's bytes from its ring as they are. A follow behind the ring reads the store itself
// until it reaches the ring. The feed runs while it has follows.
type feed struct {
	s      *Server
	stream string
	refs   int // guarded by the server's feeds lock
	cancel context.CancelFunc

	mu      sync.RWMutex  // read-locked by the follows, write-locked by run
	ring    []*feedEntry  // ids ascending (hidden ones skipped), oldest first
	bytes   int           // data bytes in the ring
	next    uint64        // the id after the newest event seen
	changed chan struct{} // closed when the ring grows or the feed ends
	err     error         // why the feed ended, if it did
	// states holds what the feed knows of each stream in its ring; run
	// alone writes it (under mu), so run reads it without the lock.
	states map[string]*streamInfo
}

type feedEntry struct {
	id    uint64
	ev    ops.Event
	info  *streamInfo // the stream's state, checked when the entry is sent
	once  [2]sync.Once
	frame [2][]byte
	err   [2]error
}

// framed is the event's SSE frame in notation n, made once.
func (e *feedEntry) framed(n Notation) ([]byte, error) {
	e.once[n].Do(func() { e.frame[n], e.err[n] = appendFrame(nil, e.id, e.ev, n) })
	return e.frame[n], e.err[n]
}

// appendFrame appends the SSE frame of ev, whose id is id, in notation n:
// "id: ID\nevent: event\ndata: EVENT\n\n".
func appendFrame(buf []byte, id uint64, ev ops.Event, n Notation) ([]byte, error) {
	val, err := sx.FromGo(ev)
	if err != nil {
		return buf, err
	}
	enc, err := EncodeValue(val, n)
	if err != nil {
		return buf, err
	}
	buf = append(buf, "id: "...)
	buf = strconv.AppendUint(buf, id, 10)
	buf = append(buf, "\nevent: event\ndata: "...)
	buf = append(buf, enc...)
	return append(buf, "\n\n"...), nil
}

// acquireFeed gives the running feed of stream, starting one if there is
// none; releaseFeed gives it back.
func (s *Server) acquireFeed(stream string) (*feed, error) {
	s.feedMu.Lock()
	defer s.feedMu.Unlock()
	if f := s.feeds[stream]; f != nil {
		f.refs++
		return f, nil
	}
	head, err := s.sourceHead(stream)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	stop := context.AfterFunc(drainContext{s.drain}, cancel)
	f := &feed{s: s, stream: stream, refs: 1, next: head + 1, changed: make(chan struct{}), states: map[string]*streamInfo{},
		cancel: func() { stop(); cancel() }}
	s.feeds[stream] = f
	go f.run(ctx)
	return f, nil
}

func (s *Server) releaseFeed(f *feed) {
	s.feedMu.Lock()
	defer s.feedMu.Unlock()
	f.refs--
	if f.refs == 0 {
		delete(s.feeds, f.stream)
		f.cancel()
	}
}

// sourceHead is the last seq of the stream, or the last position of the
// global log.
func (s *Server) sourceHead(stream string) (uint64, error) {
	p := effect.Handle(context.Background())
	if stream != "" {
		v, err := s.store.Handle(p, ops.Head{Stream: stream})
		if err != nil {
			return 0, err
		}
		return v.(uint64), nil
	}
	v, err := s.store.Handle(p, ops.ReadAll{Limit: 1})
	if err != nil {
		return 0, err
	}
	return v.(ops.ReadAllResult).Head, nil
}

// run tails the source until ctx ends or the store fails.
func (f *feed) run(ctx context.Context) {
	for {
		f.mu.Lock()
		next := f.next
		f.mu.Unlock()
		events, after, head, err := f.s.readFrom(ctx, f.stream, next)
		if err == nil && len(events) == 0 {
			if after > next {
				// Only hidden events: go on past them.
				f.mu.Lock()
				f.next = max(f.next, after)
				f.mu.Unlock()
				continue
			}
			_, err = f.s.store.Handle(effect.Handle(ctx), ops.Wait{Stream: f.stream, After: max(next-1, head), Timeout: f.s.limits.Ping})
		}
		if err != nil {
			f.mu.Lock()
			if ctx.Err() != nil {
				err = ErrShuttingDown
			}
			f.err = err
			close(f.changed)
			f.mu.Unlock()
			return
		}
		if len(events) == 0 {
			continue
		}
		learned, err := f.learn(ctx, events)
		f.mu.Lock()
		if err != nil {
			if ctx.Err() != nil {
				err = ErrShuttingDown
			}
			f.err = err
			close(f.changed)
			f.mu.Unlock()
			return
		}
		for k, v := range learned {
			f.states[k] = v
		}
		for _, ev := range events {
			id := ev.Seq
			if f.stream == "" {
				id = ev.Pos
			}
			f.ring = append(f.ring, &feedEntry{id: id, ev: ev, info: f.states[ev.Stream]})
			f.bytes += len(ev.Data)
			f.next = id + 1
		}
		f.next = max(f.next, after)
		drop := 0
		for len(f.ring)-drop > len(events) && (len(f.ring)-drop > f.s.ringLen || f.bytes > f.s.ringBytes) {
			f.bytes -= len(f.ring[drop].ev.Data)
			drop++
		}
		if drop > 0 {
			f.ring = append(f.ring[:0:0], f.ring[drop:]...)
		}
		if len(f.states) > 2*len(f.ring)+64 {
			f.states = make(map[string]*streamInfo, len(f.ring))
			for _, e := range f.ring {
				f.states[e.ev.Stream] = e.info
			}
		}
		close(f.changed)
		f.changed = make(chan struct{})
		f.mu.Unlock()
	}
}

// learn reads the state of each stream of events the feed does not know
// yet: once a stream, not once an event.
func (f *feed) learn(ctx context.Context, events []ops.Event) (map[string]*streamInfo, error) {
	var out map[string]*streamInfo
	for _, ev := range events {
		if f.states[ev.Stream] != nil || out[ev.Stream] != nil {
			continue
		}
		at := time.Now()
		r, err := f.s.readState(ctx, ev.Stream)
		if err != nil {
			return nil, err
		}
		info := &streamInfo{stream: ev.Stream}
		info.learn(r.StreamState, at)
		if out == nil {
			out = map[string]*streamInfo{}
		}
		out[ev.Stream] = info
	}
	return out, nil
}

// since gives the ring's events from id next on and the channel that
// closes when there are more. ok is false when next is older than the
// ring: the follow reads the store itself up to the ring.
func (f *feed) since(next uint64) (entries []*feedEntry, changed <-chan struct{}, ok bool, err error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	start := f.next
	if len(f.ring) > 0 {
		start = f.ring[0].id
	}
	if next < start {
		return nil, nil, false, nil
	}
	if next < f.next {
		// Ids ascend but may skip what was hidden when the feed read.
		i := sort.Search(len(f.ring), func(i int) bool { return f.ring[i].id >= next })
		entries = f.ring[i:]
	}
	return entries, f.changed, true, f.err
}

// forget drops the feed's ring: what it holds may be hidden now (a
// stream's limits changed, or it was deleted), and a follow that is not
// at the ring's end reads the store again. The follows at its end go on
// with what comes next.
func (f *feed) forget(stream string) {
	f.mu.Lock()
	f.ring, f.bytes = nil, 0
	if info := f.states[stream]; info != nil {
		// A follow may hold entries of it taken before: it reads the
		// state again before it sends them.
		info.stale()
	}
	f.mu.Unlock()
}

// forgetFeeds drops the rings of the feeds that may show stream: its own
// and the global log's.
func (s *Server) forgetFeeds(stream string) {
	s.feedMu.Lock()
	defer s.feedMu.Unlock()
	for _, src := range []string{stream, ""} {
		if f := s.feeds[src]; f != nil {
			f.forget(stream)
		}
	}
}
