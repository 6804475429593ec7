package file

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// recordWindow is how much a read of a record by readRecord (an ID lookup)
// takes at first; a longer record takes a second read. It does not follow
// the pooled buffer's capacity: the IO effects of a read depend on the
// data alone, so that a run on the mock platform is the same run every
// time.
const recordWindow = 8 << 10

// lookWindow is recordWindow for the reads of ops.Read and ops.ReadAll.
// It is small, since a read of a few records spread over the log (a
// stream written one event per commit) pays for every byte each one
// copies: 2 KiB holds a commit of a few events, and a longer record takes
// a second read.
const lookWindow = 2 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, recordWindow); return &b }}

// readRecord reads and checks the commit record at off of seg. The frame's
// payload aliases *bp, which the caller returns to bufPool.
func (s *Store) readRecord(p *effect.P, seg *segment, off uint32) (frame, *[]byte, error) {
	bp := bufPool.Get().(*[]byte)
	b := (*bp)[:cap(*bp)]
	n, err := readFull(p, seg.fd, int64(off), b[:recordWindow])
	if err != nil {
		bufPool.Put(bp)
		return frame{}, nil, fmt.Errorf("file: read segment %d at %d: %w", seg.id, off, err)
	}
	size := 0
	if n >= frameSize {
		size = frameLen(b)
	}
	if size > n {
		if size > cap(b) {
			b = make([]byte, size)
			copy(b, (*bp)[:n])
			*bp = b
		}
		m, err := readFull(p, seg.fd, int64(off)+int64(n), b[n:size])
		if err != nil {
			bufPool.Put(bp)
			return frame{}, nil, fmt.Errorf("file: read segment %d at %d: %w", seg.id, off, err)
		}
		n += m
	}
	f, err := decodeFrame(b[:n])
	if err == nil && (f.seg != seg.id || f.typ != recCommit) {
		err = fmt.Errorf("record of segment %d type %d where a commit of segment %d was indexed", f.seg, f.typ, seg.id)
	}
	if err != nil {
		bufPool.Put(bp)
		return frame{}, nil, corrupt(seg.path, int64(off), "%v", err)
	}
	return f, bp, nil
}

func releaseBuf(bp *[]byte) {
	if cap(*bp) <= 1<<20 {
		bufPool.Put(bp)
	}
}

// readCommit reads the commit at l, decoding only the events of stream
// (all when stream is empty), and passes it to fn before its buffer is
// reused.
func (s *Store) readCommit(p *effect.P, seg *segment, l loc, stream string, fn func(c *commitRec)) error {
	f, bp, err := s.readRecord(p, seg, l.off)
	if err != nil {
		return err
	}
	defer releaseBuf(bp)
	c, err := decodeCommit(f.payload, false, stream)
	if err != nil {
		return corrupt(seg.path, int64(l.off), "%v", err)
	}
	fn(&c)
	return nil
}

func toEvent(stream string, seq, pos uint64, at int64, e *evRec) ops.Event {
	var data []byte
	if len(e.data) > 0 {
		data = slices.Clone(e.data)
	}
	return ops.Event{ID: e.id, Stream: stream, Seq: seq, Pos: pos, Type: e.typ, At: time.Unix(0, at).UTC(), Data: data}
}

type chunkRef struct {
	seq  uint64 // the first seq (position) the index names at l
	seg  *segment
	l    loc
	size int // at least the record's size when known (recordBound), else 0
}

// recordBound is where the next record with events begins after the one at
// l in its segment, as a distance from l: at least that record's size,
// and its size but for kv-only records between. It is 0 when no record
// with events follows in the segment, or when the next lies over
// boundMax away, which only kv records between make possible.
func recordBound(ps *tailLocs, l loc) int {
	if i := ps.bound(l); i < ps.len() {
		if _, n := ps.at(i); n.seg == l.seg && n.off-l.off <= boundMax {
			return int(n.off - l.off)
		}
	}
	return 0
}

