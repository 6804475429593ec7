package file

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// VerifyReport is what Verify checked.
type VerifyReport struct {
	Segments    int
	Records     int
	Commits     int
	Events      uint64
	Streams     int
	KvKeys      int
	LSN         uint64
	LogBytes    int64
	Snapshots   int // snapshot files that validate
	Checkpoints int // store checkpoint files that validate
	// Checkpoint is the LSN of the store checkpoint Open would start from,
	// 0 when it would replay the whole log.
	Checkpoint uint64
	// TornTail is a torn write at the end of the log that the next Open
	// will cut; nil when the log ends cleanly.
	TornTail *TornTail
	// Rolled is set when the next Open will finish an interrupted segment
	// roll (format version 1); RollUndone names the header-only segment it
	// will remove to take one back (format version 2).
	Rolled     bool
	RollUndone string
	// Skipped lists damaged checkpoint and snapshot files that Open and
	// SnapshotRead pass over for an older good one: not an error, but
	// worth knowing.
	Skipped []*CorruptError
	// Indexes counts the segment index files the checkpoint Open would
	// use names, each checked against the index its segment builds;
	// IndexesBad lists those missing or damaged, which reads rebuild
	// from their segments and the next checkpoint rewrites: not an
	// error either.
	Indexes    int
	IndexesBad []*CorruptError
	// Live is set when another process held the store open for writing:
	// Verify then checked the log below the end it found at its start, as
	// a read-only follower sees it, and left the tail to the writer.
	Live bool
}

var errHalt = errors.New("halt")

// Verify checks the store in dir, changing nothing. It decides as Open
// would recover it, with the same rules and the same verdict: a store Open
// refuses is an error matching ErrCorrupt naming the same file and offset;
// a torn tail Open would cut is reported (TornTail), as is a roll Open
// would finish or take back. It checks every store checkpoint and uses
// the one Open would use, as Open does. Then it checks more than Open:
// it reads and decodes every record of every segment (frames, checksums,
// the chain, LSNs, seqs, positions, revisions, every event's encoding),
// requires the index the checkpoint Open would use to equal the one the
// full replay builds up to the same record, and checks every snapshot
// file; a snapshot name none of whose generations validates is ErrCorrupt
// naming the newest, as SnapshotRead would answer.
//
// When no other process has the store open, Verify holds its lock while it
// runs, so that no writer starts meanwhile, and its answer is exact. When
// another process holds it (a live store), Verify works as a read-only
// follower does: it takes the end of the log it finds at its start (the
// first record of the last segment that does not validate) and checks
// everything below it, never what the writer is writing; it gives no false
// alarm, and Live is set. This is the entry point for checking a store
// from the command line, live or not.
func Verify(p *effect.P, dir string) (VerifyReport, error) {
	var rep VerifyReport
	v, err := openVerify(p, dir)
	if v != nil {
		defer v.release(p)
	}
	if err != nil {
		return rep, err
	}
	rep.Live = v.readOnly
	rep.Checkpoint = v.report.Checkpoint
	rep.TornTail = v.report.Truncated
	rep.Rolled, rep.RollUndone = v.report.Rolled, v.report.RollUndone
	rp := &replayer{st: newState(), store: v.id, full: true}
	if rep.Checkpoint > 0 {
		// More than Open: the index the checkpoint holds must be the one
		// a full replay builds up to the same record.
		path := filepath.Join(v.logDir, ckptName(rep.Checkpoint))
		b, err := readFile(p, path)
		if err != nil && !(v.readOnly && errors.Is(err, fs.ErrNotExist)) {
			return rep, fmt.Errorf("file: read checkpoint: %w", err)
		}
		if err == nil {
			r, ck, err := decodeCheckpoint(b, v.id)
			if err == nil {
				err = v.loadKvRunOf(p, ck)
			}
			if err == nil {
				// The stream runs read whole, their heads into ck's
				// streams, compared below with the replay's.
				err = v.openStreamRunOf(p, ck, true)
				_ = ck.stRuns.close(p)
				ck.stRuns = nil
			}
			// The writer removed the checkpoint, then its run, since
			// Open read it: nothing is left to compare.
			gone := errors.Is(err, fs.ErrNotExist) && v.removedBeside(p, rep.Checkpoint)
			if gone {
				err = nil
			}
			if err == nil && !gone && ck.ids != nil {
				rp.st.indexIDs(v.id) // to compare the ID index too
			}
			if err == nil && !gone {
				// The ID entries of index files of version 2, to
				// compare those files whole.
				var segs []uint32
				for _, e := range ck.indexed {
					if e.ids {
						segs = append(segs, e.seg)
					}
				}
				if len(segs) > 0 {
					rp.st.idLog = newIDLog(v.id, segs)
				}
			}
			if err != nil {
				return rep, corrupt(path, 0, "%v", err)
			}
			if !gone {
				rp.onRec = func(seg uint64, off int64, f frame, _ *commitRec) error {
					if f.lsn != ck.lsn {
						return nil
					}
					why, err := v.expandIndexed(p, ck, rp.st, &rep)
					rp.st.idLog = nil // what it collected is checked
					if err != nil {
						return err
					}
					if why == "" {
						why = sameIndex(ck, rp.st)
					}
					if why != "" {
						return corrupt(path, 0, "the checkpoint's index differs from the log's: %s", why)
					}
					// And where it says its last record lies, and the
					// checksum of its segment up to there (format 3).
					if sum := crc32.Update(rp.sum, castagnoli, f.raw); r.version >= ckptVersion3 && (seg != r.seg || off != r.last || sum != r.sum) {
						return corrupt(path, 0, "the checkpoint names its last record at segment %d offset %d and a segment checksum %08x; the log has %d, %d and %08x",
							r.seg, r.last, r.sum, seg, off, sum)
					}
					return nil
				}
			}
		}
	}
	if err := v.walk(p, rp, v.ends, nil); err != nil {
		return rep, err
	}
	rep.Segments = len(v.ends)
	rep.LogBytes = 0
	for _, end := range v.ends {
		rep.LogBytes += end
	}
	rep.Records, rep.Commits, rep.Events = rp.records, rp.commits, rp.events
	rep.LSN = rp.st.lsn
	rep.Streams, rep.KvKeys = rp.st.streamCount(), rp.st.kvLive
	if rep.LSN != v.st.lsn {
		// Open's replay and the full one disagree: a checkpoint that
		// does not hold what the log does.
		return rep, corrupt(filepath.Join(v.logDir, ckptName(rep.Checkpoint)), 0,
			"the checkpoint leads to LSN %d, the log to LSN %d", v.st.lsn, rep.LSN)
	}
	if err := v.verifyCheckpoints(p, &rep); err != nil {
		return rep, err
	}
	if err := v.verifySnapshots(p, &rep); err != nil {
		return rep, err
	}
	return rep, nil
}

