package file

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/platform"
)

// A stream run file holds the heads of streams in byte order of their
// names: each stream's head seq and the newest indexed segment whose
// index file of version 3 holds it (its directory chain, streamdir.go),
// what a read or a commit needs of a stream whose records all lie in
// index files. It is a run file of its own kind in the layout of the kv
// run files (kvrun.go: checksummed blocks, a sparse index of their first
// names, a Bloom filter, read through the block cache), and a set of
// them is tiered as the kv runs are (kvtier.go). See the package doc
// (Stream run files).

var streamRunMagic = [8]byte{'p', 'e', 'r', 's', 'i', 's', 't', 'S'}

// streamRunVersion is the stream run format: a run's entries are those
// of a kv run of version 2 (key, a flag byte of 1, the revision, a
// value, a count of 0 kept revisions) with the stream's name as the key,
// its head seq as the revision and as the value the uvarint of its
// directory segment (0: none); it holds no history records, and always
// a filter.
const streamRunVersion = 1

var streamRunKind = &runKind{magic: streamRunMagic, version: streamRunVersion, versions: streamRunVersion, noun: "stream run"}

// streamRunPrefix names stream run files: st-<generation>.run.
const streamRunPrefix = "st-"

func streamRunName(gen uint64) string {
	return fmt.Sprintf("%s%016x%s", streamRunPrefix, gen, kvRunSuffix)
}

// isStreamRunName reports whether a log directory entry is a stream run
// file, and its generation.
func isStreamRunName(name string) (uint64, bool) {
	if !strings.HasPrefix(name, streamRunPrefix) || !strings.HasSuffix(name, kvRunSuffix) || len(name) != len(streamRunName(0)) {
		return 0, false
	}
	gen, err := strconv.ParseUint(name[len(streamRunPrefix):len(streamRunPrefix)+16], 16, 64)
	return gen, err == nil
}

// streamHead is a stream as a run holds it.
type streamHead struct {
	name string
	head uint64
	dir  uint32 // the newest indexed segment whose file of version 3 holds it; 0: none
}

// entry gives h as a run entry, its value in buf's room.
func (h *streamHead) entry(buf []byte) kvRunEntry {
	return kvRunEntry{key: h.name, live: true, rev: h.head, value: binary.AppendUvarint(buf[:0], uint64(h.dir))}
}

// streamHeadOf decodes a stream run's entry; false when it is not one
// (no head, no value, kept revisions, or a value other than one uvarint
// of at most 32 bits).
func streamHeadOf(e *kvRunEntry) (streamHead, bool) {
	if !e.live || e.rev == 0 || len(e.revs) != 0 {
		return streamHead{}, false
	}
	dir, n := binary.Uvarint(e.value)
	if n <= 0 || n != len(e.value) || n != uvarintLen(dir) || dir > 1<<32-1 {
		return streamHead{}, false
	}
	return streamHead{name: e.key, head: e.rev, dir: uint32(dir)}, true
}

// openStreamRun opens the stream run at path, checked as openKvRun
// checks a kv run: generation gen of store id with header checksum want
// (0 takes any).
//
// The run keeps no file open (kvRun.reopen): the first block read that
// misses the cache opens it on the reader's handle, and the run keeps
// that descriptor until it is closed (runFD).
func openStreamRun(p *effect.P, path string, id [16]byte, gen uint64, want uint32) (*kvRun, error) {
	r, err := openRunOf(p, path, id, gen, want, streamRunKind)
	if err != nil {
		return nil, err
	}
	err = closeFile(p, r.fd)
	r.fd, r.reopen, r.keep = 0, true, &runFD{}
	if err != nil {
		return nil, fmt.Errorf("file: close %s: %w", path, err)
	}
	return r, nil
}