// runBounds sets the size of each of refs, resolved from runs, that holds
// at least boundEvents of the stream's events (those up to the next ref,
// or to after when it is the last; want+1 when after is empty): its
// idxBound, so that it is read with one io/read-at of its size rather
// than lookWindow first, as recordBound does for the records the store
// holds in memory.
func (s *Store) runBounds(p *effect.P, runs []idxRef, refs, after []chunkRef, want uint64) error {
	for i := range refs {
		end := want + 1
		switch {
		case i+1 < len(refs):
			end = refs[i+1].seq
		case len(after) > 0:
			end = after[0].seq
		}
		if end-refs[i].seq < boundEvents {
			continue
		}
		for k := range runs {
			if runs[k].e.seg != refs[i].l.seg {
				continue
			}
			size, err := s.idxBound(p, &runs[k].e, refs[i].l.off)
			if err != nil {
				return err
			}
			refs[i].size = size
			break
		}
	}
	return nil
}

// idxBound is recordBound for a record at off of a segment whose
// locations lie in its index file e: the distance to the next entry of
// the file's position run, whose offsets rise with its positions. It is 0
// when the record is the segment's last with events, or the next lies
// over boundMax away.
func (s *Store) idxBound(p *effect.P, e *segIdx, off uint32) (int, error) {
	// The first entry past off, by one search over the run, each probe
	// reading its entry where it lies (idxAt): a block copied out of the
	// cache would be 4 KiB of garbage per read.
	var err error
	j := sort.Search(int(e.nPos), func(j int) bool {
		if err != nil {
			return true
		}
		_, o, kerr := s.idxAt(p, e, uint32(j))
		if kerr != nil {
			err = kerr
			return true
		}
		return o > off
	})
	if err != nil {
		return 0, err
	}
	if j == int(e.nPos) {
		return 0, nil
	}
	_, next, err := s.idxAt(p, e, uint32(j))
	if err != nil {
		return 0, err
	}
	if next-off > boundMax {
		return 0, nil
	}
	return int(next - off), nil
}

// boundMax is the largest recordBound a read takes as the size of one
// read of a record.
const boundMax = 1 << 20

// boundEvents is how many events of a stream a record must hold for a
// read to look up its size (recordBound) rather than read lookWindow
// first: a record of fewer is likely within lookWindow.
const boundEvents = 8

// Reads fill an ops.Page: records are read into the page's memory and the
// events handed out alias it, so a read that is given a page (ops.Read.Page)
// allocates nothing per event once the page has grown to its size. A read
// without a page fills a pooled one and copies its events out.
var pagePool = sync.Pool{New: func() any { return new(ops.Page) }}

// maxPooledPage is the most memory a pooled page may keep.
const maxPooledPage = 4 << 20

// spanGap is how far apart two records indexed by one read may lie and
// still be read by one io/read-at: records of one commit after another,
// as the global log's are, take one read per spanMax bytes or so rather
// than one each.
const (
	spanGap = 4 << 10
	spanMax = 256 << 10
)

// recReader reads the records of one read into a page, reading records
// that lie close together in one io/read-at.
type recReader struct {
	p     *effect.P
	pg    *ops.Page
	cache *recCache
	seg   *segment
	base  int64  // file offset of buf[0]
	buf   []byte // page memory holding the bytes read at base
}

