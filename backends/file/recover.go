package file

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/platform"
)

// RecoveryReport says what Open found and did.
type RecoveryReport struct {
	Created    bool     // the data directory was new
	Segments   int      // segments scanned
	Records    int      // valid records read, headers and seals included
	Commits    int      // commit records replayed
	Events     uint64   // events replayed
	LSN        uint64   // last LSN after recovery
	RemovedTmp []string // leftover temporary files deleted
	// Truncated describes the torn tail cut from the last segment; nil when
	// nothing was cut.
	Truncated *TornTail
	// Rolled is set when the last segment was sealed and recovery began a
	// new one (a crash during a segment roll of format version 1).
	Rolled bool
	// RollUndone names the segment recovery removed because it held only
	// the header a roll had made before the crash stopped it short of
	// sealing the segment before (format version 2); "" when none.
	RollUndone string
	// Checkpoint is the LSN of the store checkpoint recovery started from,
	// 0 when it replayed the whole log.
	Checkpoint uint64
	// CheckpointsSkipped counts checkpoints that did not validate or did
	// not fit the log.
	CheckpointsSkipped int
	// Trusted counts the segments of which recovery read only the header
	// and the seal (or the record the checkpoint ends with), trusting the
	// records between to the checkpoint that covers them (rule 8).
	Trusted  int
	Duration time.Duration
}

// TornTail is a torn write cut from the end of the log.
type TornTail struct {
	File   string // the segment
	Offset int64  // where the cut began: the end of the last valid record
	Bytes  int64  // bytes cut (up to the last non-zero byte)
	KeptIn string // the file holding a copy of the cut bytes
	Reason string // why the first cut record was invalid
}

// readWindow is what a segReader reads at once. Open replays the tail
// through it: with 4 MiB the window was a third of the heap while the
// tail of a store of 10 M one-event commits was replayed, which the
// collector doubled in its goal; 1 MiB reads a segment in 64 reads.
const readWindow = 1 << 20

// segReader reads a segment through a window of buffered bytes.
type segReader struct {
	p      *effect.P
	fd     platform.FD
	path   string
	id     uint64
	size   int64
	buf    []byte
	bufOff int64
	window int // bytes read ahead; readWindow when 0
	// between, when set, is called before each read of the window but
	// the first: a reader beside commits (a checkpoint's) lets the log
	// have the device and the CPU between two windows.
	between func()
}

// at returns up to n bytes at off (fewer only where the file ends).
func (r *segReader) at(off int64, n int) ([]byte, error) {
	if off >= r.bufOff && off+int64(n) <= r.bufOff+int64(len(r.buf)) {
		return r.buf[off-r.bufOff : off-r.bufOff+int64(n)], nil
	}
	window := r.window
	if window == 0 {
		window = readWindow
	}
	want := int64(max(n, window))
	if off+want > r.size {
		want = max(r.size-off, 0)
	}
	if r.between != nil && r.buf != nil {
		r.between() // a window was read before
	}
	if int64(cap(r.buf)) < want {
		r.buf = make([]byte, want)
	}
	got, err := readFull(r.p, r.fd, off, r.buf[:want])
	if err != nil {
		r.buf = r.buf[:0]
		return nil, fmt.Errorf("file: read %s at %d: %w", r.path, off, err)
	}
	r.buf, r.bufOff = r.buf[:got], off
	return r.buf[:min(n, got)], nil
}

var errStop = errors.New("stop")

// scan calls fn for each valid record from offset off until fn returns
// errStop, a record is invalid, or the file ends. It returns where it
// stopped (the end of the last valid record) and why a record there was
// invalid ("" at the end of the file or on errStop).
func (r *segReader) scan(off int64, fn func(off int64, f frame) error) (int64, string, error) {
	for off < r.size {
		b, err := r.at(off, frameSize)
		if err != nil {
			return off, "", err
		}
		if len(b) < frameSize {
			return off, "record frame cut short by the end of the file", nil
		}
		n := frameLen(b)
		if n == 0 {
			return off, "record length out of range", nil
		}
		if b, err = r.at(off, n); err != nil {
			return off, "", err
		}
		f, err := decodeFrame(b)
		if errors.Is(err, errShort) {
			return off, "record cut short by the end of the file", nil
		}
		if err != nil {
			return off, err.Error(), nil
		}
		if f.seg != r.id {
			return off, fmt.Sprintf("record belongs to segment %d", f.seg), nil
		}
		err = fn(off, f)
		ext := recordExtent(f)
		off += ext
		if err == errStop {
			return off, "", nil
		}
		if err != nil {
			return off - ext, "", err
		}
	}
	return off, "", nil
}