// writeStreamRun writes stream run gen at path: the heads of the runs of
// old (nil: none; the newest's entry of a stream wins) with heads, sorted
// by name, put over them, in pieces of piece bytes (kvRunPiece when 0)
// each synced, calling between (when set) after each. lsn is the last
// record the run covers. It syncs the file but leaves renaming it into
// place and syncing the directory to the caller.
func writeStreamRun(p *effect.P, path string, id [16]byte, gen, lsn uint64, old *kvRunSet, cache *recCache, heads []streamHead, piece int, between func()) (*kvRun, error) {
	w, err := newKvRunWriter(p, path, id, gen)
	if err != nil {
		return nil, fmt.Errorf("file: write stream run %s: %w", path, err)
	}
	w.kind, w.piece, w.between = streamRunKind, piece, between
	// A filter always: a commit to a stream not in memory asks the runs
	// for it (state.stream), and the filter answers for a new stream
	// without a block of entries.
	w.filterFor(len(heads), old)
	var buf [binary.MaxVarintLen32]byte
	put := func(h *streamHead) error {
		e := h.entry(buf[:])
		return w.add(&e)
	}
	hi := 0
	if old != nil {
		var bad error
		err = old.scan(p, cache, "", func(e *kvRunEntry) bool {
			for hi < len(heads) && heads[hi].name < e.key {
				if put(&heads[hi]) != nil {
					return false
				}
				hi++
			}
			if hi < len(heads) && heads[hi].name == e.key {
				hi++
				return put(&heads[hi-1]) == nil
			}
			if _, ok := streamHeadOf(e); !ok {
				at, off := entryAt(p, old, e.key)
				bad = corrupt(at, off, "stream run entry of %q malformed", e.key)
				return false
			}
			return w.add(e) == nil
		})
		if err == nil {
			err = bad
		}
	}
	for err == nil && w.err == nil && hi < len(heads) {
		err = put(&heads[hi])
		hi++
	}
	return w.end(err, lsn)
}

// streamRunGet finds the stream name's newest head in set: the filter
// of each run first, then one block of the run that may hold it, through
// cache (nil: none).
func streamRunGet(p *effect.P, set *kvRunSet, cache *recCache, name string) (streamHead, bool, error) {
	h, _, _, ok, err := streamRunFind(p, set, cache, name)
	return h, ok, err
}

// entryAt gives the run of set whose entry of name a scan of set takes
// (the newest holding it) and the offset of its block, for an error that
// names where a bad entry lies; the newest run at 0 when none holds it.
func entryAt(p *effect.P, set *kvRunSet, name string) (string, int64) {
	for i := len(set.runs) - 1; i >= 0; i-- {
		r := set.runs[i]
		if _, ok, err := r.get(p, nil, name); err == nil && ok {
			return r.path, r.blocks[r.blockFor(name)].off
		}
	}
	return set.newest().path, 0
}

// scanStreamRuns calls fn with the newest head of each stream of set
// from the first at or after from, in byte order of names, until fn
// returns false. A malformed entry is a CorruptError.
func scanStreamRuns(p *effect.P, set *kvRunSet, cache *recCache, from string, fn func(h streamHead) bool) error {
	if set == nil {
		return nil
	}
	var bad error
	err := set.scan(p, cache, from, func(e *kvRunEntry) bool {
		h, ok := streamHeadOf(e)
		if !ok {
			path, off := entryAt(p, set, e.key)
			bad = corrupt(path, off, "stream run entry of %q malformed", e.key)
			return false
		}
		return fn(h)
	})
	if err != nil {
		return err
	}
	return bad
}

// verifyStreamRun reads every block of r past the cache and checks it as
// kvRun.verify does, and that every entry is a stream head.
func verifyStreamRun(p *effect.P, r *kvRun, id [16]byte) error {
	if err := r.verify(p, id); err != nil {
		return err
	}
	if r.recN != 0 {
		return corrupt(r.path, r.size, "stream run holds %d history records", r.recN)
	}
	if r.entries > 0 && len(r.bloomSums) == 0 {
		return corrupt(r.path, r.size, "stream run without a filter")
	}
	for i := range r.blocks {
		b, err := r.block(p, nil, i)
		if err != nil {
			return err
		}
		d := decoder{b: b}
		for len(d.b) > 0 {
			e := decodeKvEntry(&d)
			if d.err != nil {
				return corrupt(r.path, r.blocks[i].off, "malformed stream run block %d", i)
			}
			if _, ok := streamHeadOf(&e); !ok {
				return corrupt(r.path, r.blocks[i].off, "stream run block %d: entry of %q is not a stream head", i, e.key)
			}
		}
	}
	return nil
}

// runFD is the descriptor of a run that keeps no file open at its open
// (kvRun.reopen): opened by the first block read that misses the block
// cache, on the reader's handle (whose handler answers on the store's
// descriptors, as Options.Background must), and kept until the run is
// closed, so that a read that misses the cache neither opens nor closes
// the file. One a run, so bounded by the runs open: a state's set (at
// most kvMaxRuns), the runs it retired until the next checkpoint closes
// them, and those a checkpoint writes or folds.
type runFD struct {
	mu sync.Mutex
	fd platform.FD // 0: none open
}