// record reads and checks the commit record at off of seg. reach is how
// far past off the read's next records lie that the same io/read-at
// should fetch (0: none). A record not in what was read before takes a
// read of reach plus lookWindow bytes, or, when no other record is wanted,
// of bound when that is known (the record's recordBound); a longer record
// takes a second read. A record read on its own (reach 0) comes from the
// store's cache of small records when it is there, and goes into it when
// it is small. The frame's payload aliases the page.
func (r *recReader) record(seg *segment, off uint32, reach, bound int) (frame, error) {
	start := int64(off)
	var b []byte
	if seg == r.seg && start >= r.base && start+frameSize <= r.base+int64(len(r.buf)) {
		b = r.buf[start-r.base:]
		if size := frameLen(b); size > 0 && size <= len(b) {
			return r.check(seg, off, b[:size])
		}
	}
	l := loc{seg: uint32(seg.id), off: off}
	if reach == 0 {
		if b, ok := r.cache.get(l, r.pg.Alloc); ok {
			return r.check(seg, off, b)
		}
	}
	want := reach + lookWindow
	if reach == 0 && bound > 0 {
		want = bound
	}
	b = r.pg.Alloc(want)
	n, err := readFull(r.p, seg.fd, start, b)
	if err != nil {
		r.pg.Release(want)
		return frame{}, fmt.Errorf("file: read segment %d at %d: %w", seg.id, off, err)
	}
	size := 0
	if n >= frameSize {
		size = frameLen(b)
	}
	switch {
	case size > want:
		// The record is longer than the window: take room for all of it
		// (Alloc gives back the same place when it has room there).
		r.pg.Release(want)
		c := r.pg.Alloc(size)
		if &c[0] != &b[0] {
			copy(c, b[:n])
		}
		b = c
		m, err := readFull(r.p, seg.fd, start+int64(n), b[n:size])
		if err != nil {
			return frame{}, fmt.Errorf("file: read segment %d at %d: %w", seg.id, off, err)
		}
		n += m
	case reach == 0 && size > 0 && size <= n:
		// Keep the record alone: no other is wanted from this window.
		r.pg.Release(want - size)
		n = size
	default:
		r.pg.Release(want - n)
	}
	r.seg, r.base, r.buf = seg, start, b[:n]
	f, err := r.check(seg, off, b[:n])
	if err == nil && reach == 0 {
		r.cache.put(l, b[:f.size])
	}
	return f, err
}

func (r *recReader) check(seg *segment, off uint32, b []byte) (frame, error) {
	f, err := decodeFrame(b)
	if err == nil && (f.seg != seg.id || f.typ != recCommit) {
		err = fmt.Errorf("record of segment %d type %d where a commit of segment %d was indexed", f.seg, f.typ, seg.id)
	}
	if err != nil {
		return frame{}, corrupt(seg.path, int64(off), "%v", err)
	}
	return f, nil
}

// reaches gives, for each ref, how far past it the read's next refs lie
// that one io/read-at should fetch with it: up to the last ref after it in
// the same segment that lies within spanGap of the one before it, less
// than spanMax away.
func reaches(refs []chunkRef, out []int) []int {
	out = out[:0]
	// j is the last ref the read at i fetches; it never moves back as i
	// moves on, since the runs are cut at the same gaps whatever i is.
	j := 0
	for i := range refs {
		j = max(j, i)
		first := int64(refs[i].l.off)
		for j+1 < len(refs) && refs[j+1].seg == refs[i].seg {
			o, prev := int64(refs[j+1].l.off), int64(refs[j].l.off)
			if o < prev || o-prev > spanGap || o-first >= spanMax {
				break
			}
			j++
		}
		out = append(out, int(int64(refs[j].l.off)-first))
	}
	return out
}

// names hands out strings for the names and types a read decodes, one
// allocation per name that differs from the few seen last.
type names struct {
	last [4]string
	next int
}

func (n *names) get(b []byte) string {
	for _, s := range n.last {
		if s == string(b) {
			return s
		}
	}
	s := string(b)
	n.last[n.next] = s
	n.next = (n.next + 1) % len(n.last)
	return s
}

func dataOrNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func (s *Store) readCache() *recCache {
	s.cache.setup(s.opts)
	return &s.cache
}

