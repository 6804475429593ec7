package file

import (
	"slices"
	"sort"
	"strings"
	"unsafe"

	"rose-ash.com/persist/backends/internal/idindex"
	"rose-ash.com/persist/effect"
)

// loc is where a commit record starts: segment id and byte offset.
type loc struct {
	seg uint32
	off uint32
}

// chunk indexes the events a commit record holds for one stream, from seq
// upward (to the next chunk's seq, or the head).
type chunk struct {
	seq uint64
	loc
}

// posChunk indexes a commit record holding events from position pos upward.
type posChunk struct {
	pos uint64
	loc
}

type streamIdx struct {
	head uint64
	key  uint64 // the name's hash for the ID index, set when it is kept
	// runs locate the stream's records in sealed segments whose index
	// files of version 1 or 2 hold them, one per segment, by seq; dir is
	// the newest indexed segment whose file of version 3 holds it (0:
	// none), the start of the chain of its directories back to the
	// runs; chunks the rest, from where those end.
	runs []run
	dir  uint32
	// ran is set when the newest stream runs hold the stream's head and
	// dir as they are (streamrun.go): a checkpoint writes only the
	// streams without it into a new run.
	ran bool
	// ck is set while the stream is in state.ck.
	ck     bool
	chunks tailLocs
}

// ckStream is a stream of state.ck: its name and index.
type ckStream struct {
	name string
	x    *streamIdx
}

type kvEntry struct {
	value []byte
	rev   uint64
	del   bool // a delete of the key since the kv run (kvrun.go)
}

// state is the in-memory index of everything durable: it is what recovery
// rebuilds from the log and what each durable commit advances.
type state struct {
	// streams holds the streams the stream runs do not hold whole, and
	// some that they do; stOnly counts the streams the runs alone hold
	// (streamlookup.go). names sorts the names of streams, rebuilt when
	// namesDirty.
	streams map[string]*streamIdx
	stOnly  int
	// stCounted is set in a state decoded from a checkpoint that records
	// its count of streams (format 13): stOnly is then that count less
	// the section's.
	stCounted  bool
	names      []string
	namesDirty bool
	// kv holds the kv keys changed since kvRuns was written, a delete of
	// one the runs may hold as an entry with del set; every key when
	// there are no runs. kvLive counts the keys with a value, runs and
	// changes.
	kv        map[string]*kvEntry
	kvRuns    *kvRunSet  // nil: none
	kvRefs    []kvRunRef // the runs a decoded checkpoint names, opened into kvRuns
	kvRetired []*kvRun   // runs of a set kvRuns replaced, to close
	kvCache   *recCache  // the runs' blocks; nil: none kept
	kvLive    int
	// kvBytes is the heap kv holds, about (kvEntryBytes of each entry,
	// and of each key without runs whose delete left its history only,
	// and kvRecBytes of each record of ret.hist.recs): what
	// Options.KvBufferBytes bounds.
	kvBytes int64
	// stRuns are the stream runs the state's checkpoint names (nil:
	// none), stRefs what a decoded checkpoint records of them, stRetired
	// the runs of a set stRuns replaced, to close (streamrun.go).
	stRuns    *kvRunSet
	stRefs    []kvRunRef
	stRetired []*kvRun
	keys      []string // sorted keys of kv, rebuilt when keysDirty
	keysDirty bool
	positions tailLocs
	// ck lists the streams a checkpoint captures (markOf): every one
	// the stream runs do not hold whole (not ran, or with chunks or
	// runs), and some that they have held whole since it was made.
	// apply adds a stream it changes, the capture drops those the runs
	// hold whole, and so does dropWhole of the streams it drops from
	// memory: every stream listed is in memory. Until ckKnown is set (a state opened, decoded or
	// replayed) the capture walks every stream and makes the list.
	ck      []ckStream
	ckKnown bool
	// indexed are the sealed segments whose locations lie in their index
	// files (segindex.go), sorted by segment; positions and every
	// stream's chunks hold only the segments after them.
	indexed []segIdx
	// ids indexes every event by stream and ID (the unique-ID rule); nil
	// in a state that only reads (Verify, Dump, a follower). The store's
	// is changed only under Store.mu held exclusively: a checkpoint being
	// written copies it under the read lock (idindex CopyAsOf).
	ids *idindex.Index
	// ret is the stream metadata and the kv history (retention.go,
	// kvhistory.go).
	ret retention
	// idLog, when set, collects the ID entries of the segments it names
	// as commits are applied: for an index file to be written or checked.
	idLog *idLog
	// noKv, set in a state of one segment's records read for its index
	// file (scanSegment), keeps none of their kv changes: a segment of kv
	// commits would otherwise hold every key it changed, with its value
	// and history, while the index file is encoded (a 64 MiB segment of
	// 40-byte values: 1.2 M keys, some 300 MiB of heap).
	noKv bool

	lsn     uint64 // last record's LSN
	lastPos uint64 // last event's position
	rev     uint64 // last kv revision
	lastAt  int64  // last commit's time
	events  uint64
	commits uint64
}