// get gives the run's descriptor, opening path on p's handle when none is
// open. A file removed since the run's header was read (a follower's
// writer removes the runs its checkpoints no longer name) is missing, as
// a run not there at all is.
func (k *runFD) get(p *effect.P, path string) (platform.FD, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.fd != 0 {
		return k.fd, nil
	}
	fd, err := openFile(p, path, os.O_RDONLY)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, &streamRunMissing{path: path, err: err}
	}
	if err != nil {
		return 0, fmt.Errorf("file: open %s: %w", path, err)
	}
	k.fd = fd
	return fd, nil
}

// close closes the descriptor, if one is open.
func (k *runFD) close(p *effect.P) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.fd == 0 {
		return nil
	}
	err := closeFile(p, k.fd)
	k.fd = 0
	return err
}

// streamRunMissing is the error of a stream run a checkpoint names that
// is not on the disk, as kvRunMissing.
type streamRunMissing struct {
	path string
	err  error
}

func (e *streamRunMissing) Error() string {
	return fmt.Sprintf("file: stream run %s: %v", e.path, e.err)
}
func (e *streamRunMissing) Unwrap() error { return e.err }

// openStreamRunRef opens the stream run ref names, checked against what
// the checkpoint records of it: its header checksum (which covers its
// count of entries) and its sparse index, not its blocks.
func (s *Store) openStreamRunRef(p *effect.P, ref kvRunRef) (*kvRun, error) {
	path := filepath.Join(s.logDir, streamRunName(ref.gen))
	r, err := openStreamRun(p, path, s.id, ref.gen, ref.hdrCRC)
	if err == nil && s.readOnly {
		// A follower keeps its runs open from the start: it reads them
		// as long as it runs, and its writer removes them once newer
		// checkpoints name others.
		_, err = r.keep.get(p, path)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &streamRunMissing{path: path, err: err}
	}
	if err != nil {
		return nil, err
	}
	if r.entries != ref.entries || kvHeaderSum(r.hdr[:], r.idxLen, ref.entries) != r.hdrCRC {
		_ = r.close(p)
		return nil, corrupt(path, 44, "stream run of %d entries where the checkpoint counts %d", r.entries, ref.entries)
	}
	r.live = r.entries
	return r, nil
}

// openStreamRunOf opens the stream runs st's checkpoint names into
// st.stRuns, checked as openStreamRunRef checks each, and reads no head
// into memory: a stream the runs alone hold is looked up in them when
// something needs it (streamlookup.go), its blocks checked as a read
// takes them (rule 8 of recovery: Open does the tail's work). It brings
// into memory the streams with metadata, which stay there; a checkpoint
// of format 13 counts the streams, and of one before it asks the runs
// for the streams of its section (those the runs do not hold whole,
// which win over the runs: one a run holds at a seq past the section's
// is damage) and counts the streams the runs alone hold
// (countStreamRuns). With check set (Verify) it reads every run
// whole first (verifyStreamRun: order, filter, counts) and every head
// into st.streams. A run that is missing or damaged is an error naming
// it: the caller passes the checkpoint over.
func (s *Store) openStreamRunOf(p *effect.P, st *state, check bool) error {
	if len(st.stRefs) == 0 {
		return nil
	}
	set, err := openRunSet(p, st.stRefs, s.openStreamRunRef)
	if err != nil {
		return err
	}
	if check {
		err = s.loadStreamRuns(p, st, set)
	} else {
		err = s.lookStreamRuns(p, st, set)
	}
	if err != nil {
		st.stRuns = nil
		_ = set.close(p)
		return err
	}
	return nil
}

