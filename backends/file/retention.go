package file

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// Stream metadata and deletion (see "Retention and deletion" in the
// package doc): a commit record may end with a metadata section, the
// index keeps each stream's ops.StreamState beside its head, and reads
// leave out what it hides.

// metaRec is one stream's new state in a commit record.
type metaRec struct {
	stream string
	state  ops.StreamState
}

// Flags of a metadata change.
const (
	metaDeleted   = 1
	metaTombstone = 2
)

// appendMeta encodes the metadata section of a commit payload: nothing
// when there are no changes, so a record without any is as before.
func appendMeta(dst []byte, ms []metaRec) []byte {
	if len(ms) == 0 {
		return dst
	}
	dst = binary.AppendUvarint(dst, uint64(len(ms)))
	for _, m := range ms {
		dst = appendString(dst, m.stream)
		var f byte
		if m.state.Deleted {
			f |= metaDeleted
		}
		if m.state.Tombstone {
			f |= metaTombstone
		}
		dst = append(dst, f)
		dst = binary.AppendUvarint(dst, m.state.MaxCount)
		dst = binary.AppendUvarint(dst, uint64(m.state.MaxAge))
		dst = binary.AppendUvarint(dst, m.state.TruncateBefore)
	}
	return dst
}

// meta decodes the metadata section that may end a commit payload: none
// when the payload ends after its kv changes.
func (d *decoder) meta() []metaRec {
	if d.err != nil || len(d.b) == 0 {
		return nil
	}
	n := d.count(5)
	if n == 0 {
		d.fail() // an empty section is never written
		return nil
	}
	out := make([]metaRec, n)
	for i := range out {
		stream := d.bytes()
		if d.err != nil || len(d.b) < 1 || len(stream) == 0 {
			d.fail()
			return nil
		}
		f := d.b[0]
		d.b = d.b[1:]
		st := ops.StreamState{Deleted: f&metaDeleted != 0, Tombstone: f&metaTombstone != 0}
		st.MaxCount = d.uvarint()
		age := d.uvarint()
		st.TruncateBefore = d.uvarint()
		if f&^(metaDeleted|metaTombstone) != 0 || st.Tombstone && !st.Deleted ||
			st.MaxCount > ops.MaxSeqLimit || age > uint64(ops.MaxAgeLimit) {
			d.fail()
			return nil
		}
		st.MaxAge = time.Duration(age)
		out[i] = metaRec{stream: string(stream), state: st}
	}
	return out
}

// retention is the part of the index that stream metadata and kv history
// add: the state of every stream that has one (nil while none has), and
// the kv history.
type retention struct {
	meta map[string]ops.StreamState
	hist kvHist
}

// state gives the stream's metadata and deletion state, the zero state
// when it has none.
func (r *retention) state(stream string) ops.StreamState {
	if r.meta == nil {
		return ops.StreamState{}
	}
	return r.meta[stream]
}

// check reports why c cannot follow the state s, or "": no append to, nor
// metadata for, a hard-deleted stream.
func (r *retention) check(c *commitRec) string {
	if r.meta == nil && len(c.meta) == 0 {
		return ""
	}
	for _, p := range c.parts {
		if r.state(p.stream).Tombstone {
			return "append to the hard-deleted stream " + p.stream
		}
	}
	for _, m := range c.meta {
		if r.state(m.stream).Tombstone {
			return "metadata for the hard-deleted stream " + m.stream
		}
	}
	return ""
}

// applyMeta stores the metadata changes of c; a stream whose state
// becomes the zero state has none kept.
func (r *retention) applyMeta(c *commitRec) {
	for _, m := range c.meta {
		if m.state == (ops.StreamState{}) {
			delete(r.meta, m.stream)
			continue
		}
		if r.meta == nil {
			r.meta = make(map[string]ops.StreamState)
		}
		r.meta[m.stream] = m.state
	}
	if len(r.meta) == 0 {
		r.meta = nil
	}
}

