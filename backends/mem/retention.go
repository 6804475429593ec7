package mem

import (
	"sort"
	"time"

	"rose-ash.com/persist/ops"
)

// scanBudget bounds the stored events one read skips over when a
// stream's limits hide them: a page then ends short, with Next where the
// skipping stopped, instead of holding the lock for a long hidden run.
const scanBudget = 16 * ops.MaxPage

// hidden reports whether the stored event r of st is hidden at now.
func hidden(st *stream, r *record, now time.Time) bool {
	if st.state == (ops.StreamState{}) {
		return false
	}
	return st.state.Hides(r.seq, st.pos.len(), time.Unix(0, r.at), now)
}

// readLimited answers persist/read on a stream with metadata: the visible
// events from from on; the caller holds mu.
func (s *Store) readLimited(op ops.Read, st *stream, from uint64) ops.ReadResult {
	head := st.pos.len()
	res := ops.ReadResult{Head: head}
	seq := max(from, st.state.FirstSeq(head))
	limit := ops.PageLimit(op.Limit)
	var now time.Time
	if st.state.MaxAge > 0 {
		now = s.clock()
	}
	out := s.collector(op.Page, int(min(uint64(limit), head+1-min(seq, head+1))))
	for scanned := 0; seq <= head && out.n < limit && scanned < scanBudget; scanned++ {
		p := *st.pos.at(seq)
		seq++
		if st.state.MaxAge > 0 && hidden(st, s.log.at(p), now) {
			continue
		}
		out.add(p)
	}
	res.Next = seq
	res.Events = out.events()
	return res
}

// readAllLimited answers persist/read-all while some stream has metadata:
// the visible events from position from on; the caller holds mu.
func (s *Store) readAllLimited(op ops.ReadAll, from uint64) ops.ReadAllResult {
	last := s.log.len()
	res := ops.ReadAllResult{Head: last}
	limit := ops.PageLimit(op.Limit)
	now := s.clock()
	out := s.collector(op.Page, int(min(uint64(limit), last+1-min(from, last+1))))
	p := from
	for scanned := 0; p <= last && out.n < limit && scanned < scanBudget; scanned++ {
		r := s.log.at(p)
		if !hidden(r.st, r, now) {
			out.add(p)
		}
		p++
	}
	res.Next = p
	res.Events = out.events()
	return res
}

// collector gathers the events of a filtered read: into the page when
// one is lent, else into a slice of at most size events.
type collector struct {
	s   *Store
	pg  *ops.Page
	out []ops.Event
	n   int
}

func (s *Store) collector(pg *ops.Page, size int) *collector {
	c := &collector{s: s, pg: pg}
	if pg != nil {
		pg.Reset()
	} else if size > 0 {
		c.out = make([]ops.Event, 0, size)
	}
	return c
}

func (c *collector) add(pos uint64) {
	r := c.s.log.at(pos)
	if c.pg != nil {
		c.pg.Add(r.eventWith(pos, c.pg.Clone(r.data)))
	} else {
		c.out = append(c.out, r.event(pos))
	}
	c.n++
}

func (c *collector) events() []ops.Event {
	if c.pg != nil {
		return c.pg.Events()
	}
	if len(c.out) == 0 {
		return nil
	}
	return c.out
}

// StreamMetaRead answers persist/stream-meta-read.
func (s *Store) StreamMetaRead(op ops.StreamMetaRead) (ops.StreamMetaResult, error) {
	if err := op.Validate(); err != nil {
		return ops.StreamMetaResult{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ops.StreamMetaResult{}, ops.ErrClosed
	}
	res := ops.StreamMetaResult{Stream: op.Stream}
	if st := s.streams[op.Stream]; st != nil {
		res.Head, res.StreamState = st.pos.len(), st.state
	}
	return res, nil
}

// StreamMetaWrite answers persist/stream-meta-write.
func (s *Store) StreamMetaWrite(op ops.StreamMetaWrite) (ops.StreamMetaResult, error) {
	return s.setState(func(v view) (ops.MetaPlan, error) { return ops.CheckMeta(op, v) })
}

// StreamDelete answers persist/stream-delete.
func (s *Store) StreamDelete(op ops.StreamDelete) (ops.StreamMetaResult, error) {
	return s.setState(func(v view) (ops.MetaPlan, error) { return ops.CheckDelete(op, v) })
}

// setState stores the stream state decide plans, under the write lock.
func (s *Store) setState(decide func(view) (ops.MetaPlan, error)) (ops.StreamMetaResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ops.StreamMetaResult{}, ops.ErrClosed
	}
	plan, err := decide(view{s: s})
	if err != nil {
		return ops.StreamMetaResult{}, err
	}
	s.stream(plan.Stream).state = plan.State
	if plan.State != (ops.StreamState{}) {
		s.limited = true
	}
	return plan.Result(), nil
}

// Stat answers persist/stat. Nothing is ever removed from memory, so
// every hidden event is stored still; mem knows no byte figures.
func (s *Store) Stat() (ops.StatResult, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ops.StatResult{}, ops.ErrClosed
	}
	now := s.clock()
	res := ops.StatResult{
		EventsStored: s.log.len(), KvKeys: uint64(len(s.kv)), KvRevision: s.kvRev,
		KvVersions: s.hist.kept,
	}
	for _, st := range s.streams {
		head := st.pos.len()
		switch {
		case st.state.Absent(head):
			res.StreamsDeleted++
			continue
		case head == 0:
			continue
		}
		res.Streams++
		first := st.state.FirstSeq(head)
		if st.state.MaxAge == 0 {
			res.EventsVisible += head - first + 1
			continue
		}
		for seq := first; seq <= head; seq++ {
			if !hidden(st, s.log.at(*st.pos.at(seq)), now) {
				res.EventsVisible++
			}
		}
	}
	for _, g := range s.snaps {
		res.Snapshots += uint64(len(g.gens))
	}
	return res, nil
}

// stateNames gives, sorted, the names of every stream with events or a
// stored state: what persist/streams lists with Deleted set. The caller
// holds mu; the listing costs a sort of the streams, as a whole-store
// walk may.
func (s *Store) stateNames() []string {
	names := make([]string, 0, len(s.streams))
	for name, st := range s.streams {
		if st.listed || st.state != (ops.StreamState{}) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}
