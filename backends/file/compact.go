package file

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// Physical compaction: see the package doc, Compaction.

// CompactOptions bound a compaction.
type CompactOptions struct {
	// Progress, when set, is called after each segment is examined with
	// the segments done and the segments to examine.
	Progress func(done, total int)
}

// CompactResult says what Compact did.
type CompactResult struct {
	Segments  int           // sealed segments examined
	Rewritten int           // segments rewritten with gaps
	Records   int64         // commit records replaced by gap records
	Events    int64         // hidden events whose bytes left the disk
	KvChanges int64         // superseded kv changes whose values left the disk
	Bytes     int64         // bytes left unwritten (holes) in the rewritten segments
	Took      time.Duration // the whole compaction
	At        time.Time     // when it ran, by io/clock
}

// compacted is the part of the store that compaction adds: the per-stream
// floors below which nothing is served again, and the gaps of the
// rewritten segments. Its maps are guarded by Store.mu.
type compacted struct {
	run    sync.Mutex // one Compact at a time
	floors map[string]uint64
	// gaps is replaced whole, never changed: read without a lock.
	gaps atomic.Pointer[map[uint32][]gapRun]
	last CompactResult
	// dueBytes is the log's size when CompactDue last ran a compaction.
	dueBytes int64
}

// gapRun is the byte range [start, end) of a segment that one gap record
// covers.
type gapRun struct{ start, end uint32 }

const (
	compactedFile    = "compacted"
	compactedMagic   = "persistK"
	compactedVersion = 1
)

// gapRec is the payload of a gap record: what the commit records it
// replaced leave in the index, and what recovery needs to go on after
// them (the chain, the segment checksum, the LSNs).
type gapRec struct {
	span    uint64    // bytes from the gap record's offset to the next record
	lastCRC uint32    // CRC of the last record replaced: the next record's chain
	sum     uint32    // CRC-32C of the segment's original bytes up to the end of the run
	recs    []gapSkel // one per record replaced, in order; LSNs follow the gap's
}

// gapSkel is one replaced record: its offset from the gap record and its
// commit payload without event types and data.
type gapSkel struct {
	off     uint64
	payload []byte
}

func appendGap(dst []byte, g *gapRec) []byte {
	dst = binary.AppendUvarint(dst, g.span)
	dst = binary.AppendUvarint(dst, uint64(g.lastCRC))
	dst = binary.AppendUvarint(dst, uint64(g.sum))
	dst = binary.AppendUvarint(dst, uint64(len(g.recs)))
	for _, r := range g.recs {
		dst = binary.AppendUvarint(dst, r.off)
		dst = binary.AppendUvarint(dst, uint64(len(r.payload)))
		dst = append(dst, r.payload...)
	}
	return dst
}

func decodeGap(b []byte) (gapRec, error) {
	d := decoder{b: b}
	var g gapRec
	g.span = d.uvarint()
	g.lastCRC = d.u32()
	g.sum = d.u32()
	n := d.count(2)
	if n == 0 && d.err == nil {
		return gapRec{}, errors.New("gap record replaces no record")
	}
	prev := uint64(0)
	for i := 0; i < n && d.err == nil; i++ {
		off := d.uvarint()
		pl := d.bytes()
		if d.err == nil && (off%alignment != 0 || off >= g.span || (i > 0 && off <= prev) || (i == 0 && off != 0)) {
			return gapRec{}, fmt.Errorf("gap record's record %d at offset %d out of order", i, off)
		}
		g.recs = append(g.recs, gapSkel{off: off, payload: pl})
		prev = off
	}
	if d.err == nil && len(d.b) != 0 {
		return gapRec{}, errors.New("gap record has trailing bytes")
	}
	if d.err != nil {
		return gapRec{}, fmt.Errorf("malformed gap record: %v", d.err)
	}
	return g, nil
}

// recordExtent is how far a scan moves past the record f: its size, or
// for a gap record the span it covers (its size when that is malformed,
// for the replay to report).
func recordExtent(f frame) int64 {
	if f.typ != recGap {
		return int64(f.size)
	}
	span, n := binary.Uvarint(f.payload)
	if n <= 0 || span < uint64(f.size) || span%alignment != 0 || span > maxSegmentSpan {
		return int64(f.size)
	}
	return int64(span)
}

// maxSegmentSpan bounds a gap's span: record offsets are uint32.
const maxSegmentSpan = 1 << 32

