package file

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"rose-ash.com/persist/backends/internal/idindex"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/platform"
)

// A store checkpoint is the in-memory index as of one point of the log, so
// that Open replays only the log after it. See the package doc.

const (
	ckptPrefix  = "checkpoint-"
	ckptSuffix  = ".ckpt"
	ckptKeepGen = 2
)

var ckptMagic = [8]byte{'p', 'e', 'r', 's', 'i', 's', 't', 'C'}

// Checkpoint format versions: 1 had a last event ID per stream and no ID
// index; 2 drops the last IDs and ends with the ID index; 3 adds where the
// last record it covers starts and the checksum of its segment up to the
// checkpoint, so that Open need not read the records it covers, and holds
// the ID index as its slots; 4 gives each table of the ID index its own
// position bits and indexes only the events whose IDs do not name their
// own position (drawn IDs are left out). Versions 1 to 3 are still read:
// 1 and 2 have what they cover checked as frames and their ID index
// rebuilt from those records (version 2's is in an encoding no longer
// read); 3's index, of every event, is used as it is. Version 5 adds, after
// the ID index, the retention section: the kv history and the stream
// metadata (retention.appendSection); before it a store had neither, and
// its kv history starts at the checkpoint (kvHist.seed).
// Version 6 names the segment index files that hold the locations of
// sealed segments (after the counters), and gives each stream its runs
// in them (after its head); versions 3 to 5 are read as naming none.
// Version 7 names a kv run file; 8 keeps in the kv history section only
// the keys its run does not. Version 9 gives each index file it names
// its ID entries (a uvarint after its header checksum: 0 for a file
// without, else 1 plus their count), whose events its ID index leaves
// out; versions 6 to 8 name files without. Version 10 names a set of kv
// run files (tiered runs), each with the count of its own keys with a
// value, and the count of all keys with a value after them; versions 7
// to 9 name one run, as a set of one.
const (
	ckptVersion1 = 1
	ckptVersion2 = 2
	ckptVersion3 = 3
	ckptVersion4 = 4
	// ckptVersionRetention is the first version with the retention
	// section after the ID index: every later version keeps it.
	ckptVersionRetention = 5
	// ckptVersionIndex is the first version naming segment index files.
	ckptVersionIndex = 6
	// ckptVersionKvRun is the first version naming a kv run file.
	ckptVersionKvRun = 7
	// ckptVersionKvHist is the first version whose kv history section
	// holds only the keys whose kept revisions its kv run does not: the
	// run's entries hold the others'.
	ckptVersionKvHist = 8
	// ckptVersionIDFiles is the first version whose index files may hold
	// their segments' ID entries (version 2), which its ID index lacks.
	ckptVersionIDFiles = 9
	// ckptVersionKvTiers is the first version naming a set of kv runs.
	ckptVersionKvTiers = 10
	// ckptVersionStreamDir is the first version whose index files may
	// hold stream directories (version 3): a stream names the newest
	// such file holding it, not a run per file.
	ckptVersionStreamDir = 11
	// ckptVersionStreamRuns is the first version naming stream runs
	// (streamrun.go): its stream section holds only the streams the runs
	// do not hold as they are, or that have chunks or runs.
	ckptVersionStreamRuns = 12
	// ckptVersionStreamCount is the first version recording how many
	// streams the store holds, its section's and its runs' together, so
	// that Open need not ask the runs for every stream of the section
	// and count those of every run but the oldest (countStreamRuns).
	ckptVersionStreamCount = 13
	ckptVersion            = ckptVersionStreamCount
)

// resume is the point of the log a checkpoint covers: the end of the
// record with LSN lsn and checksum crc, at off of segment seg. From
// version 3 on it also holds where that record starts (last) and the
// CRC-32C of the segment's bytes before off (sum).
type resume struct {
	seg     uint64
	off     int64
	crc     uint32
	lsn     uint64
	last    int64
	sum     uint32
	version uint32 // the checkpoint's format version
}

func ckptName(lsn uint64) string { return fmt.Sprintf("%s%016x%s", ckptPrefix, lsn, ckptSuffix) }

func parseCkptName(name string) (uint64, bool) {
	if !strings.HasPrefix(name, ckptPrefix) || !strings.HasSuffix(name, ckptSuffix) || len(name) != len(ckptName(0)) {
		return 0, false
	}
	lsn, err := strconv.ParseUint(name[len(ckptPrefix):len(ckptPrefix)+16], 16, 64)
	return lsn, err == nil
}

// ckptView is the index as of one point of the log, captured for a
// checkpoint cheaply and immutable from then on, so that it is encoded
// and written while commits go on: the position index and every stream's
// locations are append-only (a view keeps their length at the capture),
// kv entries are replaced, never changed, and the ID index is copied.
type ckptView struct {
	r       resume
	lastPos uint64
	rev     uint64
	lastAt  int64
	events  uint64
	commits uint64
	streams []streamView
	// count is how many streams the store holds at the capture, those
	// the runs alone hold too (format 13).
	count   int
	pos     tailLocs
	indexed []segIdx            // none in a view encoded as an older version
	version uint32              // the format to encode: 0 the current, an older one to test reading it
	kv      map[string]*kvEntry // changes since kvRuns (every key without them)
	kvRuns  *kvRunSet
	kvRefs  []kvRunRef // the runs the checkpoint names
	kvLive  int
	stRuns  *kvRunSet  // the stream runs the checkpoint names (streamrun.go)
	stRefs  []kvRunRef // what it names of them when stRuns is nil (a decoded state)
	ids     *idindex.Index
	ret     retention // stream metadata and kv history (retention.go)
	bytes   int64     // log bytes at the capture
	// beside is set for a view captured beside commits (captureBeside),
	// whose file is written in small pieces that let the log in between.
	beside bool
	// pace, set with beside, lets the log have the device and the CPU
	// between two pieces of the checkpoint's work (pacer): encode calls
	// it after each ckptPieceBeside bytes of the file it encodes.
	pace func()
	// slice, set with beside, lets a goroutine waiting for a core have
	// it within the pieces (ckptSlicer): encode ticks it once a stream,
	// a kv entry and 64 locations.
	slice *ckptSlicer
	// Set by captureCheckpoint instead of ids: the live ID index and a
	// mark of it, copied as of the mark when the view is written.
	idsLive *idindex.Index
	idsMark idindex.Mark
	// pre is how many of the leading streams the capture took in name
	// order (sortStreams sorts the rest, merges them in and checks the
	// order); sorted is set once they all are; listed is set for a
	// capture of the state's list (state.ck), whose order the next
	// capture takes once the streams are sorted (ckOrder).
	pre    int
	sorted bool
	listed bool
}

type streamView struct {
	name   string
	head   uint64
	runs   []run
	dir    uint32
	at     uint32 // the stream's place in the state's list at the capture (listed)
	ran    bool   // stRuns hold the head and dir (streamIdx.ran)
	chunks tailLocs
}

// inRuns reports whether the view's stream runs hold x whole: its head
// and dir as they are, no chunks and no runs of legacy index files.
func (x *streamView) inRuns() bool { return x.ran && x.chunks.len() == 0 && len(x.runs) == 0 }