// damage examines [from, size) after an invalid record: it reports the end
// of the last non-zero byte (from when all are zero) and the offset of the
// first valid record of this segment found after from (-1 when none).
func (r *segReader) damage(from int64) (int64, int64, error) {
	last := from
	valid := int64(-1)
	for off := from; off < r.size; {
		b, err := r.at(off, int(min(int64(readWindow), r.size-off)))
		if err != nil {
			return 0, 0, err
		}
		if !allZero(b) {
			for i := len(b) - 1; i >= 0; i-- {
				if b[i] != 0 {
					last = off + int64(i) + 1
					break
				}
			}
		}
		off += int64(len(b))
	}
	for off := from + alignment; off+frameSize <= last && valid < 0; off += alignment {
		b, err := r.at(off, frameSize)
		if err != nil {
			return 0, 0, err
		}
		if len(b) < frameSize || b[8] < recHeader || b[8] > recSeal || leUint64(b[16:]) != r.id {
			continue
		}
		n := frameLen(b)
		if n == 0 || off+int64(n) > r.size {
			continue
		}
		if b, err = r.at(off, n); err != nil {
			return 0, 0, err
		}
		if _, err := decodeFrame(b); err == nil {
			valid = off
		}
	}
	return last, valid, nil
}

func leUint64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// replayer checks the records of the log in order and feeds commits to a
// state. Open and Verify share it.
type replayer struct {
	st      *state
	store   [16]byte
	crc     uint32 // crc of the last record
	records int
	commits int
	events  uint64
	version uint32 // format version of the last segment header read
	first   uint64 // LSN of the last segment header read
	sum     uint32 // CRC-32C of the records of that segment read so far
	last    int64  // offset of the last record read
	full    bool   // decode every event (Verify), not just the index fields
	frames  bool   // check frames and the chain only: no decoding, no state
	onRec   func(seg uint64, off int64, f frame, c *commitRec) error
	// p reads the state's kv run, when it has one, to tell whether a
	// change's key had a value (kvRec.had).
	p *effect.P
	// rec is the commit record each record is decoded into, its parts
	// reused (decodeCommitInto).
	rec commitRec
}

// segment returns a scan callback for segment id at path; sealed is set
// when its seal record is read.
func (rp *replayer) segment(path string, id uint64, sealed *bool) func(off int64, f frame) error {
	return func(off int64, f frame) error {
		if f.lsn != rp.st.lsn+1 {
			return corrupt(path, off, "LSN %d does not follow %d", f.lsn, rp.st.lsn)
		}
		if f.prev != rp.crc {
			return corrupt(path, off, "previous-record checksum %08x does not match %08x", f.prev, rp.crc)
		}
		if (off == 0) != (f.typ == recHeader) {
			return corrupt(path, off, "segment header record misplaced")
		}
		var c *commitRec
		lsn, crc, sum := f.lsn, f.crc, crc32.Update(rp.sum, castagnoli, f.raw)
		switch f.typ {
		case recHeader:
			sid, v, err := decodeHeader(f.payload)
			if err != nil {
				return corrupt(path, off, "%v", err)
			}
			rp.version, rp.first, rp.sum = v, f.lsn, 0
			sum = crc32.Update(0, castagnoli, f.raw)
			if sid != rp.store {
				return corrupt(path, off, "segment belongs to another store")
			}
		case recCommit:
			if rp.frames {
				break
			}
			// One commitRec for every record, unless onRec may keep it.
			rec := &rp.rec
			if rp.onRec != nil {
				rec = &commitRec{}
			}
			if err := decodeCommitInto(f.payload, !rp.full, "", rec); err != nil {
				return corrupt(path, off, "%v", err)
			}
			why, err := rp.st.checkLoaded(rp.p, rec)
			if err != nil {
				return err
			}
			if why != "" {
				return corrupt(path, off, "%s", why)
			}
			if id > math.MaxUint32 || off > math.MaxUint32 {
				return corrupt(path, off, "record position out of range")
			}
			if err := rp.st.lookUpHad(rp.p, rec); err != nil {
				return err
			}
			rp.st.apply(rec, loc{seg: uint32(id), off: uint32(off)})
			rp.commits++
			rp.events += uint64(rec.events())
			c = rec
		case recSeal:
			if why := rp.checkSeal(off, f); why != "" {
				return corrupt(path, off, "%s", why)
			}
			*sealed = true
		case recGap:
			var err error
			if lsn, crc, sum, err = rp.replayGap(path, id, off, f); err != nil {
				return err
			}
		}
		if rp.onRec != nil {
			if err := rp.onRec(id, off, f, c); err != nil {
				return err
			}
		}
		rp.st.lsn = lsn
		rp.crc = crc
		rp.sum = sum
		rp.last = off
		rp.records++
		if *sealed {
			return errStop
		}
		return nil
	}
}