// lookStreamRuns makes set st's runs, as openStreamRunOf does for Open.
func (s *Store) lookStreamRuns(p *effect.P, st *state, set *kvRunSet) error {
	if st.stCounted {
		// The checkpoint counts the streams (format 13): nothing of the
		// runs is read but what the metadata streams need. The runs may
		// hold a section's stream as it is; taken as not (ran unset), it
		// goes into the next run written once its records lie in index
		// files, as it would: their index files move its directory.
		for _, x := range st.streams {
			x.ran = false
		}
		st.stRuns = set
		return st.bringMeta(p)
	}
	cache := st.kvCache
	held := 0 // streams of the section the runs hold
	for name, x := range st.streams {
		h, path, off, ok, err := streamRunFind(p, set, cache, name)
		if err != nil {
			return err
		}
		if !ok {
			x.ran = false
			continue
		}
		held++
		// The section's stream wins; a run never holds a head past the
		// checkpoint naming it.
		if x.head < h.head {
			return corrupt(path, off, "stream run holds %q at seq %d, past the checkpoint's %d", name, h.head, x.head)
		}
		x.ran = x.head == h.head && x.dir == h.dir
	}
	n, err := countStreamRuns(p, set, cache)
	if err != nil {
		return err
	}
	if n < held {
		return corrupt(set.newest().path, 0, "stream runs of %d streams hold %d of the checkpoint's section", n, held)
	}
	st.stRuns, st.stOnly = set, n-held
	return st.bringMeta(p)
}

// bringMeta brings into memory the streams with metadata that st's runs
// alone hold: a stream with metadata is always in memory.
func (st *state) bringMeta(p *effect.P) error {
	for name := range st.ret.meta {
		if st.streams[name] != nil {
			continue
		}
		x, err := st.stream(p, name)
		if err != nil {
			return err
		}
		if x != nil {
			st.bring(name, x)
		}
	}
	st.namesDirty = true
	return nil
}

// countStreamRuns counts the streams set holds: the oldest run's entries
// and those of each newer run that no run before it holds, asked of
// their filters and blocks (through cache): the newer runs are read
// whole, the oldest only where a newer run's stream may lie in it. A
// set of one run is counted from its header.
func countStreamRuns(p *effect.P, set *kvRunSet, cache *recCache) (int, error) {
	n := int(set.runs[0].entries)
	for i := 1; i < len(set.runs); i++ {
		older := &kvRunSet{runs: set.runs[:i]}
		var bad error
		err := set.runs[i].scan(p, nil, "", func(e *kvRunEntry) bool {
			_, ok, err := older.get(p, cache, e.key)
			if err != nil {
				bad = err
				return false
			}
			if !ok {
				n++
			}
			return true
		})
		if err == nil {
			err = bad
		}
		if err != nil {
			return 0, err
		}
	}
	return n, nil
}

// loadStreamRuns makes set st's runs, as openStreamRunOf does for Verify:
// every run read whole, every head into st.streams. A stream's directory
// must be an indexed segment of version 3.
func (s *Store) loadStreamRuns(p *effect.P, st *state, set *kvRunSet) error {
	for _, r := range set.runs {
		if err := verifyStreamRun(p, r, s.id); err != nil {
			return err
		}
	}
	// The map made once for all the heads, not grown a million times
	// over: room for the section's and the runs' (an entry takes 5
	// bytes at least).
	section := len(st.streams)
	n := section
	for _, r := range set.runs {
		n += int(min(r.entries, uint64(r.size/5)))
	}
	streams := make(map[string]*streamIdx, n)
	maps.Copy(streams, st.streams)
	st.streams = streams
	var bad error
	err := scanStreamRuns(p, set, nil, "", func(h streamHead) bool {
		if h.dir != 0 {
			if e := st.indexedSeg(h.dir); e == nil || !e.dir {
				path, off := entryAt(p, set, h.name)
				bad = corrupt(path, off, "stream run names segment %d as the directory of %q, which the checkpoint does not index with directories", h.dir, h.name)
				return false
			}
		}
		if section > 0 {
			if x := st.streams[h.name]; x != nil {
				// The section's stream wins; a run never holds a head past
				// the checkpoint naming it.
				if x.head < h.head {
					path, off := entryAt(p, set, h.name)
					bad = corrupt(path, off, "stream run holds %q at seq %d, past the checkpoint's %d", h.name, h.head, x.head)
					return false
				}
				x.ran = x.head == h.head && x.dir == h.dir
				return true
			}
		}
		x := &streamIdx{head: h.head, dir: h.dir, ran: true}
		if st.ids != nil {
			x.key = st.ids.StreamKey(h.name)
		}
		st.streams[h.name] = x
		return true
	})
	if err == nil {
		err = bad
	}
	if err != nil {
		return err
	}
	if st.stCounted && len(st.streams) != section+st.stOnly {
		return corrupt(set.newest().path, 0, "stream runs and the checkpoint's section hold %d streams where the checkpoint counts %d", len(st.streams), section+st.stOnly)
	}
	st.stRuns, st.stOnly = set, 0
	st.namesDirty = true
	return nil
}

