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
	var pos []uint64
	for scanned := 0; seq <= head && len(pos) < limit && scanned < scanBudget; scanned++ {
		p := *st.pos.at(seq)
		seq++
		if st.state.MaxAge > 0 && hidden(st, s.log.at(p), now) {
			continue
		}
		pos = append(pos, p)
	}
	res.Next = seq
	res.Events = s.events(op.Page, pos)
	return res
}

// readAllLimited answers persist/read-all while some stream has metadata:
// the visible events from position from on; the caller holds mu.
func (s *Store) readAllLimited(op ops.ReadAll, from uint64) ops.ReadAllResult {
	last := s.log.len()
	res := ops.ReadAllResult{Head: last}
	limit := ops.PageLimit(op.Limit)
	now := s.clock()
	var pos []uint64
	p := from
	for scanned := 0; p <= last && len(pos) < limit && scanned < scanBudget; scanned++ {
		r := s.log.at(p)
		if !hidden(r.st, r, now) {
			pos = append(pos, p)
		}
		p++
	}
	res.Next = p
	res.Events = s.events(op.Page, pos)
	return res
}

// events gives the events at the positions pos, in the page when one is
// lent, else in fresh memory; nil when there are none.
func (s *Store) events(pg *ops.Page, pos []uint64) []ops.Event {
	if pg != nil {
		return s.fill(pg, len(pos), func(i int) uint64 { return pos[i] })
	}
	if len(pos) == 0 {
		return nil
	}
	out := make([]ops.Event, len(pos))
	for i, p := range pos {
		out[i] = s.log.at(p).event(p)
	}
	return out
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