// viewOf captures st, every stream of it, the ID index as a copy. The
// caller keeps st from changing meanwhile.
func viewOf(r resume, st *state) *ckptView {
	v := markOf(r, st, nil, true)
	if v.idsLive != nil {
		v.ids, v.idsLive = v.idsLive.Clone(), nil
	}
	return v
}

// markOf captures st but for the ID index, of which it takes a mark (see
// ckptView). The caller keeps st from changing meanwhile (the
// group-commit leader, Open or Close, or a capture beside commits
// under the state's read lock: apply, which changes st.ck too, runs
// under the write lock, and captures one at a time); what it costs is
// a copy of the kv map (not the values) and of the heads of the streams
// a checkpoint writes (those of st.ck the stream runs do not hold
// whole), or of every stream with every set (an encode as an older
// format, whose section holds them all). The heads go into heads when
// it has room for them (see captureBeside).
func markOf(r resume, st *state, heads []streamView, every bool) *ckptView {
	return markOrdered(r, st, heads, every, nil)
}

// ckOrder is the name order of the streams of the state's list as the
// last checkpoint captured them: perm[j] is the place in the list (after
// that capture dropped the streams the runs held whole) of the stream
// j-th by name. Only the checkpoint's goroutine makes it (at its end)
// and the next capture takes it, one at a time.
type ckOrder struct {
	st   *state
	perm []uint32
	buf  []ckStream // the capture's copy of the list it reorders
	seen []bool     // isPerm's
}

// isPerm reports whether o.perm is a permutation of 0..len-1, as a
// checkpoint makes it: a list reordered by anything else would lose a
// stream, which the checkpoints after would not capture.
func (o *ckOrder) isPerm() bool {
	if cap(o.seen) < len(o.perm) {
		o.seen = make([]bool, len(o.perm))
	}
	o.seen = o.seen[:len(o.perm)]
	clear(o.seen)
	for _, i := range o.perm {
		if int(i) >= len(o.seen) || o.seen[i] {
			return false
		}
		o.seen[i] = true
	}
	return true
}

// markOrdered is markOf with the order of the list the last checkpoint
// sorted (nil: none), which it puts the list in first, so that the
// streams it captures come in name order but for those added since:
// the sort of 10,000 names took a fifth of a checkpoint's CPU, on every
// checkpoint, while commits went on. Moving the list's entries is a copy
// of 24 bytes a stream under the lock; were the list not the one the
// order was made of, it is still a permutation of it (the capture loses
// and doubles no stream), and sortStreams finds it out of order and
// sorts it whole.
func markOrdered(r resume, st *state, heads []streamView, every bool, order *ckOrder) *ckptView {
	if n := st.ckCount(every); cap(heads) < n {
		heads = make([]streamView, 0, n)
	}
	v := &ckptView{
		r: r, lastPos: st.lastPos, rev: st.rev, lastAt: st.lastAt, events: st.events, commits: st.commits,
		streams: heads[:0],
		count:   st.streamCount(),
		pos:     st.positions.view(),
		indexed: st.indexed[:len(st.indexed):len(st.indexed)],
		kv:      maps.Clone(st.kv),
		kvRuns:  st.kvRuns,
		kvRefs:  st.kvRefs,
		kvLive:  st.kvLive,
		stRuns:  st.stRuns,
		stRefs:  st.stRefs,
		ret:     st.ret.clone(),
	}
	if st.kvRuns != nil {
		v.kvRefs = st.kvRuns.refs()
	}
	add := func(name string, x *streamIdx) {
		v.streams = append(v.streams, streamView{name: name, head: x.head, runs: x.runs[:len(x.runs):len(x.runs)], dir: x.dir, at: uint32(len(v.streams)), ran: x.ran, chunks: x.chunks.view()})
	}
	if every || !st.ckKnown {
		// The list is made once, by the first capture of a state for a
		// checkpoint of its own (a capture of every stream, to encode it
		// as an older format or in a test, leaves st as it is).
		fresh := !st.ckKnown && !every
		v.listed = fresh
		if fresh {
			clear(st.ck)
			st.ck = st.ck[:0]
		}
		for name, x := range st.streams {
			need := !x.whole()
			if fresh {
				x.ck = need
				if need {
					st.ck = append(st.ck, ckStream{name: name, x: x})
				}
			}
			if every || need {
				add(name, x)
			}
		}
		st.ckKnown = st.ckKnown || fresh
	} else {
		sorted := 0 // the leading streams of the list in name order
		if order != nil && order.st == st && len(order.perm) <= len(st.ck) && order.isPerm() {
			sorted = len(order.perm)
			// perm is a permutation of 0..sorted-1: the entries move,
			// none is lost or doubled.
			order.buf = append(order.buf[:0], st.ck[:sorted]...)
			for j, i := range order.perm {
				st.ck[j] = order.buf[i]
			}
			clear(order.buf)
		}
		if order != nil {
			order.perm = order.perm[:0] // taken
		}
		v.listed = true
		// The streams the runs hold whole leave the list: apply adds
		// one back when it changes it, and nothing else makes one not
		// whole (applyDrop moves the locations of captured streams
		// alone). The order of those kept stays.
		keep := st.ck[:0]
		for i, c := range st.ck {
			if c.x.whole() {
				c.x.ck = false
				continue
			}
			if i < sorted {
				v.pre++
			}
			keep = append(keep, c)
			add(c.name, c.x)
		}
		clear(st.ck[len(keep):])
		st.ck = keep
	}
	if st.ids != nil {
		v.idsLive, v.idsMark = st.ids, st.ids.Mark()
	}
	return v
}

// ckCount is how many streams markOf captures at most: the list's, or
// every stream when it captures them all or makes the list.
func (st *state) ckCount(every bool) int {
	if every || !st.ckKnown {
		return len(st.streams)
	}
	return len(st.ck)
}

// whole reports whether the stream runs hold x whole (as
// streamView.inRuns).
func (x *streamIdx) whole() bool { return x.ran && x.chunks.len() == 0 && len(x.runs) == 0 }

func encodeCheckpoint(id [16]byte, r resume, st *state) []byte {
	return viewOf(r, st).encode(id)
}

// sortStreams sorts the view's streams by name, ticking its slicer once
// a comparison: the sort of 10,000 names takes milliseconds of a core.
// The leading v.pre are in order already (markOrdered): it sorts the
// rest, the streams added to the state's list since the last checkpoint,
// and merges them in, then checks the order (one comparison a stream)
// and sorts them all if it is wrong.
func (v *ckptView) sortStreams() {
	if v.sorted {
		return
	}
	n := len(v.streams)
	cmp := func(a, b streamView) int {
		v.slice.tick()
		return strings.Compare(a.name, b.name)
	}
	k := min(v.pre, n)
	tail := v.streams[k:]
	slices.SortFunc(tail, cmp)
	if k > 0 {
		// From the back: the larger of the two runs' last goes last.
		aux := slices.Clone(tail)
		i, j := k-1, len(aux)-1
		for w := n - 1; j >= 0; w-- {
			if i >= 0 && v.streams[i].name > aux[j].name {
				v.streams[w] = v.streams[i]
				i--
			} else {
				v.streams[w] = aux[j]
				j--
			}
			v.slice.tick()
		}
		clear(aux)
		for i := 1; i < n; i++ {
			if v.streams[i-1].name >= v.streams[i].name {
				slices.SortFunc(v.streams, cmp)
				break
			}
			v.slice.tick()
		}
	}
	v.sorted = true
}