// clone copies r for a checkpoint view: the metadata map (small: streams
// with metadata only) and the kv history as hist.view does.
func (r *retention) clone() retention {
	return retention{meta: maps.Clone(r.meta), hist: r.hist.view()}
}

// appendSection encodes the retention section of a checkpoint (format 5):
// the kv history (see kvHist.append), then the streams with metadata in
// name order: name, flags, max-count, max-age, truncate-before.
func (r *retention) appendSection(b []byte) []byte {
	b = r.hist.append(b)
	names := slices.Sorted(maps.Keys(r.meta))
	ms := make([]metaRec, len(names))
	for i, n := range names {
		ms[i] = metaRec{stream: n, state: r.meta[n]}
	}
	if len(ms) == 0 {
		return binary.AppendUvarint(b, 0)
	}
	return appendMeta(b, ms)
}

// decodeSection decodes what appendSection wrote in checkpoint format v.
func (r *retention) decodeSection(d *decoder, v uint32) {
	r.hist.decode(d, v)
	if d.err != nil {
		return
	}
	if len(d.b) == 1 && d.b[0] == 0 {
		d.b = d.b[1:]
		return
	}
	prev := ""
	for i, m := range d.meta() {
		if r.meta == nil {
			r.meta = make(map[string]ops.StreamState)
		}
		if i > 0 && m.stream <= prev || m.state == (ops.StreamState{}) {
			d.fail() // names in byte order, each once, each with a state
			return
		}
		r.meta[m.stream], prev = m.state, m.stream
	}
}

// sameAs tells how r (a checkpoint's) differs from the retention part of
// a replay up to the same record, or "" when they agree.
func (r *retention) sameAs(o *retention) string {
	if !maps.Equal(r.meta, o.meta) {
		return "the stream metadata"
	}
	return r.hist.sameAs(&o.hist)
}

// hider decides which events a read leaves out, from the stream states
// as they are when it first meets each stream. It is nil (nothing is
// hidden) while no stream has metadata, so reads of a store without any
// pay one nil check per event.
type hider struct {
	s      *Store
	p      *effect.P
	now    time.Time
	err    error
	stream string // the stream met last, and its state and head
	st     ops.StreamState
	head   uint64
	floor  uint64
	seen   map[string]streamLimit
}

type streamLimit struct {
	st    ops.StreamState
	head  uint64
	floor uint64 // first seq a compaction left (compact.go)
}

// hiderFor gives the hider of a read of one stream, or of the whole log
// (stream ""), nil when nothing can be hidden; the caller holds s.mu.
func (s *Store) hiderFor(p *effect.P, stream string) *hider {
	r := &s.st.ret
	if r.meta == nil && (stream != "" || len(s.cmp.floors) == 0) {
		return nil
	}
	if stream != "" {
		st, ok := r.meta[stream]
		if !ok {
			return nil
		}
		return &hider{s: s, p: p, stream: stream, st: st, head: s.st.memHead(stream)}
	}
	return &hider{s: s, p: p, seen: make(map[string]streamLimit)}
}

// hides reports whether the event at seq of stream, stamped at, is
// hidden; the caller does not hold s.mu.
func (h *hider) hides(stream string, seq uint64, at time.Time) bool {
	if stream != h.stream {
		l, ok := h.seen[stream]
		if !ok {
			h.s.mu.RLock()
			l = streamLimit{st: h.s.st.ret.state(stream), head: h.s.st.memHead(stream), floor: h.s.floor(stream)}
			h.s.mu.RUnlock()
			h.seen[stream] = l
		}
		h.stream, h.st, h.head, h.floor = stream, l.st, l.head, l.floor
	}
	if seq < h.floor {
		return true
	}
	if h.st == (ops.StreamState{}) {
		return false
	}
	if seq < h.st.FirstSeq(h.head) {
		return true
	}
	if h.st.MaxAge == 0 {
		return false
	}
	if h.now.IsZero() && h.err == nil {
		h.now, h.err = effect.Perform(h.p, platform.Clock{})
	}
	if h.err != nil {
		return true // answered as an error by the read
	}
	return h.st.Hides(seq, h.head, at, h.now)
}