// readStream reads up to limit durable events of stream from seq from into
// pg (reset first), leaving out those h hides (h nil: none), and returns
// the stream's head.
func (s *Store) readStream(p *effect.P, stream string, from uint64, limit int, pg *ops.Page, h *hider) (uint64, error) {
	pg.Reset()
	from = max(from, 1)
	var refBuf [16]chunkRef
	refs := refBuf[:0]
	s.mu.RLock()
	st, err := s.st.stream(p, stream)
	if err != nil || st == nil {
		s.mu.RUnlock()
		return 0, err
	}
	head := st.head
	if from > head {
		s.mu.RUnlock()
		return head, nil
	}
	want := head
	if uint64(limit) <= head-from {
		want = from + uint64(limit) - 1
	}
	var runBuf [2]idxRef
	runs := runBuf[:0]
	if i := st.runFor(from); i >= 0 {
		for ; i < len(st.runs) && st.runs[i].seq <= want; i++ {
			r := st.runs[i]
			if e := s.st.indexedSeg(r.seg); e != nil {
				runs = append(runs, idxRef{e: *e, seg: s.segs[uint64(r.seg)], first: r.first, n: r.n})
			} else {
				s.mu.RUnlock()
				return 0, fmt.Errorf("%w: segment %d of stream %q is not indexed", ErrCorrupt, r.seg, stream)
			}
		}
	}
	j0 := st.chunkFor(from)
	for j, n, run := j0, st.chunks.len(), st.chunks.runOf(j0); j < n; j++ {
		var c chunk
		c.seq, c.loc = st.chunks.step(j, &run)
		if c.seq > want {
			break
		}
		end := head + 1
		if j+1 < n {
			r := run
			end, _ = st.chunks.step(j+1, &r)
		}
		r := chunkRef{seq: c.seq, seg: s.segs[uint64(c.seg)], l: c.loc}
		if end-c.seq >= boundEvents {
			r.size = recordBound(&s.st.positions, c.loc)
		}
		refs = append(refs, r)
	}
	dir := uint32(0)
	var indexed []segIdx
	var walkFrom, walkTo uint32 // the segments whose directories the read walked, newest and oldest
	if st.dir != 0 && !st.inChunks(from) {
		dir, indexed = st.dir, s.st.indexed[:len(s.st.indexed):len(s.st.indexed)]
	}
	s.mu.RUnlock()
	if dir != 0 {
		// The directories, newest first, as far back as from: the
		// runs are needed only when the chain ends before it.
		var dirBuf [4]idxRef // a tail read's: one or two
		dirs := dirBuf[:0]
		reached := false
		err := s.walkStream(p, indexed, stream, dir, func(e *segIdx, d dirEnt) (bool, error) {
			walkFrom, walkTo = cmp.Or(walkFrom, e.seg), e.seg
			if d.seq <= want {
				dirs = append(dirs, idxRef{e: *e, first: d.first, n: d.n})
			}
			reached = d.seq <= from
			return reached, nil
		})
		if err != nil {
			return 0, err
		}
		if reached {
			runs = runs[:0]
		}
		slices.Reverse(dirs)
		s.mu.RLock()
		for i := range dirs {
			dirs[i].seg = s.segs[uint64(dirs[i].e.seg)]
		}
		s.mu.RUnlock()
		runs = append(runs, dirs...)
	}
	if len(runs) > 0 {
		n := len(refs)
		var err error
		var irBuf [16]chunkRef // the refs of a tail read, resolved on the stack
		if refs, err = s.resolveRuns(p, runs, from, want, refs, irBuf[:0]); err != nil {
			return 0, err
		}
		if err := s.runBounds(p, runs, refs[:len(refs)-n], refs[len(refs)-n:], want); err != nil {
			return 0, err
		}
	}

	var spanBuf [16]int
	sp := reaches(refs, spanBuf[:0])
	rr := recReader{p: p, pg: pg, cache: s.readCache()}
	var lsBuf [16]loc
	ls := lsBuf[:0]
	for i, r := range refs {
		if sp[i] == 0 && len(ls) < len(lsBuf) {
			ls = append(ls, r.l)
		}
	}
	rr.cache.warm(ls)
	var types names
	hidden := 0 // events read and left out
	for i, r := range refs {
		if r.seg == nil {
			return 0, fmt.Errorf("file: segment %d is not open", r.l.seg)
		}
		f, err := rr.record(r.seg, r.l.off, sp[i], r.size)
		if err != nil {
			return 0, err
		}
		var c commitScan
		c.start(f.payload)
		at := time.Unix(0, c.at).UTC()
		pos := c.firstPos
		found := false
		for !found && c.part() {
			if string(c.stream) != stream {
				pos += uint64(c.n)
				continue
			}
			if c.firstSeq != r.seq {
				break // not the record the index names
			}
			found = true
			// The events before from are walked over by their lengths
			// alone, and those after want by c.finish.
			j := uint64(0)
			for ; c.firstSeq+j < from && c.skip(); j++ {
			}
			for ; c.firstSeq+j <= want && c.event(); j++ {
				seq := c.firstSeq + j
				if h != nil && h.hides(stream, seq, at) {
					hidden++
					continue
				}
				pg.Add(ops.Event{ID: c.id, Stream: stream, Seq: seq, Pos: pos + j, Type: types.get(c.typ), At: at, Data: dataOrNil(c.data)})
			}
		}
		if err := c.finish(); err != nil {
			return 0, corrupt(r.seg.path, int64(r.l.off), "%v", err)
		}
		if !found {
			return 0, corrupt(r.seg.path, int64(r.l.off), "the record there does not hold seq %d of stream %q", r.seq, stream)
		}
	}
	if evs := pg.Events(); len(evs)+hidden != int(want-from+1) || (hidden == 0 && len(evs) > 0 && evs[0].Seq != from) {
		if walkFrom != 0 {
			// The back-links are data: name the files the walk read.
			return 0, fmt.Errorf("%w: index of stream %q does not match the log at seq %d (its stream directories walked from %s back to %s)", ErrCorrupt, stream, from, idxName(walkFrom), idxName(walkTo))
		}
		return 0, fmt.Errorf("%w: index of stream %q does not match the log at seq %d", ErrCorrupt, stream, from)
	}
	return head, nil
}