// sameIndex tells how the index a checkpoint holds differs from the one a
// replay built (its LSN aside), or "" when they agree.
func sameIndex(ck, st *state) string {
	switch {
	case ck.lastPos != st.lastPos || ck.rev != st.rev || ck.events != st.events || ck.commits != st.commits || ck.lastAt != st.lastAt:
		return fmt.Sprintf("counters (position %d, revision %d, events %d, commits %d) where the log has (%d, %d, %d, %d)",
			ck.lastPos, ck.rev, ck.events, ck.commits, st.lastPos, st.rev, st.events, st.commits)
	case len(ck.streams) != len(st.streams):
		return fmt.Sprintf("%d streams where the log has %d", len(ck.streams), len(st.streams))
	case !ck.positions.equal(&st.positions):
		return "the position index"
	case len(ck.kv) != len(st.kv):
		return fmt.Sprintf("%d kv keys where the log has %d", len(ck.kv), len(st.kv))
	}
	if ck.ids != nil && st.ids != nil && !ck.ids.Same(st.ids) {
		return "the event ID index"
	}
	if why := ck.ret.sameAs(&st.ret); why != "" {
		return why
	}
	for name, a := range ck.streams {
		b := st.streams[name]
		if b == nil || a.head != b.head || !a.chunks.equal(&b.chunks) || b.dir != 0 && a.dir != b.dir {
			return fmt.Sprintf("stream %q", name)
		}
	}
	for key, a := range ck.kv {
		b := st.kv[key]
		if b == nil || a.rev != b.rev || !bytes.Equal(a.value, b.value) {
			return fmt.Sprintf("kv key %q", key)
		}
	}
	return ""
}