// checkSeal tells why the seal f at off does not hold what the records
// before it in its segment do, or "" when it does.
func (rp *replayer) checkSeal(off int64, f frame) string {
	si, err := decodeSeal(f.payload, rp.version)
	switch {
	case err != nil:
		return err.Error()
	case rp.version < segVersion:
		return ""
	case si.firstLSN != rp.first:
		return fmt.Sprintf("the seal names header LSN %d, the segment begins with LSN %d", si.firstLSN, rp.first)
	case si.length != uint64(off):
		return fmt.Sprintf("the seal names a length of %d bytes, it lies at %d", si.length, off)
	case si.sum != rp.sum:
		return fmt.Sprintf("the seal's segment checksum %08x does not match the records', %08x", si.sum, rp.sum)
	case !rp.frames && (si.lastPos != rp.st.lastPos || si.rev != rp.st.rev):
		return fmt.Sprintf("the seal names position %d and revision %d, the log has %d and %d", si.lastPos, si.rev, rp.st.lastPos, rp.st.rev)
	}
	return ""
}

// sealOf is the seal that would end the segment whose records rp has
// read, up to end, at LSN lsn.
func (rp *replayer) sealOf(id uint64, end int64) ([]byte, uint32) {
	si := sealInfo{firstLSN: rp.first, length: uint64(end), sum: rp.sum, lastPos: rp.st.lastPos, rev: rp.st.rev}
	return sealRecord(rp.version, rp.crc, id, rp.st.lsn+1, si)
}

// recover replays the log (rules 3 to 5), from the newest usable store
// checkpoint when there is one, cuts a torn tail, and readies the active
// segment.
func (s *Store) recover(p *effect.P, ids []uint64) error {
	if err := s.loadCompacted(p); err != nil {
		return err
	}
	if len(ids) == 0 && (s.readOnly || s.verify) {
		// The writer has made the identity but not yet segment 1.
		s.follow.rp = &replayer{st: s.st, store: s.id}
		return nil
	}
	if len(ids) == 0 {
		s.report.Created = true
		return s.startSegment(p, 1, 1, 0)
	}
	r, st, ok, err := s.loadCheckpoint(p, ids, 0, nil)
	var damaged []string // runs the replays after checkpoints found damaged
	for ok && err == nil {
		// A checkpoint is written only once the records it covers are
		// durable: a log that does not reach it, or does not match it, has
		// lost acknowledged records, and that is corruption, not a reason
		// to serve a shorter log.
		m := s.markReplay()
		err = s.replay(p, ids, &r, st)
		run := s.damagedRun(err, st)
		if run == "" {
			return err
		}
		// But a block of one of its runs that the replay's lookups read
		// (a stream or kv key of a record after it) and found damaged is
		// a damaged checkpoint, as a run that does not open is: the log
		// holds every record. Take the replay back and pass over this
		// checkpoint and every older one naming that run.
		s.undoReplay(p, m)
		closeRunsOf(p, st)
		s.report.CheckpointsSkipped++
		damaged = append(damaged, run)
		r, st, ok, err = s.loadCheckpoint(p, ids, r.lsn, damaged)
	}
	if err != nil {
		return err
	}
	return s.replay(p, ids, nil, newState())
}

// replayMark is what a replay changes of the store up to where the
// lookups of the records after its checkpoint read the runs: it writes
// nothing before its last segment's records are read (the cut of a torn
// tail, a roll finished or taken back come after), so a replay failing
// there leaves only these to take back, and the segments it opened.
type replayMark struct {
	st     *state
	report RecoveryReport
	bytes  int64
	segs   map[uint64]bool // the segments open before
	ends   map[uint64]int64
}

// markReplay is what undoReplay puts back.
func (s *Store) markReplay() replayMark {
	m := replayMark{st: s.st, report: s.report, bytes: s.bytes, segs: make(map[uint64]bool, len(s.segs)), ends: maps.Clone(s.ends)}
	for id := range s.segs {
		m.segs[id] = true
	}
	return m
}