// writeStreamRuns writes the streams of v whose heads the runs of v's
// set do not hold as they are (those without ran, and those whose
// directory the checkpoint's index files moved, in d's dirs) and whose
// records all lie in index files (no chunks once writeIndexes cut v's,
// no runs of files of version 1 or 2) as a new stream run: a stream
// with records in memory lies in the checkpoint's section whole, head
// and directory with them, and the section wins over the runs, so
// writing it into a run too would write every stream of the active
// segment twice a checkpoint. It folds into the run the newest runs the
// tiering takes (kvFoldCount), durable and in place once it returns,
// named by the checkpoint's LSN; v then names the new set. It gives the
// set, its new run open, and the heads it wrote, for the live state to
// take (nil when no such stream changed and v names the set it had, or
// v is encoded as an older format).
func (s *Store) writeStreamRuns(p *effect.P, v *ckptView, d *drop) (*kvRunSet, []streamHead, error) {
	if v.version != 0 && v.version < ckptVersionStreamRuns {
		return nil, nil, nil
	}
	v.sortStreams()
	var heads []streamHead
	var at []int // the views of heads
	for i := range v.streams {
		x := &v.streams[i]
		moved := false
		if d != nil {
			_, moved = d.dirs[x.name]
		}
		// A stream that keeps records in memory stays without ran: a
		// later checkpoint writes it once they lie in index files.
		if (!x.ran || moved) && x.chunks.len() == 0 && len(x.runs) == 0 {
			heads = append(heads, streamHead{name: x.name, head: x.head, dir: x.dir})
			at = append(at, i)
		}
		v.slice.tick()
	}
	if len(heads) == 0 {
		return nil, nil, nil
	}
	var old []*kvRun
	if v.stRuns != nil {
		old = v.stRuns.runs
	}
	var est int64
	for i := range heads {
		est += int64(len(heads[i].name)) + 8
	}
	k := kvFoldCount(runSizes(old), est)
	kept, fold := old[:len(old)-k], old[len(old)-k:]
	gen := v.r.lsn
	path := filepath.Join(s.logDir, streamRunName(gen))
	for _, r := range old {
		if r.gen == gen {
			return nil, nil, fmt.Errorf("file: stream run %s exists", path)
		}
	}
	var from *kvRunSet
	if len(fold) > 0 {
		from = &kvRunSet{runs: fold}
	}
	piece := 0
	if v.beside {
		piece = ckptPieceBeside
	}
	// The folded runs are read past the cache, as a kv fold's.
	r, err := writeStreamRun(p, path+tmpSuffix, s.id, gen, v.r.lsn, from, nil, heads, piece, v.pace)
	if err != nil {
		return nil, nil, err
	}
	if err := s.placeRun(p, path, "stream run"); err != nil {
		return nil, nil, err
	}
	open, err := openStreamRun(p, path, s.id, gen, r.hdrCRC)
	if err != nil {
		return nil, nil, err
	}
	open.live = open.entries
	set := &kvRunSet{runs: append(slices.Clone(kept), open)}
	v.stRuns = set
	for _, i := range at {
		v.streams[i].ran = true
	}
	return set, heads, nil
}

// removeOldStreamRuns removes the stream run files before generation
// below that keep does not name, as removeOldKvRuns.
func (s *Store) removeOldStreamRuns(p *effect.P, keep []uint64, below uint64) error {
	return s.removeOldRuns(p, isStreamRunName, keep, below)
}

// takeStreamRun makes set the state's (the caller holds the store's lock
// exclusively): each stream of heads, which set's newest run holds,
// whose head and dir are still those is marked ran; the runs of the set
// it replaces that the new one does not hold are retired, to be closed
// by the owner of the log (readers read a run under the read lock).
func (s *state) takeStreamRun(set *kvRunSet, heads []streamHead) {
	if s.stRuns != nil {
		for _, r := range s.stRuns.runs {
			if !set.has(r) {
				s.stRetired = append(s.stRetired, r)
			}
		}
	}
	s.stRuns = set
	for i := range heads {
		h := &heads[i]
		if x := s.streams[h.name]; x != nil && x.head == h.head && x.dir == h.dir {
			x.ran = true
		}
	}
}
