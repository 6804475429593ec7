package file

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"slices"

	"github.com/google/uuid"

	"rose-ash.com/persist/backends/internal/idindex"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// writer is one commit waiting in the group-commit queue.
type writer struct {
	c    ops.Commit
	size int // estimate of its record's size

	meta *metaOp // a metadata write or delete instead of c (retention.go)

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
	if err := s.enqueue(p, w); err != nil {
		return ops.CommitResult{}, err
	}
	return w.res, w.err
}

// enqueue runs w through the group-commit queue; it returns an error only
// when w was to lead on a handle whose context had ended, with nothing
// done.
func (s *Store) enqueue(p *effect.P, w *writer) error {
	s.wmu.Lock()
	s.queue = append(s.queue, w)
	if s.leading {
		s.wmu.Unlock()
		<-w.done
		if !w.lead {
			return nil
		}
		s.wmu.Lock()
	}
	s.leading = true
	if err := p.Context().Err(); err != nil {
		// Lead on a live handle only: pass the leadership on and leave.
		s.queue = s.queue[1:]
		s.handOff()
		s.wmu.Unlock()
		return err
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
	var ckpt *ckptView
	beside := false
	s.kvStall()
	if s.ckptDue() {
		if s.opts.Background != nil {
			// Captured and written by a goroutine of the store's own,
			// beside the leaders to come (checkpoint.go).
			beside = s.claimCheckpoint()
		} else {
			// Still the leader, so the index holds still: capture it,
			// and write it once the leadership is handed on.
			ckpt = s.captureCheckpoint(false)
		}
	}
	s.wmu.Lock()
	s.handOff()
	s.wmu.Unlock()
	switch {
	case beside:
		s.checkpointBeside()
	case ckpt != nil:
		// Best effort: the log stays the truth, and a failed checkpoint
		// only makes the next Open replay more. A store failed meanwhile
		// writes none.
		s.noteCheckpoint(s.writeCheckpoint(p, ckpt))
	}
	return nil
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
// durable state plus the earlier commits of the same group. It is the
// ops.View the group's commits are decided against (see ids.go).
type overlay struct {
	s       *state
	st      *Store
	p       *effect.P
	streams map[string]*pendStream
	kv      map[string]uint64 // revision, 0 when deleted
	// kvRevs are the kept history revisions the kv run holds of the keys
	// looked up in it (kvRec.revs).
	kvRevs map[string][]uint64
	lsn    uint64
	pos    uint64
	rev    uint64
	crc    uint32
	last   *recIDs                    // the durable record read last, for the next lookup
	at     int64                      // the group's commit time
	meta   map[string]ops.StreamState // stream states the group set (retention.go)
	// kvErr is the first error of a lookup of a key or a stream (a kv
	// run's or a stream run's block that does not read): the commit that
	// looked is refused with it.
	kvErr error
	// ran holds the streams looked up in the stream runs, which memory
	// did not hold (nil: absent), for the group to bring into memory
	// when it is applied.
	ran map[string]*streamIdx
}

type pendStream struct {
	base  uint64 // durable head
	head  uint64
	parts []pendPart           // events base+1..head
	ids   map[uuid.UUID]uint64 // their IDs and seqs
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

func (o *overlay) head(stream string) uint64 {
	if ps := o.streams[stream]; ps != nil {
		return ps.head
	}
	if x := o.durable(stream); x != nil {
		return x.head
	}
	return 0
}

// durable gives the durable index of stream, nil when the store holds no
// such stream, as lookup finds it. An error of the runs is kept in
// o.kvErr, and the stream is taken for absent meanwhile: the commit that
// looked is refused.
func (o *overlay) durable(stream string) *streamIdx {
	x, err := o.lookup(stream)
	if err != nil && o.kvErr == nil {
		o.kvErr = err
	}
	return x
}

// lookup gives the durable index of stream, nil when the store holds no
// such stream: memory's, else the stream runs' (state.stream), kept in
// o.ran.
func (o *overlay) lookup(stream string) (*streamIdx, error) {
	if x := o.s.streams[stream]; x != nil || o.s.stRuns == nil {
		return x, nil
	}
	if x, ok := o.ran[stream]; ok {
		return x, nil
	}
	x, err := o.s.stream(o.p, stream)
	if err != nil {
		return nil, err
	}
	if o.ran == nil {
		o.ran = make(map[string]*streamIdx)
	}
	o.ran[stream] = x
	return x, nil
}

func (o *overlay) kvRev(key string) uint64 {
	if r, ok := o.kv[key]; ok {
		return r
	}
	e, revs, err := o.s.kvLookup(o.p, key)
	if err != nil {
		if o.kvErr == nil {
			o.kvErr = err
		}
		return 0
	}
	if revs != nil {
		if o.kvRevs == nil {
			o.kvRevs = make(map[string][]uint64)
		}
		o.kvRevs[key] = revs
	}
	if e == nil {
		return 0
	}
	return e.rev
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

	ov := &overlay{s: s.st, st: s, p: p, lsn: s.st.lsn, pos: s.st.lastPos, rev: s.st.rev, crc: s.lastCRC, at: at}
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

	// Durable: publish, the end of the log with the index, so that a
	// checkpoint captured beside the leader (captureBeside) sees both as
	// of one record.
	sum := crc32.Update(s.segSum, castagnoli, buf)
	s.mu.Lock()
	for name, x := range ov.ran {
		// The streams the group looked up in the runs, which its
		// commits may append to: memory's from now on.
		if x != nil {
			s.st.bring(name, x)
		}
	}
	for i := range pend {
		s.st.apply(&pend[i].rec, loc{seg: uint32(s.active.id), off: uint32(s.off + pend[i].off)})
	}
	s.st.lsn = ov.lsn
	if d := s.pendDrop.Swap(nil); d != nil {
		s.st.applyDrop(d)
	}
	s.bytes += int64(len(buf))
	s.lastOff = s.off + pend[len(pend)-1].off
	s.segSum = sum
	s.off += int64(len(buf))
	s.lastCRC = ov.crc
	close(s.notify)
	s.notify = make(chan struct{})
	s.mu.Unlock()
}

// write appends buf to the active segment and syncs it.
func (s *Store) write(p *effect.P, buf []byte) error {
	end := s.off + int64(len(buf))
	if end > s.reserved {
		// Reserve more, and make the new size durable before any record
		// goes into it: a record never lies past the durable end of its
		// segment, so a segment that ends inside a record was cut at rest.
		grow := max(end-s.reserved, s.opts.SegmentSize/8)
		if _, err := effect.Perform(p, platform.Fallocate{FD: s.active.fd, Off: s.reserved, Len: grow}); err != nil {
			return err
		}
		if err := fsync(p, s.active.fd); err != nil {
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

// roll seals the active segment and starts the next (segment format
// version 2). The next segment is made durable first, its header naming
// the seal to come (see makeSegment); then the active segment is cut to
// the end of its seal (truncate, fsync), and the seal is written and
// synced. So a durable seal proves that its successor is durable, and the
// seal goes into space whose size is durable. The index, LSN and offsets
// change only once the roll is done; a roll that fails takes back what it
// made (unroll).
func (s *Store) roll(p *effect.P) error {
	old := s.active
	sealLSN := s.st.lsn + 1
	si := sealInfo{firstLSN: old.first, length: uint64(s.off), sum: s.segSum, lastPos: s.st.lastPos, rev: s.st.rev}
	seal, sealCRC := sealRecord(old.version, s.lastCRC, old.id, sealLSN, si)
	next, hdr, hdrCRC, err := s.makeSegment(p, old.id+1, sealLSN+1, sealCRC)
	if err != nil {
		return err
	}
	end := s.off + int64(len(seal))
	err = func() error {
		if _, err := effect.Perform(p, platform.Truncate{FD: old.fd, Size: end}); err != nil {
			return err
		}
		if err := fsync(p, old.fd); err != nil {
			return err
		}
		if err := writeAt(p, old.fd, s.off, seal); err != nil {
			return err
		}
		return fsync(p, old.fd)
	}()
	if err != nil {
		s.unroll(p, old, next)
		return fmt.Errorf("file: seal segment %d: %w", old.id, err)
	}
	s.mu.Lock()
	s.segs[next.id] = next
	s.st.lsn = sealLSN + 1
	s.bytes += int64(len(seal)) + hdr
	s.active, s.off, s.reserved, s.lastCRC, s.headerEnd = next, hdr, s.opts.SegmentSize, hdrCRC, hdr
	s.lastOff, s.segSum = 0, next.hdrSum
	s.mu.Unlock()
	return nil
}

// unroll takes back a roll that failed after it made the next segment: it
// cuts what it may have written of the seal (truncate, fsync) and only
// then removes the next segment (remove, directory fsync), so that a seal
// that may be durable never lacks its successor. Best effort, as undo: the
// store is failed whatever this does, and a recovery that finds a
// successor holding only its header after an unsealed segment takes the
// roll back itself.
func (s *Store) unroll(p *effect.P, old, next *segment) {
	_ = closeFile(p, next.fd)
	if _, err := effect.Perform(p, platform.Truncate{FD: old.fd, Size: s.off}); err != nil {
		return
	}
	if err := fsync(p, old.fd); err != nil {
		return
	}
	s.reserved = s.off
	if err := remove(p, next.path); err != nil {
		return
	}
	_ = syncDir(p, s.logDir)
}

// prepare checks w's commit against the overlay (ops.Decide: the
// unique-ID rule, retries, expectations) and, unless it is refused or only
// repeats stored appends, encodes its record into buf. It reports the
// extended buffer.
func (s *Store) prepare(p *effect.P, ov *overlay, w *writer, at int64, buf []byte, pend *[]pending) []byte {
	if w.meta != nil {
		return s.prepareMeta(ov, w, at, buf, pend)
	}
	c := w.c
	res := ops.CommitResult{}
	if len(c.Appends) > 0 {
		res.Appends = make([]ops.AppendResult, len(c.Appends))
	}
	if len(c.Kv) > 0 {
		res.Kv = make([]ops.KvResult, len(c.Kv))
	}
	ov.kvErr = nil
	plan, err := ops.Decide(c, ov)
	if err == nil {
		err = ov.kvErr
	}
	if err != nil {
		w.err = err
		return buf
	}
	// Whether each kv key had a value, looked up before the overlay
	// changes, since a lookup may read a kv run and fail (a commit
	// changes a key once at most).
	var had []bool
	if len(c.Kv) > 0 {
		had = make([]bool, len(c.Kv))
		for i, k := range c.Kv {
			had[i] = ov.kvRev(k.Key) > 0
		}
	}
	if ov.kvErr != nil {
		w.err = ov.kvErr
		return buf
	}
	replayed := make([]bool, len(c.Appends))
	for i, ap := range plan.Appends {
		if ap.Retry {
			res.Appends[i], replayed[i] = ap.Result, true
		}
	}

	// Fresh IDs for events without one: drawn from their positions under
	// the nonce of this run of the store (see drawNonce).
	if s.nonce == nil {
		for i, a := range c.Appends {
			if !replayed[i] && slices.ContainsFunc(a.Events, func(e ops.EventData) bool { return e.ID == uuid.Nil }) {
				if err := s.drawNonce(p); err != nil {
					w.err = err
					return buf
				}
				break
			}
		}
	}

	rec := commitRec{at: at}
	pos := ov.pos + 1
	for i, a := range c.Appends {
		if replayed[i] {
			continue
		}
		cur := ov.head(a.Stream)
		part := partRec{stream: a.Stream, firstSeq: cur + 1, n: len(a.Events), src: a.Events, ids: make([]uuid.UUID, len(a.Events))}
		for j, e := range a.Events {
			id := e.ID
			if id == uuid.Nil {
				id = ov.s.ids.Drawn(*s.nonce, pos+uint64(j))
			}
			part.ids[j] = id
		}
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
			existed := had[i]
			op := kvRec{op: kvPut, key: k.Key, value: k.Value, had: existed, revs: ov.kvRevs[k.Key]}
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
	// What the index keeps: counts, IDs and kv values, not event bodies.
	for i := range rec.parts {
		rec.parts[i].src = nil
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
		h := o.head(stream)
		ps = &pendStream{base: h, head: h}
		o.streams[stream] = ps
	}
	ps.parts = append(ps.parts, pendPart{firstSeq: part.firstSeq, firstPos: pos, ids: part.ids})
	// The map holds the IDs FindID can not find by the position they
	// name: not those the store drew (as indexEvent leaves them out).
	for j, id := range part.ids {
		if part.src[j].ID == uuid.Nil {
			continue
		}
		if _, p, ok := o.s.ids.DrawnPos(id); ok && p == pos+uint64(j) {
			continue
		}
		if ps.ids == nil {
			ps.ids = make(map[uuid.UUID]uint64)
		}
		ps.ids[id] = part.firstSeq + uint64(j)
	}
	ps.head += uint64(part.n)
}

// drawNonce draws the nonce of the IDs this run of the store draws, once:
// a fresh one per run keeps the IDs of two copies of one store directory
// (same store id, same positions) apart.
func (s *Store) drawNonce(p *effect.P) error {
	rnd, err := effect.Perform(p, platform.Random{N: 8})
	if err == nil && len(rnd) != 8 {
		err = fmt.Errorf("%d random bytes, want 8", len(rnd))
	}
	if err != nil {
		return fmt.Errorf("file: event ids: %w", err)
	}
	n := binary.LittleEndian.Uint64(rnd) & (1<<idindex.NonceBits - 1)
	s.nonce = &n
	return nil
}