// undoReplay takes back a replay that failed since m: it closes the
// segments the replay opened and puts back the state, the recovery
// report, the log's byte count and Verify's segment ends. The state the
// replay rebuilt keeps its runs open, for the caller to close.
func (s *Store) undoReplay(p *effect.P, m replayMark) {
	for _, id := range slices.Sorted(maps.Keys(s.segs)) {
		if !m.segs[id] {
			_ = closeFile(p, s.segs[id].fd)
			delete(s.segs, id)
		}
	}
	s.st, s.report, s.bytes, s.ends = m.st, m.report, m.bytes, m.ends
}

// damagedRun gives the run file of st's checkpoint that err names as
// damaged (a *CorruptError of one of its kv or stream runs), "" when err
// names none: a segment's damage, an IO error, no error.
func (s *Store) damagedRun(err error, st *state) string {
	var ce *CorruptError
	if !errors.As(err, &ce) || !s.namesRun(st, ce.File) {
		return ""
	}
	return ce.File
}

// namesRun reports whether st's checkpoint names the run file at path.
func (s *Store) namesRun(st *state, path string) bool {
	for _, ref := range st.kvRefs {
		if path == filepath.Join(s.logDir, kvRunName(ref.gen)) {
			return true
		}
	}
	for _, ref := range st.stRefs {
		if path == filepath.Join(s.logDir, streamRunName(ref.gen)) {
			return true
		}
	}
	return false
}