// readAll reads up to limit durable events from position from into pg
// (reset first), leaving out those h hides (h nil: none), and returns the
// last position.
func (s *Store) readAll(p *effect.P, from uint64, limit int, pg *ops.Page, h *hider) (uint64, error) {
	pg.Reset()
	from = max(from, 1)
	s.mu.RLock()
	head := s.st.lastPos
	if from > head {
		s.mu.RUnlock()
		return head, nil
	}
	want := head
	if uint64(limit) <= head-from {
		want = from + uint64(limit) - 1
	}
	var runs []idxRef
	if i := s.st.indexedFor(from); i >= 0 {
		for ; i < len(s.st.indexed) && s.st.indexed[i].firstPos <= want; i++ {
			if e := s.st.indexed[i]; e.nPos > 0 {
				runs = append(runs, idxRef{e: e, seg: s.segs[uint64(e.seg)], n: e.nPos})
			}
		}
	}
	var refs []chunkRef
	j0 := s.st.posChunkFor(from)
	for j, n, run := j0, s.st.positions.len(), s.st.positions.runOf(j0); j < n; j++ {
		var c posChunk
		c.pos, c.loc = s.st.positions.step(j, &run)
		if c.pos > want {
			break
		}
		refs = append(refs, chunkRef{seq: c.pos, seg: s.segs[uint64(c.seg)], l: c.loc})
	}
	s.mu.RUnlock()
	if len(runs) > 0 {
		var err error
		if refs, err = s.resolveRuns(p, runs, from, want, refs, nil); err != nil {
			return 0, err
		}
	}

	hidden := 0 // events read and left out
	if s.cmp.gaps.Load() != nil {
		refs, hidden = s.dropGaps(refs, from, want)
	}
	sp := reaches(refs, make([]int, 0, len(refs)))
	rr := recReader{p: p, pg: pg, cache: s.readCache()}
	var streams, types names
	for i, r := range refs {
		if r.seg == nil {
			return 0, fmt.Errorf("file: segment %d is not open", r.l.seg)
		}
		f, err := rr.record(r.seg, r.l.off, sp[i], r.size)
		if err != nil {
			return 0, err
		}
		var c commitScan
		c.start(f.payload)
		if c.firstPos != r.seq {
			return 0, corrupt(r.seg.path, int64(r.l.off), "the record there does not hold position %d", r.seq)
		}
		at := time.Unix(0, c.at).UTC()
		pos := c.firstPos
		for c.part() {
			if pos+uint64(c.n) <= from || pos > want {
				pos += uint64(c.n)
				continue
			}
			name := streams.get(c.stream)
			j := uint64(0)
			for ; pos < from && c.skip(); j++ {
				pos++
			}
			for ; pos <= want && c.event(); j++ {
				if h != nil && h.hides(name, c.firstSeq+j, at) {
					hidden++
				} else {
					pg.Add(ops.Event{ID: c.id, Stream: name, Seq: c.firstSeq + j, Pos: pos, Type: types.get(c.typ), At: at, Data: dataOrNil(c.data)})
				}
				pos++
			}
		}
		if err := c.finish(); err != nil {
			return 0, corrupt(r.seg.path, int64(r.l.off), "%v", err)
		}
	}
	if evs := pg.Events(); len(evs)+hidden != int(want-from+1) || (hidden == 0 && len(evs) > 0 && evs[0].Pos != from) {
		return 0, fmt.Errorf("%w: position index does not match the log at %d", ErrCorrupt, from)
	}
	return head, nil
}

