package file

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// recordWindow is how much a read of a record takes at first; a longer
// record takes a second read. It does not follow the pooled buffer's
// capacity: the IO effects of a read depend on the data alone, so that a
// run on the mock platform is the same run every time.
const recordWindow = 8 << 10

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

// arena hands out copies of event data from one allocation per record, so
// a page of events costs few allocations. Each copy is capped, so appending
// to one never writes into another.
type arena struct{ buf []byte }

func (a *arena) reserve(evs []evRec) {
	n := 0
	for i := range evs {
		n += len(evs[i].data)
	}
	a.buf = make([]byte, 0, n)
}

func (a *arena) event(stream string, seq, pos uint64, at time.Time, e *evRec) ops.Event {
	var data []byte
	if n := len(e.data); n > 0 {
		start := len(a.buf)
		a.buf = append(a.buf, e.data...)
		data = a.buf[start : start+n : start+n]
	}
	return ops.Event{ID: e.id, Stream: stream, Seq: seq, Pos: pos, Type: e.typ, At: at, Data: data}
}

type chunkRef struct {
	seq uint64
	seg *segment
	l   loc
}

// readStream reads up to limit durable events of stream from seq from.
func (s *Store) readStream(p *effect.P, stream string, from uint64, limit int) ([]ops.Event, uint64, error) {
	from = max(from, 1)
	s.mu.RLock()
	st := s.st.streams[stream]
	if st == nil {
		s.mu.RUnlock()
		return nil, 0, nil
	}
	head := st.head
	if from > head {
		s.mu.RUnlock()
		return nil, head, nil
	}
	want := head
	if uint64(limit) <= head-from {
		want = from + uint64(limit) - 1
	}
	var refs []chunkRef
	for j := st.chunkFor(from); j < len(st.chunks) && st.chunks[j].seq <= want; j++ {
		c := st.chunks[j]
		refs = append(refs, chunkRef{seq: c.seq, seg: s.segs[uint64(c.seg)], l: c.loc})
	}
	s.mu.RUnlock()

	out := make([]ops.Event, 0, want-from+1)
	for _, r := range refs {
		if r.seg == nil {
			return nil, 0, fmt.Errorf("file: segment %d is not open", r.l.seg)
		}
		found := false
		err := s.readCommit(p, r.seg, r.l, stream, func(c *commitRec) {
			pos := c.firstPos
			at := time.Unix(0, c.at).UTC()
			for i := range c.parts {
				part := &c.parts[i]
				if part.stream != stream {
					pos += uint64(part.n)
					continue
				}
				if part.firstSeq != r.seq {
					return // not the record the index names
				}
				found = true
				lo, hi := uint64(0), uint64(len(part.events))
				if from > part.firstSeq {
					lo = min(from-part.firstSeq, hi)
				}
				if want < part.firstSeq+hi-1 {
					hi = max(want+1-part.firstSeq, lo)
				}
				var a arena
				a.reserve(part.events[lo:hi])
				for j := lo; j < hi; j++ {
					out = append(out, a.event(stream, part.firstSeq+j, pos+j, at, &part.events[j]))
				}
				return
			}
		})
		if err == nil && !found {
			err = corrupt(r.seg.path, int64(r.l.off), "the record there does not hold seq %d of stream %q", r.seq, stream)
		}
		if err != nil {
			return nil, 0, err
		}
	}
	if len(out) != int(want-from+1) || (len(out) > 0 && out[0].Seq != from) {
		return nil, 0, fmt.Errorf("%w: index of stream %q does not match the log at seq %d", ErrCorrupt, stream, from)
	}
	return out, head, nil
}

// readAll reads up to limit durable events from position from.
func (s *Store) readAll(p *effect.P, from uint64, limit int) ([]ops.Event, uint64, error) {
	from = max(from, 1)
	s.mu.RLock()
	head := s.st.lastPos
	if from > head {
		s.mu.RUnlock()
		return nil, head, nil
	}
	want := head
	if uint64(limit) <= head-from {
		want = from + uint64(limit) - 1
	}
	var refs []chunkRef
	for j := s.st.posChunkFor(from); j < len(s.st.positions) && s.st.positions[j].pos <= want; j++ {
		c := s.st.positions[j]
		refs = append(refs, chunkRef{seq: c.pos, seg: s.segs[uint64(c.seg)], l: c.loc})
	}
	s.mu.RUnlock()

	out := make([]ops.Event, 0, want-from+1)
	for _, r := range refs {
		if r.seg == nil {
			return nil, 0, fmt.Errorf("file: segment %d is not open", r.l.seg)
		}
		found := false
		err := s.readCommit(p, r.seg, r.l, "", func(c *commitRec) {
			if c.firstPos != r.seq {
				return // not the record the index names
			}
			found = true
			pos := c.firstPos
			at := time.Unix(0, c.at).UTC()
			for i := range c.parts {
				part := &c.parts[i]
				var a arena
				a.reserve(part.events)
				for j := range part.events {
					if pos >= from && pos <= want {
						out = append(out, a.event(part.stream, part.firstSeq+uint64(j), pos, at, &part.events[j]))
					}
					pos++
				}
			}
		})
		if err == nil && !found {
			err = corrupt(r.seg.path, int64(r.l.off), "the record there does not hold position %d", r.seq)
		}
		if err != nil {
			return nil, 0, err
		}
	}
	if len(out) != int(want-from+1) || (len(out) > 0 && out[0].Pos != from) {
		return nil, 0, fmt.Errorf("%w: position index does not match the log at %d", ErrCorrupt, from)
	}
	return out, head, nil
}