func newState() *state {
	return &state{streams: make(map[string]*streamIdx), kv: make(map[string]*kvEntry)}
}

// indexIDs makes the state keep the ID index, keyed by seed (the store
// id); it reports whether the events already in the state (from a
// checkpoint without an ID index) must be indexed from the log first.
func (s *state) indexIDs(seed [16]byte) bool {
	if s.ids != nil {
		return false
	}
	s.ids = idindex.New(seed)
	for name, st := range s.streams {
		st.key = s.ids.StreamKey(name)
	}
	return s.lastPos > 0
}

// indexRecord adds the IDs of commit c to the ID index: for an index being
// rebuilt from records a checkpoint covers.
func (s *state) indexRecord(c *commitRec) {
	pos := c.firstPos
	for i := range c.parts {
		p := &c.parts[i]
		key := s.ids.StreamKey(p.stream)
		if st := s.streams[p.stream]; st != nil {
			key = st.key
		}
		for j := range p.n {
			s.indexEvent(key, p.id(j), pos)
			pos++
		}
	}
}

// kvGet gives key's current entry, nil when it has no value; an entry
// read from the run is the caller's.
func (s *state) kvGet(p *effect.P, key string) (*kvEntry, error) {
	if e := s.kv[key]; e != nil {
		if e.del {
			return nil, nil
		}
		return e, nil
	}
	if s.kvRuns == nil {
		return nil, nil
	}
	e, ok, err := s.kvRuns.get(p, s.kvCache, key)
	if err != nil || !ok || !e.live {
		return nil, err
	}
	return &kvEntry{value: e.value, rev: e.rev}, nil
}

// kvLookup gives key's current entry as kvGet does, and the kept history
// revisions the run holds for it when the state's history does not hold
// the key in memory (for kvRec.revs): one read of the run for both.
func (s *state) kvLookup(p *effect.P, key string) (*kvEntry, []uint64, error) {
	if e := s.kv[key]; e != nil || s.kvRuns == nil {
		if e != nil && e.del {
			e = nil
		}
		return e, nil, nil
	}
	re, ok, err := s.kvRuns.get(p, s.kvCache, key)
	if err != nil || !ok {
		return nil, nil, err
	}
	var revs []uint64
	if _, mem := s.ret.hist.keys[key]; !mem {
		revs = re.revs
	}
	if !re.live {
		return nil, revs, nil
	}
	return &kvEntry{value: re.value, rev: re.rev}, revs, nil
}

// kvRevs gives key's kept history revisions, oldest first: those the
// history holds in memory (the keys changed since the run), else the
// run's, at most the depth.
func (s *state) kvRevs(p *effect.P, key string) ([]uint64, error) {
	h := &s.ret.hist
	if revs, ok := h.keys[key]; ok || s.kvRuns == nil {
		return revs, nil
	}
	e, ok, err := s.kvRuns.get(p, s.kvCache, key)
	if err != nil || !ok {
		return nil, err
	}
	return lastRevs(e.revs, h.keep()), nil
}

// lastRevs is the last n of revs.
func lastRevs(revs []uint64, n int) []uint64 {
	if len(revs) > n {
		return revs[len(revs)-n:]
	}
	return revs
}