// keepOrder makes o the name order of the list v captured of st, for
// the next capture (ckOrder); none when v is not a capture of the list
// or its streams are not sorted.
func (v *ckptView) keepOrder(o *ckOrder, st *state) {
	o.st, o.perm = st, o.perm[:0]
	if !v.listed || !v.sorted {
		return
	}
	for j := range v.streams {
		o.perm = append(o.perm, v.streams[j].at)
	}
}

// encode gives the checkpoint file of v for the store id.
func (v *ckptView) encode(id [16]byte) []byte {
	r := v.r
	// Room for what it takes as a rule (a location about 8 bytes), so
	// that encoding makes one buffer, not a series of ever larger ones.
	size := 1024 + 8*v.pos.len() + 24*len(v.kv) + 32*len(v.indexed)
	for _, x := range v.streams {
		size += len(x.name) + 8*x.chunks.len() + 12*len(x.runs) + 24
	}
	for k, e := range v.kv {
		size += len(k) + len(e.value)
	}
	if v.ids != nil {
		size += v.ids.Bytes() + 4096
	}
	b := make([]byte, 24, size)
	// Encoding tens of MiB takes a core for tens of milliseconds: beside
	// commits it stops after each piece for the log to go on.
	paced := 0
	pace := func() {
		if v.pace != nil && len(b)-paced >= ckptPieceBeside {
			v.pace()
			paced = len(b)
		}
	}
	copy(b, ckptMagic[:])
	ver := v.version
	if ver == 0 {
		ver = ckptVersion
	}
	binary.LittleEndian.PutUint32(b[8:], ver)
	b = append(b, id[:]...)
	b = binary.AppendUvarint(b, r.seg)
	b = binary.AppendUvarint(b, uint64(r.off))
	b = binary.LittleEndian.AppendUint32(b, r.crc)
	b = binary.AppendUvarint(b, r.lsn)
	b = binary.AppendUvarint(b, uint64(r.last))
	b = binary.LittleEndian.AppendUint32(b, r.sum)
	b = binary.AppendUvarint(b, v.lastPos)
	b = binary.AppendUvarint(b, v.rev)
	b = binary.AppendVarint(b, v.lastAt)
	b = binary.AppendUvarint(b, v.events)
	b = binary.AppendUvarint(b, v.commits)

	var seg uint32
	if ver >= ckptVersionIndex {
		b = binary.AppendUvarint(b, uint64(len(v.indexed)))
	}
	for _, e := range v.indexed {
		b = binary.AppendUvarint(b, uint64(e.seg-seg))
		b = binary.AppendUvarint(b, e.firstPos)
		b = binary.AppendUvarint(b, e.lastPos)
		b = binary.AppendUvarint(b, uint64(e.nPos))
		b = binary.AppendUvarint(b, uint64(e.nStream))
		b = binary.LittleEndian.AppendUint32(b, e.hdrCRC)
		if ver >= ckptVersionIDFiles {
			ids := uint64(0) // a file of version 1
			if e.ids {
				ids = 1 + uint64(e.nID)
			}
			b = binary.AppendUvarint(b, ids)
		}
		if ver >= ckptVersionStreamDir {
			dir := uint64(0) // a file of version 1 or 2
			if e.dir {
				dir = 1 + uint64(e.nDir)
			}
			b = binary.AppendUvarint(b, dir)
			if e.dir {
				b = binary.AppendUvarint(b, uint64(e.nNameBlk))
			}
		}
		seg = e.seg
		v.slice.tick()
	}

	v.sortStreams()
	if v.pace != nil {
		v.pace() // the sort of 10,000 names takes milliseconds of a core
	}
	streams := v.streams
	if ver >= ckptVersionStreamRuns {
		refs := v.stRefs
		if v.stRuns != nil {
			refs = v.stRuns.refs()
		}
		b = binary.AppendUvarint(b, uint64(len(refs)))
		for _, r := range refs {
			b = binary.AppendUvarint(b, r.gen)
			b = binary.LittleEndian.AppendUint32(b, r.hdrCRC)
			b = binary.AppendUvarint(b, r.entries)
		}
		if ver >= ckptVersionStreamCount {
			b = binary.AppendUvarint(b, uint64(v.count))
		}
		n := 0
		for i := range streams {
			if !streams[i].inRuns() {
				n++
			}
		}
		b = binary.AppendUvarint(b, uint64(n))
	} else {
		b = binary.AppendUvarint(b, uint64(len(streams)))
	}
	for _, x := range streams {
		if ver >= ckptVersionStreamRuns && x.inRuns() {
			continue
		}
		b = appendString(b, x.name)
		b = binary.AppendUvarint(b, x.head)
		if ver >= ckptVersionIndex {
			b = binary.AppendUvarint(b, uint64(len(x.runs)))
		}
		var rseq uint64
		var rseg uint32
		for _, r := range x.runs {
			b = binary.AppendUvarint(b, r.seq-rseq)
			b = binary.AppendUvarint(b, uint64(r.seg-rseg))
			b = binary.AppendUvarint(b, uint64(r.first))
			b = binary.AppendUvarint(b, uint64(r.n))
			rseq, rseg = r.seq, r.seg
		}
		if ver >= ckptVersionStreamDir {
			b = binary.AppendUvarint(b, uint64(x.dir))
		}
		b = binary.AppendUvarint(b, uint64(x.chunks.len()))
		var seq uint64
		var l loc
		for j, r := 0, 0; j < x.chunks.len(); j++ {
			var c chunk
			c.seq, c.loc = x.chunks.step(j, &r)
			b = appendLoc(b, c.seq-seq, l, c.loc)
			seq, l = c.seq, c.loc
			if j%64 == 63 {
				v.slice.tick() // a hot stream has a chunk a record
			}
		}
		v.slice.tick()
		pace()
	}
	b = binary.AppendUvarint(b, uint64(v.pos.len()))
	var pos uint64
	var l loc
	for i, r := 0, 0; i < v.pos.len(); i++ {
		var c posChunk
		c.pos, c.loc = v.pos.step(i, &r)
		b = appendLoc(b, c.pos-pos, l, c.loc)
		pos, l = c.pos, c.loc
		if i%64 == 0 {
			v.slice.tick()
		}
		if i%1024 == 0 {
			pace()
		}
	}
	b = v.appendKvRuns(b, ver)
	keys := slices.Sorted(maps.Keys(v.kv))
	if len(v.kvRefs) != 0 {
		keys = nil // writeKvRun merged them into the runs
	}
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		e := v.kv[k]
		b = appendString(b, k)
		b = binary.AppendUvarint(b, e.rev)
		b = binary.AppendUvarint(b, uint64(len(e.value)))
		b = append(b, e.value...)
		v.slice.tick()
		pace()
	}
	ids := v.ids
	if ids == nil {
		ids = idindex.New(id) // only a store without events has none
	}
	b = ids.AppendSlots(b)
	b = v.ret.appendSection(b)
	binary.LittleEndian.PutUint64(b[16:], uint64(len(b)-24))
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	return append(b, ckptMagic[:4]...)
}