// openVerify runs the recovery of Open on the store in dir in a mode that
// writes nothing (see Verify), recording where each segment's valid
// records end. It returns the store to release even with an error.
func openVerify(p *effect.P, dir string) (*Store, error) {
	opts, _ := Options{}.withDefaults()
	s := newStore(dir, opts)
	s.verify = true
	s.ends = make(map[uint64]int64)
	if ok, err := exists(p, dir); err != nil || !ok {
		if err == nil {
			err = fs.ErrNotExist
		}
		return s, fmt.Errorf("file: verify %s: %w", dir, err)
	}
	segIDs, err := listSegments(p, s.logDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return s, err
	}
	idPath := filepath.Join(dir, identityFile)
	id, err := readIdentity(p, idPath)
	switch {
	case errors.Is(err, fs.ErrNotExist) && len(segIDs) > 0:
		return s, corrupt(idPath, 0, "missing, but the log has segments")
	case errors.Is(err, fs.ErrNotExist):
		return s, fmt.Errorf("file: verify %s: no store there (no %s): %w", dir, identityFile, err)
	case err != nil:
		return s, err
	}
	s.id = id
	// Hold the lock, or learn that a writer holds it. Only a LOCK file
	// that exists is locked: Verify creates nothing.
	lockPath := filepath.Join(dir, lockFile)
	if ok, err := exists(p, lockPath); err == nil && ok {
		fd, err := effect.Perform(p, platform.Lock{Path: lockPath})
		switch {
		case errors.Is(err, platform.ErrLocked):
			s.readOnly, s.snaps.follow = true, true
		case err == nil:
			s.lockFD = fd
		}
	}
	if s.readOnly {
		// List again: the writer may have rolled before it locked out.
		if segIDs, err = listSegments(p, s.logDir); err != nil {
			return s, err
		}
	}
	if err := s.recover(p, segIDs); err != nil {
		return s, err
	}
	return s, nil
}