// kvHad tells whether the key of change k had a value before it: from
// the changes since the run, else as the one who looked it up set it.
func (s *state) kvHad(k *kvRec) bool {
	if e := s.kv[k.key]; e != nil {
		return !e.del
	}
	return s.kvRuns != nil && k.had
}

// check reports why c cannot follow the state, or "" when it can: seqs,
// positions and revisions must continue without a gap. The streams of c
// the runs alone hold are in memory first (load, checkLoaded).
func (s *state) check(c *commitRec) string {
	pos := s.lastPos + 1
	if n := c.events(); n > 0 && c.firstPos != pos {
		return "event positions do not continue the log"
	}
	for _, p := range c.parts {
		if p.n == 0 {
			return "append part without events"
		}
		if p.firstSeq != s.memHead(p.stream)+1 {
			return "stream seqs of " + p.stream + " do not continue"
		}
	}
	if len(c.kv) > 0 && c.rev != s.rev+1 {
		return "kv revisions do not continue"
	}
	if len(c.kv) == 0 && c.rev != 0 {
		return "revision without kv changes"
	}
	if c.events() == 0 && len(c.kv) == 0 && len(c.meta) == 0 {
		return "empty commit"
	}
	return s.ret.check(c)
}

// apply adds commit c, stored at l, to the index. kv values are copied.
func (s *state) apply(c *commitRec, l loc) {
	if n := c.events(); n > 0 {
		s.positions.add(c.firstPos, l)
		s.lastPos = c.firstPos + uint64(n) - 1
		s.events += uint64(n)
	}
	pos := c.firstPos
	for i := range c.parts {
		p := &c.parts[i]
		st := s.streams[p.stream]
		if st == nil {
			st = &streamIdx{}
			if s.ids != nil {
				st.key = s.ids.StreamKey(p.stream)
			}
			s.streams[p.stream] = st
			s.namesDirty = true
		}
		st.chunks.add(p.firstSeq, l)
		st.head = p.firstSeq + uint64(p.n) - 1
		st.ran = false
		if s.ckKnown && !st.ck {
			st.ck = true
			s.ck = append(s.ck, ckStream{name: p.stream, x: st})
		}
		if s.ids != nil {
			for j := range p.n {
				s.indexEvent(st.key, p.id(j), pos+uint64(j))
			}
		}
		if s.idLog != nil {
			s.idLog.add(l.seg, p, pos)
		}
		pos += uint64(p.n)
	}
	if len(c.kv) > 0 && s.noKv {
		s.rev = c.rev
	} else if len(c.kv) > 0 {
		// A key deleted while the state has no runs leaves the changes
		// but not its history, which kvBytes goes on counting (its key
		// and kvEntryHeap): a put of it again counts that part once.
		var ghosts int64
		if s.kvRuns == nil {
			for i := range c.kv {
				k := &c.kv[i]
				if _, ok := s.ret.hist.keys[k.key]; ok && k.op != kvDel && s.kv[k.key] == nil {
					ghosts += kvEntryBytes(k.key, nil)
				}
			}
		}
		s.kvBytes += kvRecBytes - ghosts
		s.ret.hist.apply(c, l, s.kvHad)
		s.rev = c.rev
		for i := range c.kv {
			k := &c.kv[i]
			had := s.kvHad(k)
			if k.op == kvDel {
				if !had {
					continue
				}
				s.kvLive--
				if s.kvRuns == nil {
					s.kvBytes -= int64(len(s.kv[k.key].value)) // its history stays
					delete(s.kv, k.key)
					s.keysDirty = true
				} else {
					// The run may hold the key: a new entry, as below.
					s.putKv(k.key, &kvEntry{rev: c.rev, del: true})
				}
				continue
			}
			if !had {
				s.kvLive++
			}
			s.putKv(k.key, &kvEntry{value: slices.Clone(k.value), rev: c.rev})
		}
	}
	if len(c.meta) > 0 {
		s.ret.applyMeta(c)
	}
	if c.at > s.lastAt {
		s.lastAt = c.at
	}
	s.commits++
}