// appendKvRuns encodes the kv runs v names as format ver does: from
// format 10 the count of runs, each run oldest first, then the count of
// keys with a value, runs and changes; formats 7 to 9 name one run at
// most, its count of keys with a value all keys' (uvarint generation, 0
// for none).
func (v *ckptView) appendKvRuns(b []byte, ver uint32) []byte {
	ref := func(b []byte, r kvRunRef, live uint64) []byte {
		b = binary.AppendUvarint(b, r.gen)
		b = binary.LittleEndian.AppendUint32(b, r.hdrCRC)
		b = binary.AppendUvarint(b, r.entries)
		return binary.AppendUvarint(b, live)
	}
	switch {
	case ver >= ckptVersionKvTiers:
		b = binary.AppendUvarint(b, uint64(len(v.kvRefs)))
		for _, r := range v.kvRefs {
			b = ref(b, r, r.live)
		}
		if len(v.kvRefs) == 0 {
			return binary.AppendUvarint(b, 0) // the keys that follow count
		}
		return binary.AppendUvarint(b, uint64(v.kvLive))
	case ver >= ckptVersionKvRun && len(v.kvRefs) == 0:
		return binary.AppendUvarint(b, 0)
	case ver >= ckptVersionKvRun:
		// Only a set of one run is written as an older format (a test's).
		return ref(b, v.kvRefs[0], uint64(v.kvLive))
	}
	return b
}

// decodeKvRuns reads what appendKvRuns wrote into st.kvRefs and
// st.kvLive (which the keys that follow add to).
func (st *state) decodeKvRuns(d *decoder, v uint32) {
	ref := func() kvRunRef {
		r := kvRunRef{gen: d.uvarint()}
		if r.gen == 0 || len(d.b) < 4 {
			d.fail()
			return r
		}
		r.hdrCRC = binary.LittleEndian.Uint32(d.b)
		d.b = d.b[4:]
		r.entries = d.uvarint()
		r.live = d.uvarint()
		if r.live > r.entries {
			d.fail()
		}
		return r
	}
	switch {
	case v >= ckptVersionKvTiers:
		n := d.count(7)
		var prev uint64
		for range n {
			if d.err != nil {
				return
			}
			r := ref()
			if r.gen <= prev {
				d.fail() // oldest first, each once
				return
			}
			prev = r.gen
			st.kvRefs = append(st.kvRefs, r)
		}
		live := d.uvarint()
		if n == 0 && live != 0 || live > 1<<62 {
			d.fail()
		}
		st.kvLive = int(live)
	case v >= ckptVersionKvRun:
		if len(d.b) > 0 && d.b[0] == 0 {
			d.b = d.b[1:] // no run
			return
		}
		r := ref()
		st.kvRefs, st.kvLive = []kvRunRef{r}, int(r.live)
	}
}

// appendLoc encodes a delta, and a location relative to the previous one:
// the segment as a delta, the offset as a delta within the same segment.
func appendLoc(b []byte, delta uint64, prev, l loc) []byte {
	b = binary.AppendUvarint(b, delta)
	b = binary.AppendUvarint(b, uint64(l.seg-prev.seg))
	if l.seg == prev.seg {
		return binary.AppendUvarint(b, uint64(l.off-prev.off))
	}
	return binary.AppendUvarint(b, uint64(l.off))
}

func (d *decoder) loc(prev loc) (uint64, loc) {
	delta := d.uvarint()
	ds := d.uvarint()
	off := d.uvarint()
	if ds > 1<<32 || off > 1<<32 {
		d.fail()
	}
	l := loc{seg: prev.seg + uint32(ds), off: uint32(off)}
	if ds == 0 {
		l.off = prev.off + uint32(off)
	}
	return delta, l
}