// resolveRuns gives the chunk refs of the index runs, resolved from from
// to want, followed by refs, appended to ir (nil, or a caller's buffer);
// it is called only when there are runs, so that a read without any
// keeps its refs where they are.
func (s *Store) resolveRuns(p *effect.P, runs []idxRef, from, want uint64, refs, ir []chunkRef) ([]chunkRef, error) {
	for _, r := range runs {
		var err error
		if ir, err = s.resolve(p, r, from, want, ir); err != nil {
			return nil, err
		}
	}
	return append(ir, refs...), nil
}

// read runs fill on the caller's page, or on a pooled one whose events it
// copies out.
func read(pg *ops.Page, fill func(pg *ops.Page) (uint64, error)) ([]ops.Event, uint64, error) {
	if pg != nil {
		head, err := fill(pg)
		if err != nil {
			pg.Reset()
			return nil, 0, err
		}
		if pg.Len() == 0 {
			return nil, head, nil // no events are nil, as from the copying read
		}
		return pg.Events(), head, nil
	}
	pg = pagePool.Get().(*ops.Page)
	head, err := fill(pg)
	var out []ops.Event
	if err == nil {
		out = copyEvents(pg.Events())
	}
	pg.Reset()
	if pg.Size() <= maxPooledPage {
		pagePool.Put(pg)
	}
	if err != nil {
		return nil, 0, err
	}
	return out, head, nil
}

// copyArena is the largest allocation event data are copied into together:
// a caller that keeps one event keeps at most this much memory alive.
const copyArena = 64 << 10

// copyEvents copies evs, and their data, into fresh memory: the events in
// one allocation, their data in allocations of up to copyArena bytes
// (bigger data in their own), each copy capped so that appending to one
// never writes into another.
func copyEvents(evs []ops.Event) []ops.Event {
	if len(evs) == 0 {
		return nil
	}
	out := make([]ops.Event, len(evs))
	var arena []byte
	for i, ev := range evs {
		n := len(ev.Data)
		switch {
		case n == 0:
		case n > copyArena/4:
			ev.Data = append([]byte(nil), ev.Data...)
		default:
			if cap(arena)-len(arena) < n {
				total := 0
				for _, e := range evs[i:] {
					if len(e.Data) <= copyArena/4 {
						total += len(e.Data)
						if total >= copyArena {
							break
						}
					}
				}
				arena = make([]byte, 0, min(max(total, n), copyArena))
			}
			start := len(arena)
			arena = append(arena, ev.Data...)
			ev.Data = arena[start : start+n : start+n]
		}
		out[i] = ev
	}
	return out
}