// clockErr is the error of a read whose hider h could not read the
// clock, nil when it could or when h is nil.
func (h *hider) clockErr() error {
	if h == nil || h.err == nil {
		return nil
	}
	return clockError(h.err)
}

// clockError wraps a failure to read the clock; kept apart from clockErr
// so that the check, made once per read, inlines.
func clockError(err error) error {
	return fmt.Errorf("file: clock: %w", err)
}

// pageNext is the Next of a page of at most limit events read from seq
// or position from on, of a stream or log whose head is head.
func pageNext(from uint64, limit int, head uint64) uint64 {
	if from > head {
		return from
	}
	return from + min(uint64(limit), head-from+1)
}

// firstVisible is the first seq of a stream its seq-based limits leave
// visible, so that a read starts there; the caller holds s.mu.
func (s *Store) firstVisible(stream string, from uint64) uint64 {
	from = max(from, s.floor(stream))
	st := s.st.ret.state(stream)
	if st == (ops.StreamState{}) {
		return from
	}
	return max(from, st.FirstSeq(s.st.memHead(stream)))
}

// readVisible answers ops.Read: a page of what the stream's state leaves
// visible, from the first visible seq at or after op.From, with Next.
func (s *Store) readVisible(p *effect.P, op ops.Read) (ops.ReadResult, error) {
	limit := ops.PageLimit(op.Limit)
	s.mu.RLock()
	from := s.firstVisible(op.Stream, max(op.From, 1))
	h := s.hiderFor(p, op.Stream)
	s.mu.RUnlock()
	var next uint64
	evs, head, err := read(op.Page, func(pg *ops.Page) (uint64, error) {
		head, err := s.readStream(p, op.Stream, from, limit, pg, h)
		next = pageNext(from, limit, head)
		return head, err
	})
	if err == nil {
		err = h.clockErr()
	}
	if err != nil {
		return ops.ReadResult{}, err
	}
	return ops.ReadResult{Events: evs, Head: head, Next: next}, nil
}

// readAllVisible answers ops.ReadAll: a page of the visible events from
// position op.From on, with Next.
func (s *Store) readAllVisible(p *effect.P, op ops.ReadAll) (ops.ReadAllResult, error) {
	limit := ops.PageLimit(op.Limit)
	from := max(op.From, 1)
	s.mu.RLock()
	h := s.hiderFor(p, "")
	s.mu.RUnlock()
	var next uint64
	evs, head, err := read(op.Page, func(pg *ops.Page) (uint64, error) {
		head, err := s.readAll(p, from, limit, pg, h)
		next = pageNext(from, limit, head)
		return head, err
	})
	if err == nil {
		err = h.clockErr()
	}
	if err != nil {
		return ops.ReadAllResult{}, err
	}
	return ops.ReadAllResult{Events: evs, Head: head, Next: next}, nil
}

// absent reports whether a stream reads as absent (hard- or soft-deleted
// and not written since); the caller holds s.mu.
func (st *state) absent(stream string) bool {
	if st.ret.meta == nil {
		return false
	}
	return st.ret.state(stream).Absent(st.memHead(stream))
}

// metaOp is a metadata write or a delete waiting in the commit queue: it
// is decided by the leader against the state the commits before it
// leave, and written as a commit record of its own.
type metaOp struct {
	write *ops.StreamMetaWrite
	del   *ops.StreamDelete
	res   ops.StreamMetaResult
}

// streamMeta answers ops.StreamMetaWrite and ops.StreamDelete through
// the commit queue.
func (s *Store) streamMeta(p *effect.P, m *metaOp) (ops.StreamMetaResult, error) {
	w := &writer{meta: m, size: frameSize + 64, done: make(chan struct{}, 1)}
	if err := s.enqueue(p, w); err != nil {
		return ops.StreamMetaResult{}, err
	}
	return m.res, w.err
}