func decodeCheckpoint(b []byte, id [16]byte) (resume, *state, error) {
	var r resume
	if len(b) < 24+16+8 || [8]byte(b[:8]) != ckptMagic {
		return r, nil, errors.New("not a checkpoint file")
	}
	v := binary.LittleEndian.Uint32(b[8:])
	if v < ckptVersion1 || v > ckptVersion {
		return r, nil, fmt.Errorf("unknown format version %d", v)
	}
	if binary.LittleEndian.Uint32(b[12:]) != 0 {
		return r, nil, errors.New("the four zero bytes after the format version are not zero")
	}
	n := binary.LittleEndian.Uint64(b[16:])
	if n != uint64(len(b)-24-8) {
		return r, nil, errors.New("body length does not match the file")
	}
	if [4]byte(b[len(b)-4:]) != [4]byte(ckptMagic[:4]) {
		return r, nil, errors.New("checkpoint trailer is not \"pers\"")
	}
	end := 24 + int(n)
	if got, want := crc32.Checksum(b[:end], castagnoli), binary.LittleEndian.Uint32(b[end:]); got != want {
		return r, nil, fmt.Errorf("checksum mismatch: stored %08x, computed %08x", want, got)
	}
	if [16]byte(b[24:40]) != id {
		return r, nil, errors.New("checkpoint of another store")
	}
	d := decoder{b: b[40:end]}
	r.seg = d.uvarint()
	r.off = int64(d.uvarint())
	if len(d.b) < 4 {
		return r, nil, errPayload
	}
	r.crc = binary.LittleEndian.Uint32(d.b)
	d.b = d.b[4:]
	r.lsn = d.uvarint()
	r.version = v
	if v >= ckptVersion3 {
		r.last = int64(d.uvarint())
		if len(d.b) < 4 {
			return r, nil, errPayload
		}
		r.sum = binary.LittleEndian.Uint32(d.b)
		d.b = d.b[4:]
		if r.last < 0 || r.last >= r.off {
			return r, nil, errors.New("malformed checkpoint resume point")
		}
	}
	st := newState()
	st.lsn = r.lsn
	st.lastPos = d.uvarint()
	st.rev = d.uvarint()
	st.lastAt = d.varint()
	st.events = d.uvarint()
	st.commits = d.uvarint()
	if v >= ckptVersionIndex {
		ni := d.count(9)
		var seg uint32
		for range ni {
			if d.err != nil {
				break
			}
			e := segIdx{seg: seg + d.u32(), firstPos: d.uvarint(), lastPos: d.uvarint(), nPos: d.u32(), nStream: d.u32()}
			if len(d.b) < 4 || e.seg <= seg || e.lastPos > st.lastPos || e.nPos > 0 && (e.firstPos == 0 || e.firstPos > e.lastPos) ||
				len(st.indexed) > 0 && e.lastPos < st.indexed[len(st.indexed)-1].lastPos {
				d.fail()
				break
			}
			e.hdrCRC = binary.LittleEndian.Uint32(d.b)
			d.b = d.b[4:]
			if v >= ckptVersionIDFiles {
				if ids := d.uvarint(); ids > 0 {
					e.ids, e.nID = true, uint32(min(ids-1, 1<<32-1))
					if ids-1 > 0 && (e.nPos == 0 || ids-1 > e.lastPos-e.firstPos+1) {
						d.fail()
						break
					}
				}
			}
			if v >= ckptVersionStreamDir {
				if dir := d.uvarint(); dir > 0 {
					e.dir, e.nDir, e.nNameBlk = true, uint32(min(dir-1, 1<<32-1)), d.u32()
					if !e.ids || dir-1 > uint64(e.nStream) || dir-1 > 0 && e.nNameBlk == 0 {
						d.fail()
						break
					}
				}
			}
			st.indexed = append(st.indexed, e)
			seg = e.seg
		}
	}
	if v >= ckptVersionStreamRuns {
		// The stream runs, oldest first, each once.
		nr := d.count(6)
		var prev uint64
		for range nr {
			r := kvRunRef{gen: d.uvarint()}
			if d.err != nil || r.gen <= prev || len(d.b) < 4 {
				d.fail()
				break
			}
			r.hdrCRC = binary.LittleEndian.Uint32(d.b)
			d.b = d.b[4:]
			r.entries = d.uvarint()
			r.live = r.entries
			prev = r.gen
			st.stRefs = append(st.stRefs, r)
		}
		if v >= ckptVersionStreamCount {
			st.stOnly, st.stCounted = int(min(d.uvarint(), 1<<40)), true
		}
	}
	// A stream takes 5 bytes at least: its name (a length and a byte),
	// head, runs, newest directory (format 11) and chunks, all of whose
	// locations may lie in index files.
	ns := d.count(5)
	for range ns {
		if d.err != nil {
			break
		}
		name := string(d.bytes())
		x := &streamIdx{head: d.uvarint()}
		if v == ckptVersion1 {
			if len(d.b) < 16 {
				d.fail()
				break
			}
			d.b = d.b[16:] // the stream's last event ID, no longer kept
		}
		if v >= ckptVersionIndex {
			nr := d.count(4)
			var rseq uint64
			var rseg uint32
			for range nr {
				if d.err != nil {
					break
				}
				r := run{seq: rseq + d.uvarint(), seg: rseg + d.u32(), first: d.u32(), n: d.u32()}
				e := st.indexedSeg(r.seg)
				if e == nil || e.dir || r.n == 0 || r.seq <= rseq || r.first < e.streamBase() || uint64(r.first)+uint64(r.n) > uint64(e.streamBase())+uint64(e.nStream) {
					d.fail()
					break
				}
				x.runs = append(x.runs, r)
				rseq, rseg = r.seq, r.seg
			}
		}
		if v >= ckptVersionStreamDir {
			x.dir = d.u32()
			if x.dir != 0 {
				// The newest file of version 3 holding the stream; its
				// runs lie in older files, of version 1 or 2.
				e := st.indexedSeg(x.dir)
				if e == nil || !e.dir || len(x.runs) > 0 && x.runs[len(x.runs)-1].seg >= x.dir {
					d.fail()
				}
			}
		}
		nc := d.count(3)
		x.chunks = withCap(nc)
		var seq uint64
		var l loc
		for range nc {
			delta, nl := d.loc(l)
			seq, l = seq+delta, nl
			x.chunks.add(seq, l)
		}
		st.streams[name] = x
	}
	np := d.count(3)
	st.positions = withCap(np)
	var pos uint64
	var l loc
	for range np {
		delta, nl := d.loc(l)
		pos, l = pos+delta, nl
		st.positions.add(pos, l)
	}
	st.decodeKvRuns(&d, v)
	nk := d.count(3)
	if len(st.kvRefs) != 0 && nk != 0 {
		d.fail()
	}
	st.kvLive += nk
	for range nk {
		if d.err != nil {
			break
		}
		k := string(d.bytes())
		e := &kvEntry{rev: d.uvarint()}
		if v := d.bytes(); len(v) > 0 {
			e.value = append([]byte(nil), v...)
		}
		st.kv[k] = e
		st.kvBytes += kvEntryBytes(k, e.value)
	}
	if d.err == nil && v == ckptVersion2 {
		// An ID index in the encoding of version 2, which this version
		// rebuilds from the log: the checksum above covers it.
		d.b = nil
	}
	if d.err == nil && v >= ckptVersion3 {
		// Version 3 indexed every event, each table's position bits its
		// size's; version 4 only the events whose IDs do not name their
		// own position, none past the last.
		decode, dense := idindex.DecodeSlots, v == ckptVersion3
		if dense {
			decode = idindex.DecodeDenseSlots
		}
		ids, rest, err := decode(d.b, id)
		if err != nil || ids.Len() > int(st.lastPos) || ids.Last() > st.lastPos || dense && ids.Len() != int(st.lastPos) {
			return r, nil, errors.New("malformed checkpoint ID index")
		}
		d.b = rest
		st.ids = ids
		for name, x := range st.streams {
			x.key = ids.StreamKey(name)
		}
	}
	if v >= ckptVersionRetention {
		st.ret.decodeSection(&d, v)
	} else {
		st.ret.hist.seed(st.kv, st.rev)
	}
	if d.err != nil || len(d.b) != 0 {
		return r, nil, errors.New("malformed checkpoint body")
	}
	if st.stCounted {
		// The count takes in the section's streams, which are all of them
		// when no run is named.
		if n := st.stOnly; n < len(st.streams) || len(st.stRefs) == 0 && n != len(st.streams) {
			return r, nil, fmt.Errorf("malformed checkpoint: it counts %d streams, its section holds %d and it names %d stream runs", n, len(st.streams), len(st.stRefs))
		}
		st.stOnly -= len(st.streams)
	}
	st.kvBytes += int64(len(st.ret.hist.recs)) * kvRecBytes
	if len(st.kvRefs) == 0 {
		for k := range st.ret.hist.keys {
			if st.kv[k] == nil {
				st.kvBytes += kvEntryBytes(k, nil) // a deleted key's history (apply)
			}
		}
	}
	st.namesDirty, st.keysDirty = true, true
	return r, st, nil
}

func listCheckpoints(p *effect.P, dir string) ([]uint64, error) {
	ents, err := listDir(p, dir)
	if err != nil {
		return nil, err
	}
	var lsns []uint64
	for _, e := range ents {
		if lsn, ok := parseCkptName(e.Name); ok && !e.IsDir {
			lsns = append(lsns, lsn)
		}
	}
	return lsns, nil // sorted: fixed-width hex names
}

// checkpoint writes the index as of the end of the durable log, then
// removes checkpoints before the previous one. The caller owns the log
// (Close). A failed store writes none: what its index holds may not be
// what its log holds.
func (s *Store) checkpoint(p *effect.P) error {
	v := s.captureCheckpoint(true)
	if v == nil {
		return nil
	}
	return s.writeCheckpoint(p, v)
}

// ckptPiece is how much of a checkpoint is written before it is synced:
// a file of tens of MiB flushed by one fsync fills the device's queue,
// and the commits' fdatasyncs would wait behind it.
const ckptPiece = 4 << 20

// ckptPieceBeside is the piece of a checkpoint written beside commits
// (checkpointBeside): the commits' fdatasyncs wait in the device queue
// (and, on ext4, for the journal commit that carries the file's data)
// behind at most one piece, a fraction of a millisecond of writing.
const ckptPieceBeside = 256 << 10