// putKv makes e key's entry of the changes since the runs: a new entry,
// never a changed one, since a checkpoint being written may hold the old
// one (viewOf).
func (s *state) putKv(key string, e *kvEntry) {
	if old := s.kv[key]; old != nil {
		s.kvBytes -= kvEntryBytes(key, old.value)
	} else {
		s.keysDirty = true
	}
	s.kv[key] = e
	s.kvBytes += kvEntryBytes(key, e.value)
}

// kvEntryHeap is what a key of the changes since the runs (state.kv)
// takes of the heap beyond its key's and value's bytes: its map slot, its
// kvEntry, the rounding of its value, its history's map slot and list of
// revisions, and the sorted list's string. Measured: 1 M keys of 13 bytes
// and 40-byte values took 264 MiB of live heap, 211 bytes a key beyond
// the 53 of key and value.
const kvEntryHeap = 200

// kvRecBytes is what kvBytes counts of each kv commit since the runs:
// where its record lies, in the history's list (kvHist.recs), which a
// writer changing a few keys again and again grows by one a commit.
const kvRecBytes = int64(unsafe.Sizeof(kvLoc{}))

// kvEntryBytes is what kvBytes counts of key's entry of value.
func kvEntryBytes(key string, value []byte) int64 {
	return int64(len(key)+len(value)) + kvEntryHeap
}

// sortedNames returns the stream names in byte order; the caller holds the
// store's lock exclusively when namesDirty is set.
func (s *state) sortedNames() []string {
	if s.namesDirty {
		s.names = s.names[:0]
		for n := range s.streams {
			s.names = append(s.names, n)
		}
		sort.Strings(s.names)
		s.namesDirty = false
	}
	return s.names
}

func (s *state) sortedKeys() []string {
	if s.keysDirty {
		s.keys = s.keys[:0]
		for k := range s.kv {
			s.keys = append(s.keys, k)
		}
		sort.Strings(s.keys)
		s.keysDirty = false
	}
	return s.keys
}

// page picks from sorted names those with prefix after after, at most
// limit, and whether more follow.
func page(sorted []string, prefix, after string, limit int) ([]string, bool) {
	start := prefix
	if after >= start {
		start = after + "\x00"
	}
	i := sort.SearchStrings(sorted, start)
	var out []string
	for ; i < len(sorted) && strings.HasPrefix(sorted[i], prefix); i++ {
		if len(out) == limit {
			return out, true
		}
		out = append(out, sorted[i])
	}
	return out, false
}

// inChunks tells whether seq lies in the stream's chunks, those of the
// segments not indexed.
func (st *streamIdx) inChunks(seq uint64) bool {
	return len(st.runs) == 0 && st.dir == 0 || st.chunks.len() > 0 && st.chunks.key(0) <= seq
}

// runFor finds the index of the run holding seq, -1 when seq lies past
// the runs or no run is; a seq past them may lie in the directories.
func (st *streamIdx) runFor(seq uint64) int {
	if len(st.runs) == 0 || st.inChunks(seq) {
		return -1
	}
	i := sort.Search(len(st.runs), func(i int) bool { return st.runs[i].seq > seq })
	return max(i-1, 0)
}

// indexedSeg gives the indexed segment seg, nil when it is not indexed.
func (s *state) indexedSeg(seg uint32) *segIdx {
	i := sort.Search(len(s.indexed), func(i int) bool { return s.indexed[i].seg >= seg })
	if i < len(s.indexed) && s.indexed[i].seg == seg {
		return &s.indexed[i]
	}
	return nil
}

// idLog collects full ID entries (the hash the ID index keeps only the
// top bits of) per segment.
type idLog struct {
	x    *idindex.Index // for the hash, keyed as the store's
	segs map[uint32][]idEntry
}

// newIDLog collects the entries of segs for store id.
func newIDLog(id [16]byte, segs []uint32) *idLog {
	l := &idLog{x: idindex.New(id), segs: make(map[uint32][]idEntry, len(segs))}
	for _, seg := range segs {
		l.segs[seg] = nil
	}
	return l
}