// replayGap applies the gap record f at off of segment id to rp: each
// record it replaced, at its own offset, as replay of that record would.
// It answers the LSN of the last record replaced, the chain and segment
// checksum after them.
func (rp *replayer) replayGap(path string, id uint64, off int64, f frame) (uint64, uint32, uint32, error) {
	g, err := decodeGap(f.payload)
	if err != nil {
		return 0, 0, 0, corrupt(path, off, "%v", err)
	}
	if g.span < uint64(f.size) || g.span%alignment != 0 || uint64(off)+g.span > maxSegmentSpan {
		return 0, 0, 0, corrupt(path, off, "gap record's span %d out of range", g.span)
	}
	if !rp.frames {
		for i, r := range g.recs {
			rec, err := decodeCommit(r.payload, !rp.full, "")
			if err != nil {
				return 0, 0, 0, corrupt(path, off, "gap record's record %d: %v", i, err)
			}
			if len(rec.meta) > 0 || (rec.events() == 0 && len(rec.kv) == 0) {
				return 0, 0, 0, corrupt(path, off, "gap record's record %d holds more than events and kv changes", i)
			}
			why, err := rp.st.checkLoaded(rp.p, &rec)
			if err != nil {
				return 0, 0, 0, err
			}
			if why != "" {
				return 0, 0, 0, corrupt(path, off, "gap record's record %d: %s", i, why)
			}
			if err := rp.st.lookUpHad(rp.p, &rec); err != nil {
				return 0, 0, 0, err
			}
			rp.st.apply(&rec, loc{seg: uint32(id), off: uint32(uint64(off) + r.off)})
			rp.commits++
			rp.events += uint64(rec.events())
		}
	}
	return f.lsn + uint64(len(g.recs)) - 1, g.lastCRC, g.sum, nil
}

// gapIDs indexes the IDs of the records a gap record replaced (for
// indexCovered).
func gapIDs(st *state, f frame) error {
	g, err := decodeGap(f.payload)
	if err != nil {
		return err
	}
	for _, r := range g.recs {
		rec, err := decodeCommit(r.payload, true, "")
		if err != nil {
			return err
		}
		st.indexRecord(&rec)
	}
	return nil
}

// gapIndex applies the records a gap replaced to st, at their offsets in
// seg (for indexSegment).
func gapIndex(st *state, seg uint64, off int64, f frame) error {
	g, err := decodeGap(f.payload)
	if err != nil {
		return err
	}
	for _, r := range g.recs {
		rec, err := decodeCommit(r.payload, true, "")
		if err != nil {
			return err
		}
		st.apply(&rec, loc{seg: uint32(seg), off: uint32(uint64(off) + r.off)})
	}
	return nil
}

// inGap reports whether the record at l was replaced by a gap; the caller
// need not hold s.mu.
func (s *Store) inGap(l loc) bool {
	m := s.cmp.gaps.Load()
	if m == nil {
		return false
	}
	runs := (*m)[l.seg]
	if len(runs) == 0 {
		return false
	}
	i := sort.Search(len(runs), func(i int) bool { return runs[i].end > l.off })
	return i < len(runs) && runs[i].start <= l.off
}

// floor is the first seq of stream a compaction left on disk; the caller
// holds s.mu.
func (s *Store) floor(stream string) uint64 { return s.cmp.floors[stream] }