// writePieces creates path and writes data into it in pieces of piece
// bytes, syncing each piece's data (fdatasync) before the next is
// written and calling between (when set) after each piece is synced,
// and fsyncs it.
func writePieces(p *effect.P, path string, data []byte, piece int, between func()) error {
	fd, err := openFile(p, path, os.O_RDWR|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return err
	}
	for off := 0; err == nil && off < len(data); off += piece {
		end := min(off+piece, len(data))
		if err = writeAt(p, fd, int64(off), data[off:end]); err == nil && end < len(data) {
			if err = fdatasync(p, fd); err == nil && between != nil {
				between()
			}
		}
	}
	if err == nil {
		err = fsync(p, fd)
	}
	if cerr := closeFile(p, fd); err == nil {
		err = cerr
	}
	return err
}

// ckptDue reports whether a group-commit leader should capture a
// checkpoint: enough log followed the last one, or the kv changes since
// it take more heap than Options.KvBufferBytes, and none is being
// written. The leader alone changes the state (under mu, which it
// need not take to read it).
func (s *Store) ckptDue() bool {
	// A run takes only what it holds keys for (writeKvRun): with none,
	// a checkpoint would free nothing of the count and be due again.
	kvDue := s.opts.KvBufferBytes > 0 && s.st.kvBytes >= s.opts.KvBufferBytes &&
		(len(s.st.kv) > 0 || len(s.st.ret.hist.keys) > 0)
	if s.opts.CheckpointBytes <= 0 && !kvDue {
		return false
	}
	s.ckMu.Lock()
	defer s.ckMu.Unlock()
	return !s.ckptBusy && (kvDue || s.opts.CheckpointBytes > 0 && s.bytes-s.ckptBytes >= s.opts.CheckpointBytes)
}

// kvStall waits, as the group-commit leader of a store whose
// checkpoints are written beside commits, for the one being written to
// end when the kv changes since the last run take twice
// Options.KvBufferBytes or more: the writers outran it, and their
// changes would otherwise grow without bound while it rests for their
// groups. The leader then has the next one written (ckptDue), which the
// checkpoint's drop, applied at its claim, makes smaller.
func (s *Store) kvStall() {
	if s.opts.Background == nil || s.opts.KvBufferBytes <= 0 || s.st.kvBytes < 2*s.opts.KvBufferBytes {
		return
	}
	s.ckMu.Lock()
	s.waitCheckpointIdle()
	s.ckMu.Unlock()
}

// captureCheckpoint captures the index as of the end of the durable log
// (viewOf), for writeCheckpoint, and marks a checkpoint in progress; it
// gives nil when the store is failed, when one is already in progress
// (unless wait, which waits for it), or when the last one covers the
// same LSN. The caller owns the log: the group-commit leader, or Close.
func (s *Store) captureCheckpoint(wait bool) *ckptView {
	s.mu.RLock()
	failed := s.failed
	s.mu.RUnlock()
	if failed != nil {
		return nil
	}
	s.ckMu.Lock()
	defer s.ckMu.Unlock()
	if wait {
		s.waitCheckpointIdle()
	}
	if d := s.pendDrop.Swap(nil); d != nil {
		s.mu.Lock()
		s.st.applyDrop(d)
		s.mu.Unlock()
	}
	r := resume{seg: s.active.id, off: s.off, crc: s.lastCRC, lsn: s.st.lsn, last: s.lastOff, sum: s.segSum, version: ckptVersion}
	if s.ckptBusy || r.lsn == s.ckptLSN {
		return nil
	}
	s.ckptBusy = true
	v := markOrdered(r, s.st, nil, false, &s.ckOrd)
	v.bytes = s.bytes
	return v
}

// writeCheckpoint writes the checkpoint of v (tmp, fsync, rename,
// directory fsync), then removes checkpoints before the previous one. It
// runs beside commits, on the handle of the goroutine that captured v
// once it has handed the leadership on (or of Close), and holds nothing
// commits need but for the instant of the rename: under the state's read
// lock, so that a store that failed meanwhile renames none.
func (s *Store) writeCheckpoint(p *effect.P, v *ckptView) (err error) {
	defer func() {
		v.keepOrder(&s.ckOrd, s.st) // before the next may start
		if v.beside {
			s.keepHeads(v)
		}
		s.ckMu.Lock()
		s.ckptBusy = false
		if err == nil {
			s.ckptLSN, s.ckptBytes = v.r.lsn, v.bytes
		}
		s.ckDone.Broadcast()
		s.ckMu.Unlock()
	}()
	if v.idsLive != nil {
		// Commits change the ID index only under mu held exclusively.
		v.ids = v.idsLive.CopyAsOf(v.idsMark, func() func() { s.mu.RLock(); return s.mu.RUnlock })
		v.idsLive = nil
	}
	s.mu.Lock()
	retired := append(s.st.kvRetired, s.st.stRetired...)
	s.st.kvRetired, s.st.stRetired = nil, nil
	s.mu.Unlock()
	for _, r := range retired {
		_ = r.close(p)
	}
	d, err := s.writeIndexes(p, v)
	if err != nil {
		return err
	}
	base := v.kvRuns
	runs, err := s.writeKvRun(p, v)
	if err != nil {
		return err
	}
	published := false // d is the pending drop: the state takes its runs
	stBase := v.stRuns
	stRuns, stHeads, err := s.writeStreamRuns(p, v, d)
	if err != nil {
		if runs != nil {
			_ = runs.newest().close(p)
		}
		return err
	}
	if stRuns != nil {
		if d == nil {
			d = &drop{}
		}
		d.stRuns, d.stHeads, d.kvCache = stRuns, stHeads, s.kvCache()
		defer func() {
			if err != nil && !published {
				_ = stRuns.newest().close(p)
			}
		}()
	}
	if runs != nil {
		if d == nil {
			d = &drop{}
		}
		d.kvRuns, d.kvRev, d.kvCache = runs, v.rev, s.kvCache()
		defer func() {
			// Once published, a drop is taken (by the next group's
			// publish, capture or Close), even when this fails after;
			// a run of a drop never published the state never takes.
			if err != nil && !published {
				_ = runs.newest().close(p)
			}
		}()
	}
	path := filepath.Join(s.logDir, ckptName(v.r.lsn))
	tmp := path + tmpSuffix
	piece, between := ckptPiece, func() {}
	if v.beside {
		piece, between = ckptPieceBeside, v.pace
	}
	if err := writePieces(p, tmp, v.encode(s.id), piece, between); err != nil {
		_ = remove(p, tmp)
		return fmt.Errorf("file: write checkpoint: %w", err)
	}
	s.mu.RLock()
	failed := s.failed
	if failed == nil {
		_, err = effect.Perform(p, platform.Rename{From: tmp, To: path})
	}
	s.mu.RUnlock()
	if failed != nil || err != nil {
		_ = remove(p, tmp)
		if failed != nil {
			return fmt.Errorf("%w: no checkpoint: %w", ErrFailed, failed)
		}
		return fmt.Errorf("file: write checkpoint: %w", err)
	}
	// The checkpoint is in place and kept by the next one, whether or not
	// the state takes its runs: the next keeps them on the disk.
	prevGens, prevSt := s.ckptRunGens, s.ckptStGens
	s.ckptRunGens = kvRefGens(v.kvRefs)
	s.ckptStGens = v.stRuns.gens()
	if err := syncDir(p, s.logDir); err != nil {
		return fmt.Errorf("file: write checkpoint: %w", err)
	}
	if d != nil {
		s.pendDrop.Store(d)
		published = true
	}
	lsns, err := listCheckpoints(p, s.logDir)
	if err != nil {
		return fmt.Errorf("file: list checkpoints: %w", err)
	}
	if len(lsns) > ckptKeepGen {
		for _, old := range lsns[:len(lsns)-ckptKeepGen] {
			if err := remove(p, filepath.Join(s.logDir, ckptName(old))); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("file: remove old checkpoint: %w", err)
			}
		}
		if err := syncDir(p, s.logDir); err != nil {
			return fmt.Errorf("file: sync log directory: %w", err)
		}
	}
	if runs != nil && base != nil {
		keep := append(append(base.gens(), runs.gens()...), prevGens...)
		if err := s.removeOldKvRuns(p, keep, runs.newest().gen); err != nil {
			return fmt.Errorf("file: remove old kv runs: %w", err)
		}
	}
	if v.version == 0 || v.version >= ckptVersionStreamRuns {
		// Whether or not this one wrote a run: a checkpoint writes one
		// only of streams whose records all lie in index files, so many
		// write none, and the runs a fold replaced (which the checkpoint
		// before kept), or those a crash left before their removal,
		// would stay until one did.
		keep := append(append(stBase.gens(), v.stRuns.gens()...), prevSt...)
		if err := s.removeOldStreamRuns(p, keep, v.r.lsn); err != nil {
			return fmt.Errorf("file: remove old stream runs: %w", err)
		}
	}
	return nil
}