// add collects the entries of append part p, its first event at pos, in
// segment seg when it is one collected: the events whose IDs do not name
// their position, as indexEvent indexes.
func (l *idLog) add(seg uint32, p *partRec, pos uint64) {
	es, ok := l.segs[seg]
	if !ok {
		return
	}
	key := l.x.StreamKey(p.stream)
	for j := range p.n {
		id := p.id(j)
		if _, dp, ok := l.x.DrawnPos(id); ok && dp == pos+uint64(j) {
			continue
		}
		es = append(es, idEntry{hash: l.x.Hash(key, id), pos: pos + uint64(j)})
	}
	l.segs[seg] = es
}

// drop is what a checkpoint moved into index files: the segments up to
// upTo, and the runs that replace their chunks, per stream. The owner of
// the log applies it (applyDrop), so that the group-commit leader, which
// reads the state without the lock, never sees it change under it.
type drop struct {
	upTo uint32
	idx  []segIdx
	runs map[string][]run
	// dirs is, per stream, the newest of the new files of version 3
	// holding it.
	dirs map[string]uint32
	// idsFrom..idsTo are the positions whose ID entries the new files
	// hold (idsTo 0: none), to drop from the ID index.
	idsFrom, idsTo uint64
	// kvRuns is the kv runs the checkpoint named, with the one it wrote,
	// as of revision kvRev (nil: it wrote none).
	kvRuns *kvRunSet
	kvRev  uint64
	// kvCache is the store's cache of run blocks (kv and stream runs'),
	// for a state that has none (it opened with no runs).
	kvCache *recCache
	// stRuns is the stream runs the checkpoint named, with the one it
	// wrote of stHeads (nil: it wrote none).
	stRuns  *kvRunSet
	stHeads []streamHead
}

// touched gives the streams whose locations d moved into files.
func (d *drop) touched() map[string]bool {
	out := make(map[string]bool, len(d.runs)+len(d.dirs))
	for name := range d.runs {
		out[name] = true
	}
	for name := range d.dirs {
		out[name] = true
	}
	return out
}

// applyDrop replaces the locations of the segments d indexed by their
// index files, takes the runs d's checkpoint wrote, then drops from
// memory the streams the stream runs hold whole (dropWhole): d's
// checkpoint is durable. The caller holds the store's lock exclusively
// and owns the log.
func (s *state) applyDrop(d *drop) {
	if s.kvCache == nil && (d.kvRuns != nil || d.stRuns != nil) {
		// A state that opened with no runs (no checkpoint named any)
		// reads its own through the cache too.
		s.kvCache = d.kvCache
	}
	defer func() {
		// After the dirs: the run, then the streams the runs hold
		// whole leave memory, the checkpoint naming the runs durable.
		if d.stRuns != nil {
			s.takeStreamRun(d.stRuns, d.stHeads)
		}
		s.dropWhole()
	}()
	if d.kvRuns != nil {
		s.takeKvRun(d.kvRuns, d.kvRev)
	}
	if len(d.idx) == 0 || len(s.indexed) > 0 && s.indexed[len(s.indexed)-1].seg >= d.idx[0].seg {
		return
	}
	s.indexed = append(s.indexed, d.idx...)
	if s.ids != nil && d.idsTo > 0 {
		s.ids.DropRange(d.idsFrom, d.idsTo)
	}
	s.positions = s.positions.clone(s.positions.after(d.upTo), s.positions.len())
	for name, rs := range d.runs {
		x := s.streams[name]
		if x == nil {
			continue
		}
		x.runs = append(x.runs, rs...)
	}
	for name, seg := range d.dirs {
		if x := s.streams[name]; x != nil && seg > x.dir {
			// The runs hold it whole again once they hold the new dir
			// (takeStreamRun, after this).
			x.dir, x.ran = seg, false
		}
	}
	for name := range d.touched() {
		x := s.streams[name]
		if x == nil {
			continue
		}
		x.chunks = x.chunks.clone(x.chunks.after(d.upTo), x.chunks.len())
	}
}

// chunkFor finds the index of the chunk holding seq.
func (st *streamIdx) chunkFor(seq uint64) int { return st.chunks.find(seq) }

// posChunkFor finds the index of the position chunk holding pos.
func (s *state) posChunkFor(pos uint64) int { return s.positions.find(pos) }
