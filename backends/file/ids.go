package file

import (
	"fmt"
	"path/filepath"

	"github.com/google/uuid"

	"rose-ash.com/persist/ops"
)

// The overlay is the ops.View that a group's commits are decided against:
// the durable state through the in-memory index, plus the commits of the
// group before. Lookups of durable events read their record back, since
// the index keeps no IDs; the group-commit leader makes them, and it alone
// changes the state, so it reads the state without the lock.

var _ ops.View = (*overlay)(nil)

// Head is the stream's head as the group sees it.
func (o *overlay) Head(stream string) uint64 { return o.head(stream) }

// KvRevision is the key's revision as the group sees it.
func (o *overlay) KvRevision(key string) uint64 { return o.kvRev(key) }

// EventAt gives the ID and position of seq: pending in the group, or read
// from the durable record holding it.
func (o *overlay) EventAt(stream string, seq uint64) (uuid.UUID, uint64, error) {
	if ps := o.streams[stream]; ps != nil && seq > ps.base {
		id, pos := ps.at(seq)
		return id, pos, nil
	}
	st, err := o.lookup(stream)
	if err != nil {
		return uuid.Nil, 0, err
	}
	if st == nil || seq == 0 || seq > st.head {
		return uuid.Nil, 0, fmt.Errorf("file: no seq %d in stream %q", seq, stream)
	}
	c, err := o.st.seqLoc(o.p, stream, st, seq)
	if err != nil {
		return uuid.Nil, 0, err
	}
	r, err := o.record(c.loc)
	if err != nil {
		return uuid.Nil, 0, err
	}
	if part := r.part(stream); part != nil && part.firstSeq == c.seq && seq-part.firstSeq < uint64(len(part.ids)) {
		i := seq - part.firstSeq
		return part.ids[i], part.firstPos + i, nil
	}
	seg := o.st.segs[uint64(c.seg)]
	return uuid.Nil, 0, corrupt(seg.path, int64(c.off), "the record there does not hold seq %d of stream %q", seq, stream)
}

// FindID finds id in stream. An ID that names a position the log (or the
// group) has reached is first looked for there, since the store does not
// index the IDs it drew itself (see indexEvent); then among the group's
// pending IDs, then through the ID index. Every hit is confirmed by
// reading the event back. A stream may store an ID more than once when
// retention hid the older event (a hidden ID is free again), and only the
// newest can be visible, so the newest hit of all three answers: a pending
// one at once, since the group's events follow every durable one.
func (o *overlay) FindID(stream string, id uuid.UUID) (uint64, uint64, error) {
	ids := o.s.ids
	ps := o.streams[stream]
	st, err := o.lookup(stream)
	if err != nil {
		return 0, 0, err
	}
	if ids == nil || (ps == nil && st == nil) {
		return 0, 0, nil
	}
	if ps != nil {
		if seq, ok := ps.ids[id]; ok {
			_, pos := ps.at(seq)
			return seq, pos, nil
		}
	}
	var seq, pos uint64
	if _, p, ok := ids.DrawnPos(id); ok && p <= o.pos {
		var s uint64
		var err error
		if p > o.s.lastPos {
			s = ps.seqAt(id, p)
		} else if st != nil {
			s, err = o.durableAt(stream, id, p)
		}
		if err != nil {
			return 0, 0, err
		}
		if p > o.s.lastPos && s != 0 {
			return s, p, nil
		}
		seq, pos = s, p
	}
	if st == nil {
		return seq, pos, nil
	}
	h := ids.Hash(st.key, id)
	confirm := func(p uint64) (bool, error) {
		if p > o.s.lastPos {
			return false, nil
		}
		s, err := o.durableAt(stream, id, p)
		if err == nil && s > seq {
			seq, pos = s, p
		}
		return false, err
	}
	if _, err := ids.Lookup(h, confirm); err != nil {
		return 0, 0, err
	}
	// Then the index files holding ID entries (see Segment index
	// files), newest first, as far as one could hold a newer hit than
	// the one found. Every such file's filter is asked, not only those
	// of the segments the stream lies in: the filter answers for the
	// others with no entry block read (but for 1% of them), a kept
	// filter with no read at all and a probed one with one filter block
	// through the index block cache, where finding the stream's segments
	// would walk its directories.
	for i := len(o.s.indexed) - 1; i >= 0; i-- {
		e := &o.s.indexed[i]
		if !e.ids {
			continue
		}
		if e.lastPos <= pos {
			break
		}
		if err := o.st.idsIn(o.p, e, h, confirm); err != nil {
			return 0, 0, err
		}
	}
	return seq, pos, nil
}