// replay rebuilds st from the log, after r when it is not nil.
func (s *Store) replay(p *effect.P, ids []uint64, r *resume, st *state) error {
	s.st = st
	if !s.verify && st.ret.hist.setDepth(s.opts.KvHistory) && st.kvRuns != nil {
		if err := st.ret.hist.trimRun(p, st.kvRuns, st.kvCache); err != nil {
			return err
		}
	}
	rebuild := !s.readOnly && st.indexIDs(s.id)
	rp := &replayer{st: st, store: s.id, p: p}
	check := &replayer{st: newState(), store: s.id, frames: true}
	if rebuild {
		// A checkpoint without an ID index (format 1): index the IDs of
		// the records it covers while checking their frames.
		check.onRec = indexCovered(st, s.logDir)
	}
	if ids[0] != 1 {
		return corrupt(filepath.Join(s.logDir, segName(ids[0])), 0, "the log does not begin with segment 1")
	}
	if r != nil {
		rp.crc = r.crc
		s.report.Checkpoint = r.lsn
	} else {
		s.report.Checkpoint = 0
	}
	var window []byte // one read window for every segment's readers
	for i, id := range ids {
		last := i == len(ids)-1
		path := filepath.Join(s.logDir, segName(id))
		if i > 0 && id != ids[i-1]+1 {
			return corrupt(path, 0, "segment %d is missing", ids[i-1]+1)
		}
		fd, err := s.openSegment(p, path)
		if err != nil {
			return fmt.Errorf("file: open segment %d: %w", id, err)
		}
		seg := &segment{id: id, path: path, fd: fd}
		s.segs[id] = seg
		size, err := fileSize(p, path)
		if err != nil {
			return fmt.Errorf("file: stat segment %d: %w", id, err)
		}
		start := int64(0)
		if r != nil && id <= r.seg {
			// Covered by the checkpoint: check every frame and the chain
			// up to the resume point, without rebuilding anything.
			stop := size
			if id == r.seg {
				stop = r.off
			}
			if stop > size {
				return corrupt(path, size, "the log ends before the checkpoint at offset %d", r.off)
			}
			trusted, err := s.trustCovered(p, fd, path, id, size, r, check)
			if err != nil {
				return err
			}
			if trusted {
				s.bytes += stop
				if id < r.seg {
					s.report.Segments++
					if s.verify {
						s.ends[id] = size
					}
					continue
				}
				start = r.off
				rp.version, rp.first, rp.sum, rp.last = check.version, check.first, r.sum, r.last
			}
		}
		if r != nil && id <= r.seg && start == 0 {
			stop := size
			if id == r.seg {
				stop = r.off
			}
			rd := &segReader{p: p, fd: fd, path: path, id: id, size: stop, buf: window[:0]}
			sealed := false
			end, bad, err := rd.scan(0, check.segment(path, id, &sealed))
			window = rd.buf
			if id < r.seg {
				s.report.Segments++
			}
			if err != nil {
				return err
			}
			s.bytes += end
			switch {
			case bad != "":
				return corrupt(path, end, "%s", bad)
			case id < r.seg && !sealed:
				return corrupt(path, end, "sealed segment has no seal record")
			case end != stop:
				return corrupt(path, end, "%d bytes after the seal record", stop-end)
			}
			if id < r.seg {
				if s.verify {
					s.ends[id] = end
				}
				continue
			}
			if check.st.lsn != r.lsn || check.crc != r.crc {
				return corrupt(path, r.off, "the log does not match the checkpoint of LSN %d", r.lsn)
			}
			start = r.off
			rp.version, rp.first, rp.sum, rp.last = check.version, check.first, check.sum, check.last
		}
		rd := &segReader{p: p, fd: fd, path: path, id: id, size: size, buf: window[:0]}
		sealed := false
		end, bad, err := rd.scan(start, rp.segment(path, id, &sealed))
		window = rd.buf
		s.report.Segments++
		if err != nil {
			return err
		}
		s.bytes += end - start
		version := rp.version
		undone := ""
		if !last && !sealed && i == len(ids)-2 {
			// An unsealed segment before the last one: a roll (format
			// version 2) that made its successor and stopped before the
			// seal, when the successor holds only its header, made for
			// this segment's end. Then this segment is the last.
			next := filepath.Join(s.logDir, segName(ids[i+1]))
			ok, err := s.interruptedRoll(p, next, ids[i+1], id, end, rp)
			if err != nil {
				return err
			}
			switch {
			case ok:
				last, undone = true, next
			case s.readOnly:
				// The writer may have sealed it since it was read: a
				// commit goes into the successor only after the seal.
				size, err = fileSize(p, path)
				if err != nil {
					return fmt.Errorf("file: stat segment %d: %w", id, err)
				}
				again := &segReader{p: p, fd: fd, path: path, id: id, size: size}
				more, why, err := again.scan(end, rp.segment(path, id, &sealed))
				if err != nil {
					return err
				}
				s.bytes += more - end
				end, bad = more, why
			}
		}
		if s.verify {
			s.ends[id] = end
		}
		if !last {
			switch {
			case bad != "":
				return corrupt(path, end, "%s", bad)
			case !sealed:
				return corrupt(path, end, "sealed segment has no seal record")
			case end != size:
				return corrupt(path, end, "%d bytes after the seal record", size-end)
			}
			continue
		}
		if sealed && version >= segVersion2 {
			// A sealed segment of version 2 proves its successor durable.
			next := filepath.Join(s.logDir, segName(id+1))
			found := false
			if s.readOnly {
				// Made before the seal, perhaps after the listing.
				if found, err = exists(p, next); err != nil {
					return fmt.Errorf("file: stat segment %d: %w", id+1, err)
				}
			}
			if !found {
				return corrupt(path, end-int64(sealSizeOf(version)), "segment %d is sealed, but its successor %s is missing", id, next)
			}
		}
		if s.readOnly {
			// Another process may be writing this segment: the first
			// record that does not validate is the current end, never a
			// tail to cut (see follow.go).
			s.follow.seg, s.follow.end, s.follow.sealed, s.follow.rp = seg, end, sealed, rp
			break
		}
		if end == 0 {
			return corrupt(path, 0, "segment header: %s", bad)
		}
		if err := s.recoverTail(p, rd, end, bad, sealed, version, rp); err != nil {
			return err
		}
		s.headerEnd = int64(recordSize(32))
		s.active, s.off, s.lastCRC = seg, end, rp.crc
		seg.version, seg.first = version, rp.first
		s.segSum, s.lastOff = rp.sum, rp.last
		if undone != "" {
			// Take the roll back: this segment stays the active one.
			s.report.RollUndone = undone
			if !s.verify {
				if err := remove(p, undone); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("file: remove %s: %w", undone, err)
				}
				if err := syncDir(p, s.logDir); err != nil {
					return fmt.Errorf("file: sync log directory: %w", err)
				}
			}
			break
		}
		if sealed {
			// A crash during a roll of version 1: the seal is durable, the
			// next segment is not. Finish the roll.
			s.report.Rolled = true
			if !s.verify {
				if err := s.startSegment(p, id+1, s.st.lsn+1, rp.crc); err != nil {
					return err
				}
			}
		}
	}
	s.report.Records = check.records + rp.records
	s.report.Commits = rp.commits
	s.report.Events = rp.events
	s.report.LSN = s.st.lsn
	if r != nil {
		s.ckMu.Lock()
		s.ckptLSN, s.ckptBytes = r.lsn, s.bytes
		s.ckMu.Unlock()
	}
	return nil
}