// encodeCompacted encodes the compaction file: magic, version, four zero
// bytes, body length, body, CRC-32C of all before.
func encodeCompacted(at time.Time, floors map[string]uint64, gaps map[uint32][]gapRun) []byte {
	body := binary.AppendVarint(nil, at.UnixNano())
	names := slices.Sorted(maps.Keys(floors))
	body = binary.AppendUvarint(body, uint64(len(names)))
	for _, n := range names {
		body = appendString(body, n)
		body = binary.AppendUvarint(body, floors[n])
	}
	segs := slices.Sorted(maps.Keys(gaps))
	body = binary.AppendUvarint(body, uint64(len(segs)))
	for _, id := range segs {
		body = binary.AppendUvarint(body, uint64(id))
		body = binary.AppendUvarint(body, uint64(len(gaps[id])))
		for _, r := range gaps[id] {
			body = binary.AppendUvarint(body, uint64(r.start))
			body = binary.AppendUvarint(body, uint64(r.end))
		}
	}
	b := []byte(compactedMagic)
	b = binary.LittleEndian.AppendUint32(b, compactedVersion)
	b = append(b, 0, 0, 0, 0)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(body)))
	b = append(b, body...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeCompacted(b []byte) (time.Time, map[string]uint64, map[uint32][]gapRun, error) {
	if len(b) < 28 || string(b[:8]) != compactedMagic {
		return time.Time{}, nil, nil, errors.New("not a compaction file")
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != compactedVersion {
		return time.Time{}, nil, nil, fmt.Errorf("compaction file version %d unknown", v)
	}
	n := binary.LittleEndian.Uint64(b[16:])
	if n != uint64(len(b)-28) || b[12]|b[13]|b[14]|b[15] != 0 {
		return time.Time{}, nil, nil, errors.New("compaction file length does not match")
	}
	if crc32.Checksum(b[:len(b)-4], castagnoli) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return time.Time{}, nil, nil, errors.New("compaction file checksum mismatch")
	}
	d := decoder{b: b[24 : len(b)-4]}
	at := time.Unix(0, d.varint()).UTC()
	floors := map[string]uint64{}
	prevName := ""
	for i, nf := 0, d.count(2); i < nf && d.err == nil; i++ {
		name := string(d.bytes())
		if i > 0 && name <= prevName {
			d.fail() // names in byte order, each once
		}
		floors[name], prevName = d.uvarint(), name
	}
	gaps := map[uint32][]gapRun{}
	prevID := uint64(0)
	for i, ns := 0, d.count(2); i < ns && d.err == nil; i++ {
		id := d.uvarint()
		if i > 0 && id <= prevID {
			d.fail() // segments in order, each once
		}
		prevID = id
		var runs []gapRun
		for j, nr := 0, d.count(2); j < nr && d.err == nil; j++ {
			start, end := d.uvarint(), d.uvarint()
			if start >= end || end > maxSegmentSpan-1 || (j > 0 && uint64(runs[j-1].end) > start) {
				d.fail()
				break
			}
			runs = append(runs, gapRun{uint32(start), uint32(end)})
		}
		if id > maxSegmentSpan-1 {
			d.fail()
		}
		gaps[uint32(id)] = runs
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	if d.err != nil {
		return time.Time{}, nil, nil, fmt.Errorf("malformed compaction file: %v", d.err)
	}
	return at, floors, gaps, nil
}

// loadCompacted reads the compaction file, when there is one.
func (s *Store) loadCompacted(p *effect.P) error {
	path := filepath.Join(s.logDir, compactedFile)
	ok, err := exists(p, path)
	if err != nil {
		return fmt.Errorf("file: stat %s: %w", path, err)
	}
	if !ok {
		return nil
	}
	b, err := readWhole(p, path)
	if err != nil {
		return fmt.Errorf("file: read %s: %w", path, err)
	}
	at, floors, gaps, err := decodeCompacted(b)
	if err != nil {
		return corrupt(path, 0, "%v", err)
	}
	s.mu.Lock()
	s.cmp.last.At = at
	s.cmp.floors = floors
	s.cmp.gaps.Store(&gaps)
	s.mu.Unlock()
	return nil
}

func readWhole(p *effect.P, path string) ([]byte, error) {
	size, err := fileSize(p, path)
	if err != nil {
		return nil, err
	}
	fd, err := openFile(p, path, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer closeFile(p, fd)
	b := make([]byte, size)
	n, err := readFull(p, fd, 0, b)
	if err != nil {
		return nil, err
	}
	if int64(n) != size {
		return nil, fmt.Errorf("read %d of %d bytes", n, size)
	}
	return b, nil
}

// deadRun is a run of commit records of one segment to replace by a gap.
type deadRun struct {
	start, end int64 // byte range
	gap        []byte
	events     int64
	kv         int64 // kv changes
	records    int64
}

// segPlan is what compaction does to one segment.
type segPlan struct {
	id   uint64
	size int64
	runs []deadRun
	kept []gapRun // the gaps the segment holds already
}

// Compact rewrites the sealed segments that hold commit records all of
// whose events are hidden (by the streams' limits and deletions, as of
// io/clock now), replacing each run of such records with one gap record
// and leaving the rest of the run's bytes unwritten, so that the
// filesystem frees them. Readers and writers keep working while it
// copies; it holds every operation off only while it switches a segment.
// See the package doc, Compaction.
func (s *Store) Compact(p *effect.P, opts CompactOptions) (CompactResult, error) {
	start := time.Now()
	s.opMu.RLock()
	closed := s.closed.Load()
	s.opMu.RUnlock()
	switch {
	case closed:
		return CompactResult{}, ops.ErrClosed
	case s.readOnly || s.verify:
		return CompactResult{}, ErrReadOnly
	}
	s.cmp.run.Lock()
	defer s.cmp.run.Unlock()
	now, err := effect.Perform(p, platform.Clock{})
	if err != nil {
		return CompactResult{}, clockError(err)
	}
	res := CompactResult{At: now.UTC()}
	// The decision rests on the state as of one LSN, which a checkpoint
	// then covers: a record it covers is never cut as a torn tail, so no
	// damage at rest can take back the limits that hid what the
	// compaction takes. Captured with no operation in progress (as Close
	// does), written beside them (as a leader does).
	// A leader in flight may claim one in the background (claimCheckpoint)
	// before the lock is had: then let go and wait again, rather than
	// hold every operation off while it is written.
	for {
		s.ckMu.Lock()
		s.waitCheckpointIdle()
		s.ckMu.Unlock()
		s.opMu.Lock()
		s.ckMu.Lock()
		busy := s.ckptBusy
		s.ckMu.Unlock()
		if !busy {
			break
		}
		s.opMu.Unlock()
	}
	var ckpt *ckptView
	if s.opts.CheckpointBytes >= 0 {
		ckpt = s.captureCheckpoint(true)
	}
	s.mu.RLock()
	if s.failed != nil {
		err := s.failed
		s.mu.RUnlock()
		s.opMu.Unlock()
		if ckpt != nil {
			s.ckMu.Lock()
			s.ckptBusy = false
			s.ckDone.Broadcast()
			s.ckMu.Unlock()
		}
		return CompactResult{}, fmt.Errorf("%w: %w", ErrFailed, err)
	}
	in, err := s.compactInputs(p)
	s.mu.RUnlock()
	s.opMu.Unlock()
	if err != nil {
		if ckpt != nil {
			s.ckMu.Lock()
			s.ckptBusy = false
			s.ckDone.Broadcast()
			s.ckMu.Unlock()
		}
		return CompactResult{}, err
	}
	defer in.release(p)
	if ckpt != nil {
		if err := s.writeCheckpoint(p, ckpt); err != nil {
			return res, fmt.Errorf("file: compact: checkpoint: %w", err)
		}
	}
	res.Segments = len(in.sealed)
	floors := in.floors
	plans, err := s.planAll(p, &in, now, opts.Progress)
	if err != nil {
		return res, err
	}
	if len(plans) == 0 {
		res.Took = time.Since(start)
		s.mu.Lock()
		s.cmp.last = res
		s.mu.Unlock()
		return res, nil
	}
	// The floors take effect before anything is written: what they hide
	// was hidden already, and no metadata write brings it back from now.
	s.mu.Lock()
	var gaps map[uint32][]gapRun
	if m := s.cmp.gaps.Load(); m != nil {
		gaps = maps.Clone(*m)
	}
	s.cmp.floors = floors
	s.mu.Unlock()
	if gaps == nil {
		gaps = map[uint32][]gapRun{}
	}
	for _, pl := range plans {
		// What the rewritten segment will hold: the ranges a crashed
		// compaction named but did not write are named no more.
		runs := slices.Clone(pl.kept)
		for _, r := range pl.runs {
			runs = append(runs, gapRun{uint32(r.start), uint32(r.end)})
		}
		slices.SortFunc(runs, func(a, b gapRun) int { return int(a.start) - int(b.start) })
		gaps[uint32(pl.id)] = runs
	}
	// The compaction file names the new gaps before any segment holds
	// them: a crash between the two leaves gaps named over records that
	// are still there, which hides nothing the floors do not.
	if err := writeFileAtomic(p, filepath.Join(s.logDir, compactedFile), encodeCompacted(res.At, floors, gaps)); err != nil {
		return res, fmt.Errorf("file: write compaction file: %w", err)
	}
	var done []*segment
	defer func() { s.switchSegments(p, done, gaps) }()
	for _, pl := range plans {
		if s.closed.Load() {
			// Close is waiting: the segments rewritten so far are
			// switched, the rest keep the gaps named over records that
			// are still there, as after a crash.
			return res, ops.ErrClosed
		}
		next, err := s.rewriteSegment(p, pl)
		if err != nil {
			return res, err
		}
		done = append(done, next)
		res.Rewritten++
		for _, r := range pl.runs {
			res.Records += r.records
			res.Events += r.events
			res.KvChanges += r.kv
			res.Bytes += (r.end - r.start) - int64(len(r.gap))
		}
	}
	res.Took = time.Since(start)
	s.mu.Lock()
	s.cmp.last = res
	s.mu.Unlock()
	return res, nil
}

// planSegment reads seg and finds its runs of dead commit records: no
// metadata, every event hidden, every kv change gone (kvGone; none when
// it is nil). It raises floors past the events of the runs.
func (s *Store) planSegment(p *effect.P, seg *segment, hidden func(string, uint64, time.Time) bool, kvGone func(string, uint64) bool, floors map[string]uint64, protect map[uint64]bool) (segPlan, error) {
	size, err := fileSize(p, seg.path)
	if err != nil {
		return segPlan{}, fmt.Errorf("file: stat %s: %w", seg.path, err)
	}
	plan := segPlan{id: seg.id, size: size}
	r := &segReader{p: p, fd: seg.fd, path: seg.path, id: seg.id, size: size, window: 1 << 20}
	var (
		cur     *deadRun
		first   frame // first record of the current run
		skels   []gapSkel
		sum     uint32 // segment checksum up to the end of the last record
		lastCRC uint32
		raised  = map[string]uint64{}
	)
	flush := func() {
		if cur == nil {
			return
		}
		g := gapRec{span: uint64(cur.end - cur.start), lastCRC: lastCRC, sum: sum, recs: skels}
		rec, _ := appendRecord(nil, recGap, first.prev, seg.id, first.lsn, func(b []byte) []byte { return appendGap(b, &g) })
		if int64(len(rec)) < cur.end-cur.start {
			cur.gap = rec
			plan.runs = append(plan.runs, *cur)
			for k, v := range raised {
				floors[k] = max(floors[k], v)
			}
		}
		cur, skels = nil, nil
		clear(raised)
	}
	var ferr error
	_, bad, err := r.scan(0, func(off int64, f frame) error {
		dead := false
		var skel []byte
		var rec commitRec
		if f.typ == recCommit && !protect[f.lsn] {
			c, err := decodeCommit(f.payload, true, "")
			if err != nil {
				ferr = corrupt(seg.path, off, "%v", err)
				return errStop
			}
			rec = c
			dead = len(c.meta) == 0 && (c.events() > 0 || len(c.kv) > 0)
			for i := 0; i < len(c.kv) && dead; i++ {
				dead = kvGone != nil && kvGone(c.kv[i].key, c.rev)
			}
			at := time.Unix(0, c.at)
			for _, pt := range c.parts {
				for j := 0; j < pt.n && dead; j++ {
					dead = hidden(pt.stream, pt.firstSeq+uint64(j), at)
				}
			}
		}
		if dead {
			sk := rec
			sk.parts = slices.Clone(rec.parts)
			for i := range sk.parts {
				pt := &sk.parts[i]
				pt.events = make([]evRec, pt.n)
				for j := range pt.events {
					pt.events[j].id = pt.id(j)
				}
				pt.ids = nil
			}
			sk.kv = slices.Clone(rec.kv)
			for i := range sk.kv {
				sk.kv[i].value = nil
			}
			skel = appendCommit(nil, &sk)
			if cur == nil {
				cur, first = &deadRun{start: off}, f
			}
			skels = append(skels, gapSkel{off: uint64(off - cur.start), payload: skel})
			cur.records++
			cur.events += int64(rec.events())
			cur.kv += int64(len(rec.kv))
			for _, pt := range rec.parts {
				raised[pt.stream] = max(raised[pt.stream], pt.firstSeq+uint64(pt.n))
			}
		} else {
			flush()
		}
		if f.typ == recHeader {
			sum = 0
		}
		if f.typ == recGap {
			g, err := decodeGap(f.payload)
			if err != nil {
				ferr = corrupt(seg.path, off, "%v", err)
				return errStop
			}
			sum, lastCRC = g.sum, g.lastCRC
			plan.kept = append(plan.kept, gapRun{uint32(off), uint32(off + recordExtent(f))})
		} else {
			sum = crc32.Update(sum, castagnoli, f.raw)
			lastCRC = f.crc
		}
		if cur != nil {
			cur.end = off + recordExtent(f)
		}
		if f.typ == recSeal {
			return errStop
		}
		return nil
	})
	if err == nil {
		err = ferr
	}
	if err == nil && bad != "" {
		err = corrupt(seg.path, 0, "sealed segment does not read to its seal: %s", bad)
	}
	if err != nil {
		return segPlan{}, err
	}
	flush()
	return plan, nil
}

// rewriteSegment writes the segment of pl anew beside it, with the runs
// replaced by their gap records and the rest of each run left a hole,
// makes it durable, renames it over the segment and opens it, for
// switchSegments.
func (s *Store) rewriteSegment(p *effect.P, pl segPlan) (*segment, error) {
	s.mu.RLock()
	old := s.segs[pl.id]
	s.mu.RUnlock()
	tmp := old.path + ".compact" + tmpSuffix
	fd, err := openFile(p, tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return nil, fmt.Errorf("file: create %s: %w", tmp, err)
	}
	err = func() error {
		if _, err := effect.Perform(p, platform.Truncate{FD: fd, Size: pl.size}); err != nil {
			return err
		}
		buf := make([]byte, 1<<20)
		copyRange := func(from, to int64) error {
			for off := from; off < to; {
				n := min(int64(len(buf)), to-off)
				got, err := readFull(p, old.fd, off, buf[:n])
				if err != nil {
					return err
				}
				if int64(got) != n {
					return fmt.Errorf("%s ends at %d, before %d", old.path, off+int64(got), to)
				}
				if !allZero(buf[:n]) {
					if err := writeAt(p, fd, off, buf[:n]); err != nil {
						return err
					}
				}
				off += n
			}
			return nil
		}
		pos := int64(0)
		for _, r := range pl.runs {
			if err := copyRange(pos, r.start); err != nil {
				return err
			}
			if err := writeAt(p, fd, r.start, r.gap); err != nil {
				return err
			}
			pos = r.end
		}
		if err := copyRange(pos, pl.size); err != nil {
			return err
		}
		return fsync(p, fd)
	}()
	_ = closeFile(p, fd)
	if err != nil {
		_ = remove(p, tmp)
		return nil, fmt.Errorf("file: compact %s: %w", old.path, err)
	}
	if _, err := effect.Perform(p, platform.Rename{From: tmp, To: old.path}); err != nil {
		return nil, fmt.Errorf("file: compact %s: rename: %w", old.path, err)
	}
	if err := syncDir(p, s.logDir); err != nil {
		return nil, fmt.Errorf("file: compact %s: sync log directory: %w", old.path, err)
	}
	nfd, err := s.openSegment(p, old.path)
	if err != nil {
		return nil, fmt.Errorf("file: compact %s: reopen: %w", old.path, err)
	}
	next := *old
	next.fd = nfd
	return &next, nil
}

// dropGaps leaves out of refs (a read of positions from to want) the
// records that gaps replaced, and answers how many of those positions
// they held: all hidden, as the floors say.
func (s *Store) dropGaps(refs []chunkRef, from, want uint64) ([]chunkRef, int) {
	out := refs[:0]
	n := 0
	for i, r := range refs {
		if !s.inGap(r.l) {
			out = append(out, r)
			continue
		}
		lo, hi := max(r.seq, from), want
		if i+1 < len(refs) {
			hi = min(hi, refs[i+1].seq-1)
		}
		if hi >= lo {
			n += int(hi - lo + 1)
		}
	}
	return out, n
}

// checkpointLSNs are the LSNs of the records the store checkpoints end
// with, once no checkpoint is being written: Open checks that record
// (where it starts, its LSN and checksum), so compaction keeps it. A
// checkpoint begun later ends in the active segment or after it.
func (s *Store) checkpointLSNs(p *effect.P) (map[uint64]bool, error) {
	s.ckMu.Lock()
	s.waitCheckpointIdle()
	out := map[uint64]bool{s.ckptLSN: true}
	s.ckMu.Unlock()
	ents, err := listDir(p, s.logDir)
	if err != nil {
		return nil, fmt.Errorf("file: list %s: %w", s.logDir, err)
	}
	for _, e := range ents {
		if lsn, ok := parseCkptName(e.Name); ok {
			out[lsn] = true
		}
	}
	return out, nil
}

// compactIn is the state a compaction decides on, taken at one LSN.
type compactIn struct {
	sealed []*segment // by id
	metas  map[string]ops.StreamState
	heads  map[string]uint64
	floors map[string]uint64 // raised by planAll
	// kvOldest is each key's oldest kept revision (nil when history is
	// partial or dropped nothing), of the keys whose history the state
	// holds in memory; kvRuns, a copy of the state's kv runs on file
	// descriptors of their own (so that a checkpoint retiring the state's
	// does not close them under the compaction; a follower's are the
	// state's own, see compactInputs), holds the others', at
	// most kvKeep each. A change of the key below it, and at or below
	// kvCompacted (a delete of an absent key makes no version), is
	// superseded and out of history and watch.
	kvOldest    map[string]uint64
	kvRuns      *kvRunSet
	kvShared    bool // kvRuns is the state's own (a follower's), not a copy
	kvCache     *recCache
	kvKeep      int
	kvCompacted uint64
}

// oldestKept gives key's oldest kept revision as of in, false when it
// keeps none.
func (in *compactIn) oldestKept(p *effect.P, key string) (uint64, bool, error) {
	if rev, ok := in.kvOldest[key]; ok || in.kvRuns == nil {
		return rev, ok, nil
	}
	e, ok, err := in.kvRuns.get(p, in.kvCache, key)
	if err != nil || !ok || len(e.revs) == 0 {
		return 0, false, err
	}
	return lastRevs(e.revs, in.kvKeep)[0], true, nil
}

// release closes what in holds open.
func (in *compactIn) release(p *effect.P) {
	if in.kvRuns != nil && !in.kvShared {
		_ = in.kvRuns.close(p)
	}
	in.kvRuns = nil
}

// compactInputs takes the state a compaction decides on; the caller
// holds s.mu, and releases what it gives once done with it.
func (s *Store) compactInputs(p *effect.P) (compactIn, error) {
	in := compactIn{metas: maps.Clone(s.st.ret.meta), floors: maps.Clone(s.cmp.floors)}
	activeID := uint64(0)
	for id := range s.segs {
		activeID = max(activeID, id)
	}
	for id, seg := range s.segs {
		if id < activeID || s.readOnly || s.verify {
			in.sealed = append(in.sealed, seg)
		}
	}
	slices.SortFunc(in.sealed, func(a, b *segment) int { return cmp.Compare(a.id, b.id) })
	if s.readOnly || s.verify {
		// No active segment: the last one may be written still.
		if n := len(in.sealed); n > 0 {
			in.sealed = in.sealed[:n-1]
		}
	}
	in.heads = make(map[string]uint64, len(in.metas))
	for name := range in.metas {
		in.heads[name] = s.st.memHead(name) // in memory: it has metadata
	}
	if in.floors == nil {
		in.floors = map[string]uint64{}
	}
	if h := &s.st.ret.hist; !h.partial && h.compacted > 0 {
		in.kvOldest, in.kvCompacted = make(map[string]uint64, len(h.keys)), h.compacted
		for k, revs := range h.keys {
			if len(revs) > 0 {
				in.kvOldest[k] = revs[0]
			}
		}
		if rs := s.st.kvRuns; rs != nil && s.readOnly {
			// A follower takes no run, so never retires its own, and
			// the writer's checkpoints may have removed their files: the
			// state's descriptors, open until Close, read them.
			in.kvRuns, in.kvShared, in.kvCache, in.kvKeep = rs, true, s.st.kvCache, h.keep()
		} else if rs != nil {
			dup, err := rs.dup(p)
			if err != nil {
				return compactIn{}, fmt.Errorf("file: compact: %w", err)
			}
			in.kvRuns, in.kvCache, in.kvKeep = dup, s.st.kvCache, h.keep()
		}
	}
	return in, nil
}

// ckptRev reads the kv revision that the checkpoint of lsn covers from
// its header, without reading the rest; ok is false for a file that
// does not read as a checkpoint of the current format at lsn. A damaged
// body goes unnoticed here, and needs not: Open passes such a file over.
func (s *Store) ckptRev(p *effect.P, lsn uint64) (rev uint64, ok bool, err error) {
	path := filepath.Join(s.logDir, ckptName(lsn))
	fd, err := openFile(p, path, os.O_RDONLY)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil // deleted since the listing: no fallback
	}
	if err != nil {
		return 0, false, err
	}
	defer closeFile(p, fd)
	b := make([]byte, 40+8*binary.MaxVarintLen64)
	n, err := readFull(p, fd, 0, b)
	if err != nil {
		return 0, false, err
	}
	b = b[:n]
	if len(b) < 40 || [8]byte(b[:8]) != ckptMagic || binary.LittleEndian.Uint32(b[8:]) != ckptVersion || [16]byte(b[24:40]) != s.id {
		return 0, false, nil
	}
	d := decoder{b: b[40:]}
	skip4 := func() { // a fixed-size checksum
		if d.err == nil && len(d.b) < 4 {
			d.err = errPayload
		}
		if d.err == nil {
			d.b = d.b[4:]
		}
	}
	d.uvarint() // segment
	d.uvarint() // offset
	skip4()     // chain
	at := d.uvarint()
	d.uvarint() // last record's offset
	skip4()     // segment checksum
	d.uvarint() // last position
	rev = d.uvarint()
	if d.err != nil || at != lsn {
		return 0, false, nil
	}
	return rev, true, nil
}

// kvFloor is the lowest kv revision any checkpoint Open could start
// from covers: a superseded kv change may leave the disk only when the
// change that superseded it is at or below this, so that no checkpoint
// lies between the two (Verify compares each checkpoint with a full
// replay, which no longer sees the old value). A checkpoint file that
// does not read as one covers nothing and takes the floor to 0; with no
// checkpoint the floor is unbounded (a later one covers all the
// compaction saw). The caller has the checkpoint LSNs, from
// checkpointLSNs.
func (s *Store) kvFloor(p *effect.P, lsns map[uint64]bool) (uint64, error) {
	floor := uint64(math.MaxUint64)
	for lsn := range lsns {
		if lsn == 0 {
			continue // no checkpoint written in this process
		}
		rev, ok, err := s.ckptRev(p, lsn)
		if err != nil {
			return 0, fmt.Errorf("file: read checkpoint of LSN %d: %w", lsn, err)
		}
		if !ok {
			return 0, nil
		}
		floor = min(floor, rev)
	}
	return floor, nil
}

// planAll finds the dead runs of every sealed segment of in, as of now.
func (s *Store) planAll(p *effect.P, in *compactIn, now time.Time, progress func(done, total int)) ([]segPlan, error) {
	hidden := func(stream string, seq uint64, at time.Time) bool {
		if seq < in.floors[stream] {
			return true
		}
		st, ok := in.metas[stream]
		return ok && st.Hides(seq, in.heads[stream], at, now)
	}
	protect, err := s.checkpointLSNs(p)
	if err != nil {
		return nil, err
	}
	var kvGone func(key string, rev uint64) bool
	var kvErr error
	if in.kvOldest != nil {
		floor, err := s.kvFloor(p, protect)
		if err != nil {
			return nil, err
		}
		kvGone = func(key string, rev uint64) bool {
			if rev > in.kvCompacted || kvErr != nil {
				return false
			}
			oldest, ok, err := in.oldestKept(p, key)
			if err != nil {
				kvErr = err // keeps the change; the plan fails below
				return false
			}
			return ok && rev < oldest && oldest <= floor
		}
	}
	var plans []segPlan
	for i, seg := range in.sealed {
		if s.closed.Load() {
			return nil, ops.ErrClosed
		}
		plan, err := s.planSegment(p, seg, hidden, kvGone, in.floors, protect)
		if err == nil {
			err = kvErr
		}
		if err != nil {
			return nil, err
		}
		if len(plan.runs) > 0 {
			plans = append(plans, plan)
		}
		if progress != nil {
			progress(i+1, len(in.sealed))
		}
	}
	return plans, nil
}

// reclaimable predicts the bytes Compact would leave unwritten now (its
// CompactResult.Bytes): it plans as Compact does, reading the sealed
// segments, when some stream has a state; 0 without reading when none
// has.
func (s *Store) reclaimable(p *effect.P, now time.Time) (uint64, error) {
	s.mu.RLock()
	if s.st.ret.meta == nil && (s.st.ret.hist.partial || s.st.ret.hist.compacted == 0) {
		s.mu.RUnlock()
		return 0, nil
	}
	in, err := s.compactInputs(p)
	s.mu.RUnlock()
	if err != nil {
		return 0, err
	}
	defer in.release(p)
	plans, err := s.planAll(p, &in, now, nil)
	if err != nil {
		return 0, err
	}
	var n uint64
	for _, pl := range plans {
		for _, r := range pl.runs {
			n += uint64(r.end-r.start) - uint64(len(r.gap))
		}
	}
	return n, nil
}

// switchSegments puts the rewritten segments in place of the old ones
// and names their gaps, in one pause: no operation is in progress while
// the segments change hands, so no read is left holding an old
// descriptor. The old descriptors are closed after, which frees the
// blocks of the old files.
func (s *Store) switchSegments(p *effect.P, segs []*segment, gaps map[uint32][]gapRun) {
	if len(segs) == 0 {
		return
	}
	olds := make([]*segment, 0, len(segs))
	s.opMu.Lock()
	if s.segs == nil {
		// Closed meanwhile (a Compact called beside Close): the renamed
		// files are in place for the next Open.
		s.opMu.Unlock()
		for _, seg := range segs {
			_ = closeFile(p, seg.fd)
		}
		return
	}
	s.mu.Lock()
	m := map[uint32][]gapRun{}
	if cur := s.cmp.gaps.Load(); cur != nil {
		m = maps.Clone(*cur)
	}
	for _, seg := range segs {
		olds = append(olds, s.segs[seg.id])
		s.segs[seg.id] = seg
		m[uint32(seg.id)] = gaps[uint32(seg.id)]
	}
	s.cmp.gaps.Store(&m)
	s.mu.Unlock()
	s.opMu.Unlock()
	for _, old := range olds {
		_ = closeFile(p, old.fd)
	}
}

// CompactDue runs Compact when the policy of Options.CompactFraction says
// it is due, and reports whether it ran. The estimate is the index's, with
// no IO: per stream with a state, the events below the first its seq
// limits leave visible and above its compaction floor (max-age is not
// counted), against the events stored; and not again before the log has
// grown by a segment since it last ran, since what the estimate counts
// in the active segment or in commits that also hold visible events
// stays. The store starts no goroutine, so
// a host runs CompactDue on a schedule of its own, on a handle of its
// own (a store answers operations meanwhile, as during Compact).
func (s *Store) CompactDue(p *effect.P, opts CompactOptions) (CompactResult, bool, error) {
	if s.opts.CompactFraction <= 0 {
		return CompactResult{}, false, nil
	}
	s.mu.RLock()
	var hidden uint64
	for name, st := range s.st.ret.meta {
		head := s.st.memHead(name) // in memory: it has metadata
		first := min(st.FirstSeq(head), head+1)
		if fl := s.floor(name); fl > 1 {
			first -= min(first-1, fl-1)
		}
		hidden += first - 1
	}
	stored := s.st.events
	grown := s.cmp.dueBytes == 0 || s.bytes-s.cmp.dueBytes >= s.opts.SegmentSize
	s.mu.RUnlock()
	if !grown || stored == 0 || float64(hidden) < s.opts.CompactFraction*float64(stored) {
		return CompactResult{}, false, nil
	}
	res, err := s.Compact(p, opts)
	s.mu.Lock()
	s.cmp.dueBytes = s.bytes
	s.mu.Unlock()
	return res, true, err
}

// Compact runs [Store.Compact] on the operating system; ctx bounds its IO
// (a compaction cut short changes nothing a reader sees, and what it made
// durable stays valid).
func (db *DB) Compact(ctx context.Context, opts CompactOptions) (CompactResult, error) {
	return db.store.Compact(effect.Handle(ctx, db.os), opts)
}

// CompactDue runs [Store.CompactDue] on the operating system.
func (db *DB) CompactDue(ctx context.Context, opts CompactOptions) (CompactResult, bool, error) {
	return db.store.CompactDue(effect.Handle(ctx, db.os), opts)
}