// walk reads every record of the segments of v.ends up to their ends (the
// segment stop names up to offset at), checking each as replay does with
// rp, which decodes every event.
func (s *Store) walk(p *effect.P, rp *replayer, ends map[uint64]int64, stop *CorruptError) error {
	ids := make([]uint64, 0, len(ends))
	for id := range ends {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	if stop != nil {
		for id := uint64(1); ; id++ {
			if _, ok := ends[id]; ok {
				continue
			}
			if filepath.Join(s.logDir, segName(id)) == stop.File {
				ids = append(ids, id)
			}
			break
		}
	}
	for _, id := range ids {
		path := filepath.Join(s.logDir, segName(id))
		end, ok := ends[id]
		if stop != nil && path == stop.File {
			end, ok = stop.Offset, true
		}
		if !ok {
			break
		}
		err := func() error {
			fd, err := openFile(p, path, os.O_RDONLY)
			if err != nil {
				return fmt.Errorf("file: open segment %d: %w", id, err)
			}
			defer func() { _ = closeFile(p, fd) }()
			r := &segReader{p: p, fd: fd, path: path, id: id, size: end}
			sealed := false
			got, bad, err := r.scan(0, rp.segment(path, id, &sealed))
			if err != nil {
				return err
			}
			if bad != "" {
				return corrupt(path, got, "%s", bad)
			}
			return nil
		}()
		if err != nil {
			return err
		}
		if stop != nil && path == stop.File {
			break
		}
	}
	return nil
}

// removedBeside reports whether the checkpoint of lsn is gone from a
// store a writer holds (Verify beside it). A writer removes a checkpoint
// before the kv run only it named, so a run missing beside a checkpoint
// still there is damage, and beside one gone is the writer's doing.
func (s *Store) removedBeside(p *effect.P, lsn uint64) bool {
	if !s.readOnly {
		return false
	}
	lsns, err := listCheckpoints(p, s.logDir)
	return err == nil && !slices.Contains(lsns, lsn)
}

// verifyCheckpoints checks every store checkpoint file: one that does not
// validate is skipped by Open, and listed.
func (s *Store) verifyCheckpoints(p *effect.P, rep *VerifyReport) error {
	lsns, err := listCheckpoints(p, s.logDir)
	if err != nil {
		return fmt.Errorf("file: list checkpoints: %w", err)
	}
	for _, lsn := range lsns {
		path := filepath.Join(s.logDir, ckptName(lsn))
		b, err := readFile(p, path)
		if s.readOnly && errors.Is(err, fs.ErrNotExist) {
			continue // the writer removed it since the listing
		}
		if err != nil {
			return fmt.Errorf("file: read checkpoint: %w", err)
		}
		r, st, err := decodeCheckpoint(b, s.id)
		if err == nil && r.lsn != lsn {
			err = fmt.Errorf("covers LSN %d, named %d", r.lsn, lsn)
		}
		if err == nil {
			// The kv run it names, checked whole: a bad one passes the
			// checkpoint over as a bad checkpoint file does.
			var ce *CorruptError
			var missing *kvRunMissing
			var stMissing *streamRunMissing
			err := s.checkKvRunOf(p, st)
			if err == nil {
				// And the stream runs, read whole.
				_ = st.kvRuns.close(p)
				st.kvRuns = nil
				err = s.openStreamRunOf(p, st, true)
				if errors.As(err, &stMissing) {
					missing = &kvRunMissing{path: stMissing.path, err: stMissing.err}
				}
				_ = st.stRuns.close(p)
			}
			if errors.Is(err, fs.ErrNotExist) && s.removedBeside(p, lsn) {
				continue // the writer removed the checkpoint, then its run
			}
			if errors.As(err, &ce) || stMissing != nil || errors.As(err, &missing) {
				if ce == nil {
					what := "kv"
					if stMissing != nil {
						what = "stream"
					}
					ce = &CorruptError{File: missing.path, Reason: "the " + what + " run named by " + ckptName(lsn) + " is missing"}
				}
				rep.Skipped = append(rep.Skipped, ce)
				continue
			} else if err != nil {
				return fmt.Errorf("file: check the kv run of %s: %w", path, err)
			}
			_ = st.kvRuns.close(p)
		}
		if err != nil {
			rep.Skipped = append(rep.Skipped, &CorruptError{File: path, Reason: err.Error()})
			continue
		}
		rep.Checkpoints++
	}
	return nil
}

// verifySnapshots checks every snapshot file, kept generations, the
// fallback and files an interrupted write left alike: the damaged ones
// are listed; a name none of whose files a SnapshotRead would serve
// (the kept generations and the fallback) validates is ErrCorrupt naming
// the newest.
func (s *Store) verifySnapshots(p *effect.P, rep *VerifyReport) error {
	if err := s.snaps.load(p, s.snapDir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	keys := make([]string, 0, len(s.snaps.files))
	for k := range s.snaps.files {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		files := s.snaps.files[key]
		var bad []*CorruptError
		good := false
		served := make(map[string]bool)
		for _, f := range candidates(files) {
			served[f.path] = true
		}
		for i := len(files) - 1; i >= 0; i-- {
			_, err := readSnap(p, files[i], key)
			if s.readOnly && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			var ce *CorruptError
			if errors.As(err, &ce) {
				bad = append(bad, ce)
				continue
			}
			if err != nil {
				return fmt.Errorf("file: read snapshot: %w", err)
			}
			good = good || served[files[i].path]
			rep.Snapshots++
		}
		if !good && len(bad) > 0 {
			return bad[0]
		}
		rep.Skipped = append(rep.Skipped, bad...)
	}
	return nil
}

// Record is one record of the log, as Dump yields it.
type Record struct {
	File    string
	Segment uint64
	Offset  int64
	Type    string // "header", "commit" or "seal"
	LSN     uint64
	CRC     uint32
	PrevCRC uint32
	Size    int // bytes on disk, padding included
	// For a commit: its time, kv revision (0 without kv changes), events
	// (with their seqs and positions) and kv changes.
	At       time.Time
	Revision uint64
	Events   []ops.Event
	Kv       []ops.KvChange
}

var typeNames = map[uint8]string{recHeader: "header", recCommit: "commit", recSeal: "seal", recGap: "gap"}

// Dump yields every record of the store in dir in log order, checking each
// as Verify does. It first decides as Verify does where the log ends (so
// beside a live writer it works below the end it found at its start, and
// a torn tail Open would cut is not yielded); damage yields the records
// before it, then an error matching ErrCorrupt that names it, and ends the
// sequence. It changes nothing; like Verify, it holds the store's lock
// while it runs unless another process holds it.
func Dump(p *effect.P, dir string) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		v, err := openVerify(p, dir)
		if v != nil {
			defer v.release(p)
		}
		var stop *CorruptError
		if err != nil && !errors.As(err, &stop) {
			yield(Record{}, err)
			return
		}
		rp := &replayer{st: newState(), store: v.id, full: true}
		rp.onRec = func(seg uint64, off int64, f frame, c *commitRec) error {
			r := Record{
				File: filepath.Join(dir, logDir, segName(seg)), Segment: seg, Offset: off,
				Type: typeNames[f.typ], LSN: f.lsn, CRC: f.crc, PrevCRC: f.prev, Size: f.size,
			}
			if c != nil {
				r.At, r.Revision = time.Unix(0, c.at).UTC(), c.rev
				pos := c.firstPos
				for _, part := range c.parts {
					for j := range part.events {
						r.Events = append(r.Events, toEvent(part.stream, part.firstSeq+uint64(j), pos, c.at, &part.events[j]))
						pos++
					}
				}
				for _, k := range c.kv {
					r.Kv = append(r.Kv, ops.KvChange{Key: k.key, Value: cloneBytes(k.value), Delete: k.op == kvDel})
				}
			}
			if !yield(r, nil) {
				return errHalt
			}
			return nil
		}
		if v.id == ([16]byte{}) {
			yield(Record{}, err)
			return
		}
		werr := v.walk(p, rp, v.ends, stop)
		switch {
		case errors.Is(werr, errHalt):
			return
		case werr != nil:
			yield(Record{}, werr)
		case err != nil:
			yield(Record{}, err)
		}
	}
}