// recoverTail applies rule 4 to the last segment, whose valid records end
// at end.
func (s *Store) recoverTail(p *effect.P, r *segReader, end int64, bad string, sealed bool, version uint32, rp *replayer) error {
	s.reserved = r.size
	if end == r.size {
		return nil
	}
	last, valid, err := examineTail(p, r, end)
	if err != nil {
		return err
	}
	if last == end {
		if sealed && !s.verify {
			// The seal is durable but the cut of the reserved tail behind
			// it may not be: cut again, so the segment ends at its seal
			// once it is no longer the last.
			if err := s.cut(p, r, end); err != nil {
				return err
			}
		}
		return nil // the zeros of the reserved tail: the end of the log
	}
	if sealed {
		return corrupt(r.path, end, "%d bytes after the seal record", last-end)
	}
	if valid >= 0 {
		return corrupt(r.path, end, "%s, and a valid record follows at offset %d", bad, valid)
	}
	if last-end > s.opts.maxUnsynced() {
		return corrupt(r.path, end, "%s, and the damage spans %d bytes, more than one write", bad, last-end)
	}
	if version >= segVersion2 {
		if why := cutAtRest(r, end, rp); why != "" {
			return corrupt(r.path, end, "%s", why)
		}
	}
	if s.verify {
		s.report.Truncated = &TornTail{File: r.path, Offset: end, Bytes: last - end, Reason: bad}
		return nil
	}
	// A torn tail: keep a copy of the cut bytes, then cut.
	cut := make([]byte, last-end)
	n, err := readFull(p, r.fd, end, cut)
	if err != nil {
		return fmt.Errorf("file: read torn tail of %s: %w", r.path, err)
	}
	kept := fmt.Sprintf("%s.torn-%d", r.path, end)
	if err := writeFileAtomic(p, kept, cut[:n]); err != nil {
		return fmt.Errorf("file: keep torn tail: %w", err)
	}
	if err := s.cut(p, r, end); err != nil {
		return err
	}
	s.report.Truncated = &TornTail{File: r.path, Offset: end, Bytes: last - end, KeptIn: kept, Reason: bad}
	return nil
}

// cutAtRest tells why the damage at end of a last segment of version 2,
// whose last non-zero byte lies beyond end, cannot be a torn write: the
// file ends inside a record frame, or inside a record whose frame follows
// the log (its segment, LSN and chain). Such a segment holds every record
// within a size made durable before the record was written, so it was cut
// at rest. It answers "" when a crash can leave the damage.
func cutAtRest(r *segReader, end int64, rp *replayer) string {
	rest := r.size - end
	b, err := r.at(end, frameSize)
	if err != nil {
		return ""
	}
	if len(b) < frameSize {
		return fmt.Sprintf("the segment ends %d bytes into a record frame: cut at rest, not a torn write", rest)
	}
	n := frameLen(b)
	if n == 0 || b[8] < recHeader || b[8] > recSeal || b[9]|b[10]|b[11] != 0 {
		return ""
	}
	lsn := leUint64(b[24:])
	if leUint64(b[16:]) != r.id || lsn != rp.st.lsn+1 || binary.LittleEndian.Uint32(b[12:]) != rp.crc {
		return ""
	}
	if end+int64(n) <= r.size {
		return ""
	}
	return fmt.Sprintf("the segment ends inside the record of LSN %d, %d of its %d bytes present: cut at rest, not a torn write", lsn, rest, n)
}

// interruptedRoll reports whether the segment next (id nextID) is what a
// roll of format version 2 leaves when it stops before the seal of segment
// id, whose valid records rp has read up to end: a header of version 2 or
// later with the LSN and chain of a seal at the end of those records, and
// only zeros after it.
func (s *Store) interruptedRoll(p *effect.P, next string, nextID, id uint64, end int64, rp *replayer) (bool, error) {
	size, err := fileSize(p, next)
	if err != nil {
		return false, fmt.Errorf("file: stat segment %d: %w", nextID, err)
	}
	fd, err := openFile(p, next, os.O_RDONLY)
	if err != nil {
		return false, fmt.Errorf("file: open segment %d: %w", nextID, err)
	}
	defer func() { _ = closeFile(p, fd) }()
	r := &segReader{p: p, fd: fd, path: next, id: nextID, size: size}
	hdr := int64(recordSize(32))
	b, err := r.at(0, int(hdr))
	if err != nil {
		return false, err
	}
	f, err := decodeFrame(b)
	if err != nil || f.typ != recHeader || f.seg != nextID {
		return false, nil
	}
	_, sealCRC := rp.sealOf(id, end)
	sid, v, err := decodeHeader(f.payload)
	if err != nil || sid != s.id || v < segVersion2 || f.lsn != rp.st.lsn+2 || f.prev != sealCRC {
		return false, nil
	}
	last, _, err := r.damage(hdr)
	if err != nil {
		return false, err
	}
	return last == hdr, nil
}