// kvRefGens is the generations of the runs refs name.
func kvRefGens(refs []kvRunRef) []uint64 {
	out := make([]uint64, len(refs))
	for i, r := range refs {
		out[i] = r.gen
	}
	return out
}

// loadCheckpoint finds the newest checkpoint that validates (a damaged
// one falls back to the one before), of those below LSN below when it is
// not 0, passing over those that name a run of damaged (runs a replay
// after a newer checkpoint found damaged: recover); it returns ok false
// when there is none.
func (s *Store) loadCheckpoint(p *effect.P, segIDs []uint64, below uint64, damaged []string) (resume, *state, bool, error) {
	lsns, err := listCheckpoints(p, s.logDir)
	if err != nil {
		return resume{}, nil, false, fmt.Errorf("file: list checkpoints: %w", err)
	}
	for i := len(lsns) - 1; i >= 0; i-- {
		if below != 0 && lsns[i] >= below {
			continue
		}
		b, err := readFile(p, filepath.Join(s.logDir, ckptName(lsns[i])))
		if s.readOnly && errors.Is(err, fs.ErrNotExist) {
			continue // the writer removed it since the listing
		}
		if err != nil {
			return resume{}, nil, false, fmt.Errorf("file: read checkpoint: %w", err)
		}
		r, st, err := decodeCheckpoint(b, s.id)
		if err == nil && r.lsn == lsns[i] && slices.ContainsFunc(damaged, func(run string) bool { return s.namesRun(st, run) }) {
			s.report.CheckpointsSkipped++
			continue // its runs are not opened: nothing to close
		}
		if err == nil && r.lsn == lsns[i] {
			// A kv run that is missing or does not validate is rebuilt
			// from the log: by an older checkpoint's, or a full replay.
			err = s.openKvRunOf(p, st)
			var missing *kvRunMissing
			if err != nil && !errors.Is(err, ErrCorrupt) && !errors.As(err, &missing) {
				// An IO error is not damage: fail, as a read of the
				// checkpoint file does, and as Verify does.
				return resume{}, nil, false, fmt.Errorf("file: open the kv runs of %s: %w", ckptName(lsns[i]), err)
			}
			if err == nil {
				// So is a stream run's: missing or damaged, the
				// heads come from an older checkpoint or the log.
				err = s.openStreamRunOf(p, st, false)
				var stMissing *streamRunMissing
				if err != nil && !errors.Is(err, ErrCorrupt) && !errors.As(err, &stMissing) {
					_ = st.kvRuns.close(p)
					return resume{}, nil, false, fmt.Errorf("file: open the stream runs of %s: %w", ckptName(lsns[i]), err)
				}
				if err != nil {
					_ = st.kvRuns.close(p)
					st.kvRuns = nil
				}
			}
		}
		if err != nil || r.lsn != lsns[i] {
			s.report.CheckpointsSkipped++
			continue // damaged: an older one, or a full replay
		}
		if s.readOnly {
			st.ids = nil // a follower never writes: it keeps no ID index
		}
		if s.readOnly && len(segIDs) > 0 && r.seg > segIDs[len(segIDs)-1] {
			// Written after a roll the segment listing missed: use an
			// older one (or replay) rather than list again, closing the
			// runs opened for it (a follower's stream runs keep their
			// files open from their open).
			closeRunsOf(p, st)
			s.report.CheckpointsSkipped++
			continue
		}
		if len(segIDs) == 0 || r.seg < segIDs[0] || r.seg > segIDs[len(segIDs)-1] {
			closeRunsOf(p, st)
			return resume{}, nil, false, corrupt(filepath.Join(s.logDir, ckptName(lsns[i])), 0,
				"the checkpoint covers segment %d, which the log does not hold", r.seg)
		}
		return r, st, true, nil
	}
	return resume{}, nil, false, nil
}

// closeRunsOf closes the kv and stream runs opened for st, a decoded
// checkpoint loadCheckpoint does not take.
func closeRunsOf(p *effect.P, st *state) {
	_ = st.kvRuns.close(p)
	_ = st.stRuns.close(p)
	st.kvRuns, st.stRuns = nil, nil
}

// claimCheckpoint marks a checkpoint in progress for checkpointBeside to
// capture and write, unless the store is failed or one is in progress;
// first it applies the drop the last checkpoint left (as
// captureCheckpoint does), so that none is pending until the new one
// makes its own. The caller owns the log: the group-commit leader that
// found one due, with Options.Background set.
func (s *Store) claimCheckpoint() bool {
	s.mu.RLock()
	failed := s.failed
	s.mu.RUnlock()
	if failed != nil {
		return false
	}
	s.ckMu.Lock()
	defer s.ckMu.Unlock()
	if s.ckptBusy {
		return false
	}
	if d := s.pendDrop.Swap(nil); d != nil {
		s.mu.Lock()
		s.st.applyDrop(d)
		s.mu.Unlock()
	}
	s.ckptBusy = true
	return true
}

// checkpointBeside captures and writes, on a goroutine of the store's
// own and a handle over Options.Background, the checkpoint a leader
// claimed (claimCheckpoint), so that neither the leader's commit nor
// the leadership waits for any of it; Close waits for it. Its errors
// are kept for Stats (noteCheckpoint) and, as any failed checkpoint,
// leave the next due one to try again.
func (s *Store) checkpointBeside() {
	s.ckWG.Add(1)
	go func() {
		defer s.ckWG.Done()
		v := s.captureBeside()
		if v == nil {
			s.ckMu.Lock()
			s.ckptBusy = false
			s.ckDone.Broadcast()
			s.ckMu.Unlock()
			return
		}
		p := effect.Handle(context.Background(), s.opts.Background)
		s.noteCheckpoint(s.writeCheckpoint(p, v))
	}()
}