// prepareMeta decides a queued metadata write or delete against the
// overlay and encodes its record into buf.
func (s *Store) prepareMeta(ov *overlay, w *writer, at int64, buf []byte, pend *[]pending) []byte {
	var plan ops.MetaPlan
	var err error
	ov.kvErr = nil
	if w.meta.write != nil {
		plan, err = ops.CheckMeta(*w.meta.write, ov)
	} else {
		plan, err = ops.CheckDelete(*w.meta.del, ov)
	}
	if err != nil {
		w.err = err
		return buf
	}
	if ov.kvErr != nil {
		w.err = ov.kvErr
		return buf
	}
	w.meta.res = plan.Result()
	if ov.meta == nil {
		ov.meta = make(map[string]ops.StreamState)
	}
	ov.meta[plan.Stream] = plan.State
	rec := commitRec{at: at, meta: []metaRec{{stream: plan.Stream, state: plan.State}}}
	ov.lsn++
	start := len(buf)
	buf, ov.crc = appendRecord(buf, recCommit, ov.crc, s.active.id, ov.lsn, func(b []byte) []byte { return appendCommit(b, &rec) })
	*pend = append(*pend, pending{rec: rec, off: int64(start)})
	return buf
}

// The overlay is an ops.StreamView: Check decides appends, metadata
// writes and deletes against the stream states the group leaves.
var _ ops.StreamView = (*overlay)(nil)

func (o *overlay) StreamState(stream string) (ops.StreamState, error) {
	if st, ok := o.meta[stream]; ok {
		return st, nil
	}
	return o.s.ret.state(stream), nil
}

func (o *overlay) EventTime(stream string, seq uint64) (time.Time, error) {
	x, err := o.lookup(stream)
	if err != nil {
		return time.Time{}, err
	}
	if x == nil || seq > x.head {
		return time.Unix(0, o.at).UTC(), nil // an event of this group
	}
	return o.st.eventTime(o.p, stream, seq)
}

func (o *overlay) Now() time.Time { return time.Unix(0, o.at).UTC() }

// eventTime is the commit time of the durable event at seq of stream;
// the caller, a leader, holds no lock.
func (s *Store) eventTime(p *effect.P, stream string, seq uint64) (time.Time, error) {
	s.mu.RLock()
	x, err := s.st.stream(p, stream)
	if err != nil {
		s.mu.RUnlock()
		return time.Time{}, err
	}
	if x == nil || seq == 0 || seq > x.head {
		s.mu.RUnlock()
		return time.Time{}, fmt.Errorf("file: stream %q has no seq %d", stream, seq)
	}
	if seq < s.floor(stream) {
		s.mu.RUnlock()
		return time.Unix(0, 0).UTC(), nil // compacted: hidden, its time older than any limit
	}
	s.mu.RUnlock()
	// It may read index files, and a bad one's rebuild takes the lock
	// itself: off the lock, which the leader, owning the state, needs
	// not hold to read it.
	c, err := s.seqLoc(p, stream, x, seq)
	s.mu.RLock()
	seg := s.segs[uint64(c.seg)]
	s.mu.RUnlock()
	if err != nil {
		return time.Time{}, err
	}
	if seg == nil {
		return time.Time{}, fmt.Errorf("file: segment %d is not open", c.seg)
	}
	// The record must hold seq: the location came from index files,
	// whose back-links are data, and the time of another record would
	// hide or keep events wrongly.
	var at int64
	held := false
	if err := s.readCommit(p, seg, c.loc, stream, func(c *commitRec) {
		at = c.at
		for i := range c.parts {
			x := &c.parts[i]
			held = held || x.stream == stream && x.firstSeq <= seq && seq-x.firstSeq < uint64(x.n)
		}
	}); err != nil {
		return time.Time{}, err
	}
	if !held {
		return time.Time{}, corrupt(seg.path, int64(c.off), "the record there does not hold seq %d of stream %q, which the index locates there", seq, stream)
	}
	return time.Unix(0, at).UTC(), nil
}