// cut truncates the segment r reads to end, durably.
func (s *Store) cut(p *effect.P, r *segReader, end int64) error {
	if _, err := effect.Perform(p, platform.Truncate{FD: r.fd, Size: end}); err != nil {
		return fmt.Errorf("file: cut %s: %w", r.path, err)
	}
	if err := fsync(p, r.fd); err != nil {
		return fmt.Errorf("file: sync cut %s: %w", r.path, err)
	}
	s.reserved = end
	return nil
}

// examineTail examines what follows the last valid record of a segment,
// at end (see damage), twice: the second time through fresh reads, which
// must agree with the first, that the record at end is invalid, where the
// damage ends and whether a valid record follows. So one misdirected or
// misread read cannot make the log look shorter than it is.
func examineTail(p *effect.P, r *segReader, end int64) (int64, int64, error) {
	last, valid, err := r.damage(end)
	if err != nil {
		return 0, 0, err
	}
	again := &segReader{p: p, fd: r.fd, path: r.path, id: r.id, size: r.size}
	if again.validAt(end) {
		return 0, 0, corrupt(r.path, end, "two reads of the end of the log disagree")
	}
	last2, valid2, err := again.damage(end)
	if err != nil {
		return 0, 0, err
	}
	if last2 != last || valid2 != valid {
		return 0, 0, corrupt(r.path, end, "two reads of the end of the log disagree")
	}
	return last, valid, nil
}

// validAt reports whether a valid record of this segment starts at off.
func (r *segReader) validAt(off int64) bool {
	b, err := r.at(off, frameSize)
	if err != nil || len(b) < frameSize {
		return false
	}
	n := frameLen(b)
	if n == 0 {
		return false
	}
	if b, err = r.at(off, n); err != nil {
		return false
	}
	f, err := decodeFrame(b)
	return err == nil && f.seg == r.id
}

// startSegment creates segment id (makeSegment) and makes it the active
// segment.
func (s *Store) startSegment(p *effect.P, id, lsn uint64, prev uint32) error {
	seg, hdr, crc, err := s.makeSegment(p, id, lsn, prev)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.segs[id] = seg
	s.st.lsn = lsn
	s.bytes += hdr
	s.mu.Unlock()
	s.active, s.off, s.reserved, s.lastCRC = seg, hdr, s.opts.SegmentSize, crc
	s.headerEnd, s.lastOff, s.segSum = hdr, 0, seg.hdrSum
	return nil
}

// makeSegment creates segment id, whose header has LSN lsn and follows the
// record with checksum prev: header written to a temporary file with the
// segment's full size reserved, synced, renamed into place, directory
// synced. It gives the open segment, the header's size and its checksum;
// on failure it removes what it made.
func (s *Store) makeSegment(p *effect.P, id, lsn uint64, prev uint32) (*segment, int64, uint32, error) {
	if id > math.MaxUint32 {
		return nil, 0, 0, fmt.Errorf("file: segment id %d out of range", id)
	}
	path := filepath.Join(s.logDir, segName(id))
	tmp := path + tmpSuffix
	fd, err := openFile(p, tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("file: create segment %d: %w", id, err)
	}
	rec, crc := appendRecord(nil, recHeader, prev, id, lsn, func(b []byte) []byte { return headerPayload(b, s.id) })
	err = func() error {
		if _, err := effect.Perform(p, platform.Fallocate{FD: fd, Off: 0, Len: s.opts.SegmentSize}); err != nil {
			return err
		}
		if err := writeAt(p, fd, 0, rec); err != nil {
			return err
		}
		if err := fsync(p, fd); err != nil {
			return err
		}
		if _, err := effect.Perform(p, platform.Rename{From: tmp, To: path}); err != nil {
			return err
		}
		return syncDir(p, s.logDir)
	}()
	if err != nil {
		// Take the segment back, so that neither a reopen nor a recovery
		// after a crash finds a header that may never be durable.
		_ = closeFile(p, fd)
		for _, f := range []string{tmp, path} {
			if rerr := remove(p, f); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				err = errors.Join(err, rerr)
			}
		}
		_ = syncDir(p, s.logDir)
		return nil, 0, 0, fmt.Errorf("file: create segment %d: %w", id, err)
	}
	seg := &segment{id: id, path: path, fd: fd, version: segVersion, first: lsn, hdrSum: crc32.Checksum(rec, castagnoli)}
	return seg, int64(len(rec)), crc, nil
}