// durableAt is the seq of the durable event at pos when it is id in
// stream, 0 when it is another.
func (o *overlay) durableAt(stream string, id uuid.UUID, pos uint64) (uint64, error) {
	c, err := o.st.posLoc(o.p, pos)
	if err != nil {
		return 0, err
	}
	r, err := o.record(c.loc)
	if err != nil {
		return 0, err
	}
	if r.firstPos != c.pos {
		seg := o.st.segs[uint64(c.seg)]
		return 0, corrupt(seg.path, int64(c.off), "the record there does not hold position %d", c.pos)
	}
	for i := range r.parts {
		part := &r.parts[i]
		if i := pos - part.firstPos; pos >= part.firstPos && i < uint64(len(part.ids)) {
			if part.stream == stream && part.ids[i] == id {
				return part.firstSeq + i, nil
			}
			return 0, nil
		}
	}
	return 0, nil
}

// seqAt is the seq of the pending event at pos when it is id, 0 when it is
// another or ps is nil.
func (ps *pendStream) seqAt(id uuid.UUID, pos uint64) uint64 {
	if ps == nil {
		return 0
	}
	for _, pp := range ps.parts {
		if i := pos - pp.firstPos; pos >= pp.firstPos && i < uint64(len(pp.ids)) {
			if pp.ids[i] == id {
				return pp.firstSeq + i
			}
			return 0
		}
	}
	return 0
}

// indexEvent adds the event at pos with ID id to the ID index, unless the
// ID names pos: an ID the store drew for it (idindex.Drawn), which FindID
// finds by DrawnPos without a slot. So only IDs that callers chose take
// memory, and recovery, a checkpoint and Verify all index exactly the same
// events, decided by the IDs in the log alone.
func (s *state) indexEvent(key uint64, id uuid.UUID, pos uint64) {
	if _, p, ok := s.ids.DrawnPos(id); ok && p == pos {
		return
	}
	// Positions rise: Add can not fail.
	_ = s.ids.Add(s.ids.Hash(key, id), pos)
}

// recIDs is what a lookup needs of a durable commit record: per append
// part its stream, first seq and position, and its events' IDs.
type recIDs struct {
	at       loc
	firstPos uint64
	parts    []partIDs
}

type partIDs struct {
	stream   string
	firstSeq uint64
	firstPos uint64
	ids      []uuid.UUID
}

func (r *recIDs) part(stream string) *partIDs {
	for i := range r.parts {
		if r.parts[i].stream == stream {
			return &r.parts[i]
		}
	}
	return nil
}

// record reads the IDs of the commit record at l, once per group for the
// record read last.
func (o *overlay) record(l loc) (*recIDs, error) {
	if o.last != nil && o.last.at == l {
		return o.last, nil
	}
	seg := o.st.segs[uint64(l.seg)]
	if seg == nil {
		return nil, fmt.Errorf("file: segment %d is not open", l.seg)
	}
	if o.st.inGap(l) {
		// Compacted: its events were hidden, so their IDs are free.
		o.last = &recIDs{at: l}
		return o.last, nil
	}
	f, bp, err := o.st.readRecord(o.p, seg, l.off)
	if err != nil {
		return nil, err
	}
	defer releaseBuf(bp)
	c, err := decodeCommit(f.payload, true, "")
	if err != nil {
		return nil, corrupt(seg.path, int64(l.off), "%v", err)
	}
	r := &recIDs{at: l, firstPos: c.firstPos, parts: make([]partIDs, len(c.parts))}
	pos := c.firstPos
	for i := range c.parts {
		part := &c.parts[i]
		r.parts[i] = partIDs{stream: part.stream, firstSeq: part.firstSeq, firstPos: pos, ids: part.ids}
		pos += uint64(part.n)
	}
	o.last = r
	return r, nil
}

// indexCovered is a replayer callback adding the IDs of each commit record
// to st's ID index: for the records a checkpoint without one covers.
func indexCovered(st *state, logDir string) func(seg uint64, off int64, f frame, c *commitRec) error {
	return func(seg uint64, off int64, f frame, _ *commitRec) error {
		if f.typ == recGap {
			if err := gapIDs(st, f); err != nil {
				return corrupt(filepath.Join(logDir, segName(seg)), off, "%v", err)
			}
			return nil
		}
		if f.typ != recCommit {
			return nil
		}
		rec, err := decodeCommit(f.payload, true, "")
		if err != nil {
			return corrupt(filepath.Join(logDir, segName(seg)), off, "%v", err)
		}
		st.indexRecord(&rec)
		return nil
	}
}