// captureBeside captures, as captureCheckpoint does, the index as of
// the end of the durable log, but beside the group-commit leader rather
// than as it: under the state's read lock, since a leader publishes a
// group's records, the end of the log and the index together under the
// write lock (runGroup, roll). So a leader waits for the capture only if
// it publishes meanwhile, and then only for the rest of it. It gives nil
// when the store is failed, when the last checkpoint covers the same
// LSN, or when a drop is pending, which only the owner of the log
// applies (none is: claimCheckpoint applied it, and only a checkpoint
// makes one).
func (s *Store) captureBeside() *ckptView {
	s.ckMu.Lock()
	last := s.ckptLSN
	s.ckMu.Unlock()
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.failed != nil || s.pendDrop.Load() != nil || s.st.lsn == last {
		return nil
	}
	r := resume{seg: s.active.id, off: s.off, crc: s.lastCRC, lsn: s.st.lsn, last: s.lastOff, sum: s.segSum, version: ckptVersion}
	heads := s.ckStreams
	if n := s.st.ckCount(false); cap(heads) < n {
		// Room for the streams made before the next few checkpoints
		// too: an array of the exact count would be one stream short
		// for the next capture of a store that makes streams as it goes.
		heads = make([]streamView, 0, n+max(n/8, 64))
	}
	v := markOrdered(r, s.st, heads, false, &s.ckOrd)
	s.ckStreams = nil
	v.bytes, v.beside, v.pace, v.slice = s.bytes, true, s.pacer(), &ckptSlicer{last: time.Now()}
	return v
}

// keepHeads keeps the array of stream heads of v, a checkpoint beside
// commits that ended, for the next one to capture into (ckStreams),
// cleared so that it holds no chunks of the index alive (captureBeside
// makes it an eighth larger than the stream count, so that the streams
// made meanwhile fit). Capturing into
// a fresh array of 10,000 heads under the state's read lock took three
// times as long (1.7 ms against 0.5 ms at load 7): most of it was the
// zeroing of the 800 KB and, while a collection ran, the write barriers
// of a new span, and the leader that publishes meanwhile waits for all
// of it.
func (s *Store) keepHeads(v *ckptView) {
	heads := v.streams[:cap(v.streams)]
	clear(heads)
	s.ckStreams = heads[:0]
}

// After a piece of its work a checkpoint beside commits rests for
// ckptRestFactor times as long as the piece took, ckptRestMax at most
// (pacer).
const (
	ckptRestFactor = 2
	ckptRestMax    = 10 * time.Millisecond
)

// pacer gives the function a checkpoint written beside commits calls
// (from its one goroutine) between two pieces of its work (reading a sealed segment, encoding,
// writing and syncing a file): it lets the log have the device and the
// CPU for twice as long as the piece since the last call took (up to
// ckptRestMax), and until the next group is published (yieldToLog), so
// that the checkpoint takes about a third of either at most while
// commits go on, whatever its pieces cost on a loaded machine.
func (s *Store) pacer() func() {
	last := time.Now()
	return func() {
		if !s.paceRests() || !s.commitsWaiting() {
			last = time.Now()
			return
		}
		rest := min(ckptRestFactor*time.Since(last), ckptRestMax)
		until := time.Now().Add(rest)
		s.yieldToLog()
		if d := time.Until(until); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-s.closedCh:
			case <-t.C:
			}
			t.Stop()
		}
		last = time.Now()
	}
}

// paceRests reports whether a checkpoint beside commits rests after a
// piece of its work (pacer): not once the store is closing, nor while a
// caller waits for the checkpoint to end (waitCheckpointIdle: Compact,
// the checkpoint of Close), which would otherwise wait for every rest as
// well as the work, about three times as long, with no commit to let in.
func (s *Store) paceRests() bool {
	return !s.closed.Load() && s.ckWaiters.Load() == 0
}

// commitsWaiting reports whether a commit is in flight: a group being
// written or a writer queued for the next. With none, a checkpoint beside
// commits does not rest after a piece (pacer): the rest is there to let
// the log have the device and the CPU, and with no group to come it
// would wait for nothing. A commit that arrives meanwhile waits for one
// piece at most before the checkpoint rests for it.
func (s *Store) commitsWaiting() bool {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.leading || len(s.queue) > 0
}

// ckptSlice is how long a checkpoint beside commits computes, within a
// piece of its work, before it lets any goroutine that waits for a core
// run (ckptSlicer). The pieces are a millisecond or more of a core (a
// sort of 10,000 stream names alone is several): without it the group
// leader that is handed the leadership meanwhile waits for a core the
// checkpoint holds until its piece ends, on a machine with few cores,
// and that wait is what the commits' p99 grew by.
const ckptSlice = 100 * time.Microsecond

// ckptSlicer lets the scheduler run waiting goroutines between two slices
// of a checkpoint's computation. A nil slicer (a checkpoint not beside
// commits) does nothing.
type ckptSlicer struct {
	n      int
	last   time.Time
	yields int // how many times it yielded
}

// tick counts a unit of work (an entry encoded, a comparison sorted) and,
// once ckptSlice has passed since the last yield, yields the core
// (runtime.Gosched), which returns at once when no goroutine waits. It
// reads the clock once every 32 ticks.
func (y *ckptSlicer) tick() {
	if y == nil {
		return
	}
	y.n++
	if y.n%32 != 0 {
		return
	}
	if now := time.Now(); now.Sub(y.last) >= ckptSlice {
		runtime.Gosched()
		y.last = time.Now()
		y.yields++
	}
}

// waitCheckpointIdle waits, ckMu held, until no checkpoint is in
// progress; meanwhile one beside commits rests no more (paceRests).
func (s *Store) waitCheckpointIdle() {
	if !s.ckptBusy {
		return
	}
	s.ckWaiters.Add(1)
	for s.ckptBusy {
		s.ckDone.Wait()
	}
	s.ckWaiters.Add(-1)
}

// yieldToLog lets the log have the device between two pieces of a
// checkpoint written beside commits: it waits until the next group is
// published (its fdatasync done), for 2 ms at most, or until Close.
func (s *Store) yieldToLog() {
	s.mu.RLock()
	ch := s.notify
	s.mu.RUnlock()
	t := time.NewTimer(2 * time.Millisecond)
	defer t.Stop()
	select {
	case <-ch:
	case <-s.closedCh:
	case <-t.C:
	}
}

// noteCheckpoint counts a checkpoint written beside commits and keeps
// the error of the last one, for Stats.
func (s *Store) noteCheckpoint(err error) {
	s.ckMu.Lock()
	s.ckRuns++
	s.ckErr = err
	if err != nil {
		s.ckFails++
	}
	s.ckMu.Unlock()
}

// waitCheckpoint waits for the background checkpoint in progress, if
// any, to end (Close).
func (s *Store) waitCheckpoint() { s.ckWG.Wait() }