// trustCovered applies rule 8 to segment id (of size bytes), which the
// checkpoint r covers up to r.off, or entirely when id is before r.seg:
// when the checkpoint is of format 3 or later and the segment of version 3, it
// checks the segment's header against the chain check has followed, and
// then only its seal (a segment before r.seg) or the record the
// checkpoint ends with (segment r.seg), not the records between: what
// the seal records of them (Verify checks it) and the frame check of
// every read stand for them. It advances check past what it trusts and
// reports true; it reports false, having read nothing into check, when
// the segment or the checkpoint is of an older format, whose records are
// then checked as frames.
func (s *Store) trustCovered(p *effect.P, fd platform.FD, path string, id uint64, size int64, r *resume, check *replayer) (bool, error) {
	if r.version < ckptVersion3 {
		return false, nil
	}
	hdrSize := int64(recordSize(32))
	rd := &segReader{p: p, fd: fd, path: path, id: id, size: size, window: int(hdrSize)}
	b, err := rd.at(0, int(hdrSize))
	if err != nil {
		return false, err
	}
	hdr, err := decodeFrame(b)
	if err != nil || hdr.typ != recHeader {
		return false, nil // the frame scan names the damage
	}
	if _, v, err := decodeHeader(hdr.payload); err != nil || v < segVersion {
		return false, nil
	}
	sealed := false
	_, bad, err := rd.scan(0, func(off int64, f frame) error {
		if err := check.segment(path, id, &sealed)(off, f); err != nil {
			return err
		}
		return errStop
	})
	if err != nil || bad != "" {
		return false, err // a bad header: the frame scan names it
	}
	s.report.Trusted++
	if id < r.seg {
		sealOff := size - int64(sealSize)
		if sealOff < hdrSize {
			return false, corrupt(path, hdrSize, "sealed segment has no seal record")
		}
		rd.window = sealSize
		b, err := rd.at(sealOff, sealSize)
		if err != nil {
			return false, err
		}
		f, err := decodeFrame(b)
		switch {
		case err != nil:
			return false, corrupt(path, sealOff, "sealed segment does not end in its seal record: %v", err)
		case f.typ != recSeal || f.seg != id:
			return false, corrupt(path, sealOff, "sealed segment does not end in its seal record")
		case f.lsn <= hdr.lsn:
			return false, corrupt(path, sealOff, "seal LSN %d does not follow the header's %d", f.lsn, hdr.lsn)
		}
		si, err := decodeSeal(f.payload, segVersion)
		switch {
		case err != nil:
			return false, corrupt(path, sealOff, "%v", err)
		case si.firstLSN != hdr.lsn || si.length != uint64(sealOff):
			return false, corrupt(path, sealOff, "the seal names header LSN %d and length %d, the segment has %d and %d", si.firstLSN, si.length, hdr.lsn, sealOff)
		}
		check.st.lsn, check.crc, check.last = f.lsn, f.crc, sealOff
		check.records++
		return true, nil
	}
	// The segment the checkpoint ends in: the record it ends with must be
	// where it says, with its LSN and checksum.
	last := hdr
	if r.last > 0 {
		rd.window = frameSize
		b, err := rd.at(r.last, frameSize)
		if err == nil && len(b) == frameSize && frameLen(b) > 0 {
			b, err = rd.at(r.last, frameLen(b))
		}
		if err != nil {
			return false, err
		}
		if last, err = decodeFrame(b); err != nil {
			return false, corrupt(path, r.last, "the record the checkpoint of LSN %d ends with: %v", r.lsn, err)
		}
		if r.last < hdrSize || last.seg != id || last.typ != recCommit {
			return false, corrupt(path, r.last, "the log does not match the checkpoint of LSN %d", r.lsn)
		}
		check.records++
	}
	if last.lsn != r.lsn || last.crc != r.crc || r.last+int64(last.size) != r.off {
		return false, corrupt(path, r.off, "the log does not match the checkpoint of LSN %d", r.lsn)
	}
	check.st.lsn, check.crc, check.last = r.lsn, r.crc, r.last
	return true, nil
}
