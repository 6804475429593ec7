package file

import (
	"fmt"
	"math"

	"github.com/google/uuid"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// writer is one commit waiting in the group-commit queue.
type writer struct {
	c    ops.Commit
	size int // estimate of its record's size

	res  ops.CommitResult
	err  error
	lead bool          // set when it is handed the leadership
	done chan struct{} // receives one value: finished, or lead
}

// commit makes c durable, or fails it, through the group-commit queue.
// The first writer to find no leader becomes one: it writes the queued
// commits as one write and one fdatasync on its own handle p, answers them,
// and hands the leadership to the first writer that queued meanwhile.
func (s *Store) commit(p *effect.P, c ops.Commit) (ops.CommitResult, error) {
	w := &writer{c: c, size: estimate(c), done: make(chan struct{}, 1)}
	s.wmu.Lock()
	s.queue = append(s.queue, w)
	if s.leading {
		s.wmu.Unlock()
		<-w.done
		if !w.lead {
			return w.res, w.err
		}
		s.wmu.Lock()
	}
	s.leading = true
	if err := p.Context().Err(); err != nil {
		// Lead on a live handle only: pass the leadership on and leave.
		s.queue = s.queue[1:]
		s.handOff()
		s.wmu.Unlock()
		return ops.CommitResult{}, err
	}
	// Take a group from the front of the queue (w is first).
	n, bytes := 0, 0
	for n < len(s.queue) && (n == 0 || bytes+s.queue[n].size <= s.opts.GroupBytes) {
		bytes += s.queue[n].size
		n++
	}
	group := make([]*writer, n)
	copy(group, s.queue)
	s.queue = append(s.queue[:0], s.queue[n:]...)
	s.wmu.Unlock()

	s.runGroup(p, group)
	for _, o := range group[1:] {
		o.done <- struct{}{}
	}
	if s.opts.CheckpointBytes > 0 && s.bytes-s.ckptBytes >= s.opts.CheckpointBytes {
		// Still the leader, so the index holds still. Best effort: the log
		// stays the truth, and a failed checkpoint only makes the next
		// Open replay more. A failed store writes none (checkpoint says
		// so): its index may hold what its log does not.
		_ = s.checkpoint(p)
	}
	s.wmu.Lock()
	s.handOff()
	s.wmu.Unlock()
	return w.res, w.err
}

// handOff makes the first queued writer the leader, or ends the
// leadership when none waits; the caller holds wmu.
func (s *Store) handOff() {
	if len(s.queue) > 0 {
		next := s.queue[0]
		next.lead = true
		next.done <- struct{}{}
	} else {
		s.leading = false
	}
}

func estimate(c ops.Commit) int {
	n := frameSize + 64
	for _, a := range c.Appends {
		n += len(a.Stream) + 16
		for _, e := range a.Events {
			n += 16 + len(e.Type) + len(e.Data) + 8
		}
	}
	for _, k := range c.Kv {
		n += len(k.Key) + len(k.Value) + 16
	}
	return n
}

// overlay is the state as the commits of a group, in order, see it: the
// durable state plus the earlier commits of the same group.
type overlay struct {
	s       *state
	streams map[string]*pendStream
	kv      map[string]uint64 // revision, 0 when deleted
	lsn     uint64
	pos     uint64
	rev     uint64
	crc     uint32
}

type pendStream struct {
	base   uint64 // durable head
	head   uint64
	lastID uuid.UUID
	parts  []pendPart // events base+1..head
}

// pendPart is the IDs of one append of the group, from firstSeq and
// firstPos on.
type pendPart struct {
	firstSeq uint64
	firstPos uint64
	ids      []uuid.UUID
}

// at gives the ID and position of pending seq (base < seq <= head).
func (ps *pendStream) at(seq uint64) (uuid.UUID, uint64) {
	for _, pp := range ps.parts {
		if i := seq - pp.firstSeq; seq >= pp.firstSeq && i < uint64(len(pp.ids)) {
			return pp.ids[i], pp.firstPos + i
		}
	}
	return uuid.Nil, 0
}

func (o *overlay) head(stream string) (uint64, uuid.UUID) {
	if ps := o.streams[stream]; ps != nil {
		return ps.head, ps.lastID
	}
	if st := o.s.streams[stream]; st != nil {
		return st.head, st.lastID
	}
	return 0, uuid.UUID{}
}

func (o *overlay) kvRev(key string) uint64 {
	if r, ok := o.kv[key]; ok {
		return r
	}
	return o.s.kvRev(key)
}

// pending is the result of one prepared commit, applied once durable.
type pending struct {
	rec commitRec
	off int64 // offset in the group buffer
}

// runGroup writes the commits of group and answers each writer.
func (s *Store) runGroup(p *effect.P, group []*writer) {
	s.mu.RLock()
	failed := s.failed
	s.mu.RUnlock()
	if failed != nil {
		for _, w := range group {
			w.err = fmt.Errorf("%w: %w", ErrFailed, failed)
		}
		return
	}
	now, err := effect.Perform(p, platform.Clock{})
	if err != nil {
		for _, w := range group {
			w.err = fmt.Errorf("file: clock: %w", err)
		}
		return
	}
	at := max(now.UnixNano(), s.st.lastAt)

	est := 0
	for _, w := range group {
		est += w.size
	}
	if s.off+int64(est) > s.opts.SegmentSize && s.off > s.headerEnd {
		if err := s.roll(p); err != nil {
			s.fail(p, group, err)
			return
		}
	}

	ov := &overlay{s: s.st, lsn: s.st.lsn, pos: s.st.lastPos, rev: s.st.rev, crc: s.lastCRC}
	buf := s.wbuf[:0]
	var pend []pending
	for _, w := range group {
		buf = s.prepare(p, ov, w, at, buf, &pend)
	}
	if cap(buf) <= 4*s.opts.GroupBytes {
		s.wbuf = buf[:0]
	}
	if len(pend) == 0 {
		return
	}
	if err := s.write(p, buf); err != nil {
		s.fail(p, group, err)
		return
	}

	// Durable: publish.
	s.mu.Lock()
	for i := range pend {
		s.st.apply(&pend[i].rec, loc{seg: uint32(s.active.id), off: uint32(s.off + pend[i].off)})
	}
	s.st.lsn = ov.lsn
	s.bytes += int64(len(buf))
	close(s.notify)
	s.notify = make(chan struct{})
	s.mu.Unlock()
	s.off += int64(len(buf))
	s.lastCRC = ov.crc
}

// write appends buf to the active segment and syncs it.
func (s *Store) write(p *effect.P, buf []byte) error {
	end := s.off + int64(len(buf))
	if end > s.reserved {
		grow := max(end-s.reserved, s.opts.SegmentSize/8)
		if _, err := effect.Perform(p, platform.Fallocate{FD: s.active.fd, Off: s.reserved, Len: grow}); err != nil {
			return err
		}
		s.reserved += grow
	}
	if err := writeAt(p, s.active.fd, s.off, buf); err != nil {
		return err
	}
	return fdatasync(p, s.active.fd)
}

// fail puts the store in the failed state, takes back what the failed
// group may have left in the active segment, and fails every writer of the
// group.
func (s *Store) fail(p *effect.P, group []*writer, err error) {
	s.mu.Lock()
	if s.failed == nil {
		s.failed = err
	}
	s.mu.Unlock()
	s.undo(p)
	for _, w := range group {
		w.res, w.err = ops.CommitResult{}, fmt.Errorf("%w: %w", ErrFailed, err)
	}
}

// undo cuts the active segment back to the end of its last durable record,
// best effort. After a failed sync the kernel may have marked the unsynced
// pages clean: reads still see the failed group's bytes, no later sync
// makes them durable, and a reopen without a machine crash would take them
// for durable records and build on them. Nothing is retried and nothing is
// acknowledged: the store stays failed whatever this does.
func (s *Store) undo(p *effect.P) {
	if s.active == nil {
		return
	}
	if _, err := effect.Perform(p, platform.Truncate{FD: s.active.fd, Size: s.off}); err != nil {
		return
	}
	_ = fsync(p, s.active.fd)
}

// roll seals the active segment and starts the next: seal record, cut the
// reserved tail, fsync, then the new segment's header through a temporary
// file, rename, directory fsync.
func (s *Store) roll(p *effect.P) error {
	old := s.active
	lsn := s.st.lsn + 1
	seal, crc := appendRecord(nil, recSeal, s.lastCRC, old.id, lsn, nil)
	if err := writeAt(p, old.fd, s.off, seal); err != nil {
		return err
	}
	if _, err := effect.Perform(p, platform.Truncate{FD: old.fd, Size: s.off + int64(len(seal))}); err != nil {
		return err
	}
	if err := fsync(p, old.fd); err != nil {
		return err
	}
	// The seal's LSN and bytes are taken only once the next segment
	// exists: a roll that fails leaves the index as it found it, and the
	// failed group's undo cuts the seal away.
	if err := s.startSegment(p, old.id+1, lsn+1, crc); err != nil {
		return err
	}
	s.mu.Lock()
	s.bytes += int64(len(seal))
	s.mu.Unlock()
	return nil
}

// prepare checks w's commit against the overlay and, unless it conflicts or
// only repeats stored appends, encodes its record into buf. It reports
// the extended buffer.
func (s *Store) prepare(p *effect.P, ov *overlay, w *writer, at int64, buf []byte, pend *[]pending) []byte {
	c := w.c
	res := ops.CommitResult{}
	if len(c.Appends) > 0 {
		res.Appends = make([]ops.AppendResult, len(c.Appends))
	}
	if len(c.Kv) > 0 {
		res.Kv = make([]ops.KvResult, len(c.Kv))
	}
	replayed := make([]bool, len(c.Appends))
	for i, a := range c.Appends {
		cur, _ := ov.head(a.Stream)
		if r, ok, err := s.replayed(p, ov, a); err != nil {
			w.err = err
			return buf
		} else if ok {
			res.Appends[i], replayed[i] = r, true
			continue
		}
		if !a.Expect.Holds(cur) {
			w.err = &ops.Conflict{Stream: a.Stream, Expected: a.Expect, Actual: cur}
			return buf
		}
	}
	for _, k := range c.Kv {
		if cur := ov.kvRev(k.Key); !k.Expect.Holds(cur) {
			w.err = &ops.Conflict{Key: k.Key, Expected: k.Expect, Actual: cur}
			return buf
		}
	}

	// Fresh IDs for events without one, from one io/random.
	missing := 0
	for i, a := range c.Appends {
		if !replayed[i] {
			for _, e := range a.Events {
				if e.ID == uuid.Nil {
					missing++
				}
			}
		}
	}
	var rnd []byte
	if missing > 0 {
		var err error
		if rnd, err = effect.Perform(p, platform.Random{N: 16 * missing}); err == nil && len(rnd) != 16*missing {
			err = fmt.Errorf("%d random bytes, want %d", len(rnd), 16*missing)
		}
		if err != nil {
			w.err = fmt.Errorf("file: event ids: %w", err)
			return buf
		}
	}

	rec := commitRec{at: at}
	pos := ov.pos + 1
	for i, a := range c.Appends {
		if replayed[i] {
			continue
		}
		cur, _ := ov.head(a.Stream)
		part := partRec{stream: a.Stream, firstSeq: cur + 1, n: len(a.Events), src: a.Events, ids: make([]uuid.UUID, len(a.Events))}
		for j, e := range a.Events {
			id := e.ID
			if id == uuid.Nil {
				copy(id[:], rnd[:16])
				rnd = rnd[16:]
				id[6] = id[6]&0x0f | 0x40 // version 4
				id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
			}
			part.ids[j] = id
		}
		part.lastID = part.ids[len(part.ids)-1]
		if rec.firstPos == 0 {
			rec.firstPos = pos
		}
		n := uint64(len(a.Events))
		res.Appends[i] = ops.AppendResult{Stream: a.Stream, FirstSeq: cur + 1, Head: cur + n, FirstPos: pos, LastPos: pos + n - 1}
		ov.addEvents(a.Stream, part, pos)
		pos += n
		rec.parts = append(rec.parts, part)
	}
	if len(c.Kv) > 0 {
		rec.rev = ov.rev + 1
		res.Revision = rec.rev
		for i, k := range c.Kv {
			existed := ov.kvRev(k.Key) > 0
			op := kvRec{op: kvPut, key: k.Key, value: k.Value}
			r := rec.rev
			if k.Delete {
				op.op, op.value, r = kvDel, nil, 0
			}
			rec.kv = append(rec.kv, op)
			res.Kv[i] = ops.KvResult{Key: k.Key, Revision: rec.rev, Existed: existed}
			if ov.kv == nil {
				ov.kv = make(map[string]uint64)
			}
			ov.kv[k.Key] = r
		}
		ov.rev = rec.rev
	}
	w.res = res
	if len(rec.parts) == 0 && len(rec.kv) == 0 {
		return buf // every part repeats stored events
	}
	ov.pos = pos - 1
	ov.lsn++
	start := len(buf)
	if s.off+int64(start) > math.MaxUint32 {
		w.err = fmt.Errorf("file: segment %d is full", s.active.id)
		return buf
	}
	buf, ov.crc = appendRecord(buf, recCommit, ov.crc, s.active.id, ov.lsn, func(b []byte) []byte { return appendCommit(b, &rec) })
	// What the index keeps: counts, last IDs and kv values, not event bodies.
	for i := range rec.parts {
		rec.parts[i].src, rec.parts[i].ids = nil, nil
	}
	*pend = append(*pend, pending{rec: rec, off: int64(start)})
	return buf
}

func (o *overlay) addEvents(stream string, part partRec, pos uint64) {
	if o.streams == nil {
		o.streams = make(map[string]*pendStream)
	}
	ps := o.streams[stream]
	if ps == nil {
		h, id := o.head(stream)
		ps = &pendStream{base: h, head: h, lastID: id}
		o.streams[stream] = ps
	}
	ps.parts = append(ps.parts, pendPart{firstSeq: part.firstSeq, firstPos: pos, ids: part.ids})
	ps.head += uint64(part.n)
	ps.lastID = part.lastID
}