// metaRead answers ops.StreamMetaRead.
func (s *Store) metaRead(p *effect.P, op ops.StreamMetaRead) (ops.StreamMetaResult, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	head, err := s.st.headOf(p, op.Stream)
	if err != nil {
		return ops.StreamMetaResult{}, err
	}
	return ops.StreamMetaResult{Stream: op.Stream, Head: head, StreamState: s.st.ret.state(op.Stream)}, nil
}

// stat answers ops.Stat from the index; events hidden by max-age are
// counted by reading their times.
func (s *Store) stat(p *effect.P) (ops.StatResult, error) {
	now, err := effect.Perform(p, platform.Clock{})
	if err != nil {
		return ops.StatResult{}, fmt.Errorf("file: clock: %w", err)
	}
	s.mu.RLock()
	res := ops.StatResult{
		EventsStored: s.st.events, KvKeys: uint64(s.st.kvLive), KvRevision: s.st.rev,
		KvVersions: s.st.ret.hist.kept, BytesKnown: true, BytesStored: uint64(s.bytes),
	}
	type aged struct {
		name        string
		first, head uint64
		st          ops.StreamState
	}
	var ages []aged
	err = s.st.eachStream(p, func(name string, x *streamIdx) bool {
		st := s.st.ret.state(name)
		switch {
		case st.Absent(x.head):
			res.StreamsDeleted++
			return true
		case x.head == 0:
			return true
		}
		res.Streams++
		first := max(st.FirstSeq(x.head), s.floor(name))
		if st.MaxAge == 0 {
			res.EventsVisible += x.head - first + 1
			return true
		}
		ages = append(ages, aged{name: name, first: first, head: x.head, st: st})
		return true
	})
	if err != nil {
		s.mu.RUnlock()
		return ops.StatResult{}, err
	}
	for name, st := range s.st.ret.meta {
		// A stream with metadata is in memory when the store holds it.
		if s.st.streams[name] == nil && st.Absent(0) {
			res.StreamsDeleted++
		}
	}
	res.LastCompaction = s.cmp.last.At
	s.mu.RUnlock()
	res.Snapshots = uint64(s.snaps.count())
	if res.BytesReclaimable, err = s.reclaimable(p, now); err != nil {
		return ops.StatResult{}, err
	}
	for _, a := range ages {
		for seq := a.first; seq <= a.head; {
			pg := new(ops.Page)
			head, err := s.readStream(p, a.name, seq, ops.MaxPage, pg, nil)
			if err != nil {
				return ops.StatResult{}, err
			}
			for _, ev := range pg.Events() {
				if ev.Seq <= a.head && !a.st.Hides(ev.Seq, a.head, ev.At, now) {
					res.EventsVisible++
				}
			}
			if pg.Len() == 0 || head < seq {
				break
			}
			seq = pg.Events()[pg.Len()-1].Seq + 1
		}
	}
	return res, nil
}

// pageListed is page over the stream names, leaving out those that
// read as absent, or, with all, over every stream with events or a state
// (metadata-only ones included, sorted anew: a whole-store walk pays for
// a sort); the caller holds s.mu, exclusively when names are dirty
// (Store.sorted). It gives the names with their heads.
func pageListed(p *effect.P, st *state, prefix, after string, limit int, all bool) ([]ops.StreamInfo, bool, error) {
	var extra []string
	if all {
		// A stream with metadata is in memory when the store holds it:
		// those of the metadata not in memory have no events.
		for n := range st.ret.meta {
			if st.streams[n] == nil {
				extra = append(extra, n)
			}
		}
		slices.Sort(extra)
	}
	start := prefix
	if after >= start {
		start = after + "\x00"
	}
	var out []ops.StreamInfo
	more := false
	err := st.walkNames(p, prefix, start, extra, func(name string, head uint64) bool {
		if !all && st.ret.meta != nil && st.ret.state(name).Absent(head) {
			return true
		}
		if len(out) == limit {
			more = true
			return false
		}
		out = append(out, ops.StreamInfo{Name: name, Head: head})
		return true
	})
	if err != nil {
		return nil, false, err
	}
	return out, more, nil
}
