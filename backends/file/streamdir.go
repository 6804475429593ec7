package file

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"sort"
	"strings"
	"sync"

	"rose-ash.com/persist/effect"
)

// A segment index file of version 3 adds to version 2 the segment's
// stream directory: one entry per stream with events in the segment, by
// hash of its name, naming its entries in the file's stream runs and the
// previous indexed segment holding the stream, so that memory keeps per
// stream only the newest indexed segment that holds it. See the package
// doc (Segment index files).

const (
	idxVersion3  = 3
	dirEntrySize = 32
	dirPerBlock  = (idxBlockSize - 4) / dirEntrySize // 127
	nameBlock    = idxBlockSize - 4                  // name bytes a block
)

// dirHash is the directory's hash of a stream name (FNV-1a, 64 bits);
// a variable so that a test can make names collide.
var dirHash = func(name string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(name); i++ {
		h ^= uint64(name[i])
		h *= 1099511628211
	}
	return h
}

// dirFirst is the block number of e's first directory block.
func (e *segIdx) dirFirst() uint32 { return e.filterFirst() + e.filterBlocks() }

// nameFirst is the block number of e's first name block.
func (e *segIdx) nameFirst() uint32 { return e.dirFirst() + (e.nDir+dirPerBlock-1)/dirPerBlock }

// dirEnt is one stream's directory entry in a segment: its first seq
// there, its entries first..first+n-1 of the file's stream runs, the
// previous indexed segment holding it (0: none of version 3) and where
// its name lies in the name blocks.
type dirEnt struct {
	hash    uint64
	seq     uint64
	first   uint32
	n       uint32
	prev    uint32
	nameOff uint32
	idx     uint32 // its place in the directory
}

// encodeIndexDir gives the index file of version 3 of segment seg: the
// one of version 2 encodeIndex gives, with the stream directory of
// streams (sorted by name) after its filter, each stream's back-link the
// one prev gives at its place (the newest earlier segment whose file of
// version 3 holds it, 0 when none does).
func encodeIndexDir(id [16]byte, seg uint32, pos tailLocs, streams []segStreams, ids []idEntry, prev []uint32) ([]byte, segIdx, []run) {
	b, e, runs := encodeIndex(id, seg, pos, streams, ids, true)
	ents := make([]dirEnt, len(streams))
	for i, x := range streams {
		ents[i] = dirEnt{hash: dirHash(x.name), seq: runs[i].seq, first: runs[i].first, n: runs[i].n, prev: prev[i]}
	}
	order := make([]int, len(streams))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		if c := cmp.Compare(ents[a].hash, ents[b].hash); c != 0 {
			return c
		}
		return strings.Compare(streams[a].name, streams[b].name)
	})
	var names []byte
	for _, i := range order {
		ents[i].nameOff = uint32(len(names))
		names = binary.AppendUvarint(names, uint64(len(streams[i].name)))
		names = append(names, streams[i].name...)
	}
	e.dir, e.nDir = true, uint32(len(streams))
	e.nNameBlk = uint32((len(names) + nameBlock - 1) / nameBlock)
	old := e.dirFirst()
	nb := e.nameFirst() + e.nNameBlk
	b = append(b, make([]byte, int(nb-old)*idxBlockSize)...)
	for k, i := range order {
		o := idxHeader + int(old+uint32(k/dirPerBlock))*idxBlockSize + (k%dirPerBlock)*dirEntrySize
		x := ents[i]
		binary.LittleEndian.PutUint64(b[o:], x.hash)
		binary.LittleEndian.PutUint64(b[o+8:], x.seq)
		binary.LittleEndian.PutUint32(b[o+16:], x.first)
		binary.LittleEndian.PutUint32(b[o+20:], x.n)
		binary.LittleEndian.PutUint32(b[o+24:], x.prev)
		binary.LittleEndian.PutUint32(b[o+28:], x.nameOff)
	}
	nf := e.nameFirst()
	for k := 0; k < len(names); k += nameBlock {
		o := idxHeader + int(nf+uint32(k/nameBlock))*idxBlockSize
		copy(b[o:o+nameBlock], names[k:min(k+nameBlock, len(names))])
	}
	var sums []byte
	for blk := range nb {
		o := idxHeader + int(blk)*idxBlockSize
		if blk >= old {
			binary.LittleEndian.PutUint32(b[o+idxBlockSize-4:], blockSum(seg, blk, b[o:o+idxBlockSize-4]))
		}
		sums = append(sums, b[o+idxBlockSize-4:o+idxBlockSize]...)
	}
	binary.LittleEndian.PutUint32(b[8:], idxVersion3)
	binary.LittleEndian.PutUint32(b[12:], e.nDir)
	binary.LittleEndian.PutUint32(b[48:], nb)
	binary.LittleEndian.PutUint32(b[52:], crc32.Checksum(sums, castagnoli))
	e.hdrCRC = crc32.Checksum(b[:60], castagnoli)
	binary.LittleEndian.PutUint32(b[60:], e.hdrCRC)
	return b, e, runs
}

// blockGet gives block blk of one index file, checked.
type blockGet func(blk uint32) ([]byte, error)

// fileBlocks reads the blocks of an index file's bytes (already checked).
func fileBlocks(b []byte, e *segIdx) blockGet {
	return func(blk uint32) ([]byte, error) {
		o := idxHeader + int(blk)*idxBlockSize
		if o+idxBlockSize > len(b) {
			return nil, fmt.Errorf("%w: index of segment %d has no block %d", ErrCorrupt, e.seg, blk)
		}
		return b[o : o+idxBlockSize], nil
	}
}

// dirOff is the file offset of directory entry i of e.
func (e *segIdx) dirOff(i uint32) int64 {
	return idxHeader + int64(e.dirFirst()+i/dirPerBlock)*idxBlockSize + int64(i%dirPerBlock)*dirEntrySize
}

// entryGet gives the directory entry at off of block blk of one index
// file, checked (by value, so that a probe puts nothing on the heap).
type entryGet func(blk uint32, off int) ([dirEntrySize]byte, error)

// blockEntries gives the entries of the blocks get gives.
func blockEntries(get blockGet) entryGet {
	return func(blk uint32, off int) (ent [dirEntrySize]byte, err error) {
		b, err := get(blk)
		if err != nil {
			return ent, err
		}
		copy(ent[:], b[off:])
		return ent, nil
	}
}

// dirAt gives directory entry i of e, checked against the file's counts.
func dirAt(get blockGet, e *segIdx, i uint32) (dirEnt, error) {
	return dirEntAt(blockEntries(get), e, i)
}

// dirEntAt is dirAt reading the entry alone, where it lies.
func dirEntAt(get entryGet, e *segIdx, i uint32) (dirEnt, error) {
	ent, err := get(e.dirFirst()+i/dirPerBlock, int(i%dirPerBlock)*dirEntrySize)
	if err != nil {
		return dirEnt{}, err
	}
	b := ent[:]
	d := dirEnt{
		hash: binary.LittleEndian.Uint64(b), seq: binary.LittleEndian.Uint64(b[8:]),
		first: binary.LittleEndian.Uint32(b[16:]), n: binary.LittleEndian.Uint32(b[20:]),
		prev: binary.LittleEndian.Uint32(b[24:]), nameOff: binary.LittleEndian.Uint32(b[28:]), idx: i,
	}
	base := e.streamBase()
	switch {
	case d.seq == 0 || d.n == 0 || d.first < base || uint64(d.first)+uint64(d.n) > uint64(base)+uint64(e.nStream):
		return d, corrupt(idxName(e.seg), e.dirOff(i), "directory entry %d names no stream entries of the file", i)
	case d.prev >= e.seg:
		return d, corrupt(idxName(e.seg), e.dirOff(i), "directory entry %d links to segment %d, not an earlier one", i, d.prev)
	case uint64(d.nameOff) >= uint64(e.nNameBlk)*nameBlock:
		return d, corrupt(idxName(e.seg), e.dirOff(i), "directory entry %d names a name past the name blocks", i)
	}
	return d, nil
}

// nameAt reads the name at off of e's name blocks.
func nameAt(get blockGet, e *segIdx, off uint32, at int64) (string, error) {
	limit := uint64(e.nNameBlk) * nameBlock
	var buf []byte
	read := func(from uint64, n int) error {
		for n > 0 {
			if from >= limit {
				return corrupt(idxName(e.seg), at, "a name runs past the name blocks")
			}
			b, err := get(e.nameFirst() + uint32(from/nameBlock))
			if err != nil {
				return err
			}
			o := int(from % nameBlock)
			k := min(n, nameBlock-o)
			buf = append(buf, b[o:o+k]...)
			from += uint64(k)
			n -= k
		}
		return nil
	}
	// The length: a uvarint, at most 10 bytes, perhaps across a block.
	if err := read(uint64(off), int(min(10, limit-uint64(off)))); err != nil {
		return "", err
	}
	n, k := binary.Uvarint(buf)
	if k <= 0 || n > 1<<20 {
		return "", corrupt(idxName(e.seg), at, "a malformed name length")
	}
	start := uint64(off) + uint64(k)
	if start+n > limit {
		return "", corrupt(idxName(e.seg), at, "a name runs past the name blocks")
	}
	buf = buf[:0]
	if err := read(start, int(n)); err != nil {
		return "", err
	}
	return string(buf), nil
}

// dirFind gives the directory entry of stream name in e, and whether
// there is one. The entries are sorted by hash, then name; the name of a
// candidate is read and compared unless sure is set (the caller knows
// the stream is in the segment) and only one entry has the hash, so
// that two streams of one hash are both found.
func dirFind(get blockGet, e *segIdx, name string, h uint64, sure bool) (dirEnt, uint32, bool, error) {
	return dirFindAt(get, blockEntries(get), e, name, h, sure)
}

// dirFindAt is dirFind reading each directory entry it probes through
// ent, and names through get.
func dirFindAt(get blockGet, ent entryGet, e *segIdx, name string, h uint64, sure bool) (dirEnt, uint32, bool, error) {
	var err error
	n := int(e.nDir)
	key := func(i int) uint64 {
		if err != nil {
			return h
		}
		d, derr := dirEntAt(ent, e, uint32(i))
		if derr != nil {
			err = derr
			return h
		}
		return d.hash
	}
	lo := hashSearch(n, dirPerBlock, h, key)
	if err != nil {
		return dirEnt{}, 0, false, err
	}
	hi := lo
	for hi < n && key(hi) == h {
		hi++
	}
	if err != nil {
		return dirEnt{}, 0, false, err
	}
	for i := lo; i < hi; i++ {
		d, err := dirEntAt(ent, e, uint32(i))
		if err != nil {
			return d, 0, false, err
		}
		if sure && hi-lo == 1 {
			return d, uint32(i), true, nil
		}
		got, err := nameAt(get, e, d.nameOff, e.dirOff(uint32(i)))
		if err != nil {
			return d, 0, false, err
		}
		if got == name {
			return d, uint32(i), true, nil
		}
	}
	return dirEnt{}, 0, false, nil
}

// dirSteps caches chain steps, (segment, stream) to the stream's
// directory entry there, within a quarter of the index cache. Index
// files never change once named (a rebuilt one has the same bytes, and
// compaction and retention leave them as they are), so an entry never
// goes stale within the store's life.
type dirSteps struct {
	mu    sync.Mutex
	m     map[dirKey]dirEnt
	fifo  []dirKey
	bytes int
	max   int
	// evicted counts the steps evicted since the map was last made.
	evicted int
}

// stepCost is what a chain step costs its cache but its name's bytes:
// its map slot with the map's slack (a map's slots are a power of two
// and at most 7/8 full, so up to twice what its steps need) and its
// place in fifo (up to twice its 24 bytes, as the array grows), measured
// with the map remade after each round of evictions at 0.93 of the
// bound at most for bounds of 64 KiB to 4 MiB (TestStepCacheHeapWithinBound),
// where 144 measured 1.5.
const stepCost = 224

type dirKey struct {
	seg  uint32
	name string
}

func (c *dirSteps) get(k dirKey) (dirEnt, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.m[k]
	return d, ok
}

func (c *dirSteps) put(k dirKey, d dirEnt, limit int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m, c.max = make(map[dirKey]dirEnt), limit
	}
	if _, ok := c.m[k]; ok || c.max <= 0 {
		return
	}
	cost := func(k dirKey) int { return stepCost + len(k.name) }
	for c.bytes+cost(k) > c.max && len(c.fifo) > 0 {
		old := c.fifo[0]
		c.fifo = c.fifo[1:]
		delete(c.m, old)
		c.bytes -= cost(old)
		c.evicted++
	}
	if c.evicted > len(c.m) {
		// A map that deletes and inserts at its bound grows past the
		// size its entries need, and fifo's array keeps what was
		// evicted from its front: both are made anew at their size.
		m := make(map[dirKey]dirEnt, len(c.m)+1)
		for k, d := range c.m {
			m[k] = d
		}
		c.m, c.fifo, c.evicted = m, append(make([]dirKey, 0, len(c.fifo)+1), c.fifo...), 0
	}
	c.m[k] = d
	c.fifo = append(c.fifo, k)
	c.bytes += cost(k)
}

func (c *dirSteps) reset() {
	c.mu.Lock()
	c.m, c.fifo, c.bytes, c.evicted = nil, nil, 0, 0
	c.mu.Unlock()
}

// indexedIn gives the indexed segment seg of indexed (sorted), nil when
// it is not there.
func indexedIn(indexed []segIdx, seg uint32) *segIdx {
	i := sort.Search(len(indexed), func(i int) bool { return indexed[i].seg >= seg })
	if i < len(indexed) && indexed[i].seg == seg {
		return &indexed[i]
	}
	return nil
}

// walkDir calls fn with each segment of stream name's chain of
// directories, from head (the newest indexed segment of version 3
// holding it) back, until fn returns true or the chain ends. Each link
// is checked: it must name an earlier indexed segment of version 3 whose
// directory holds the stream with a first seq below the one before, else
// the walk is ErrCorrupt naming the file and offset of the link; the
// segments strictly fall, so the walk ends. It takes no lock: indexed is
// a copy or the caller holds the store's lock.
func walkDir(indexed []segIdx, name string, head uint32, step func(e *segIdx) (dirEnt, bool, error), fn func(e *segIdx, d dirEnt) (bool, error)) error {
	var last dirEnt
	var lastE *segIdx
	for seg := head; seg != 0; {
		e := indexedIn(indexed, seg)
		if e == nil || !e.dir {
			if lastE == nil {
				return fmt.Errorf("%w: the checkpoint names segment %d as the newest of stream %q, which has no stream directory", ErrCorrupt, seg, name)
			}
			return fmt.Errorf("%w: %s at %d: the directory entry of stream %q links to segment %d, which has no stream directory", ErrCorrupt, idxName(lastE.seg), lastE.dirOff(last.idx), name, seg)
		}
		d, ok, err := step(e)
		if err != nil {
			return err
		}
		if !ok || lastE != nil && d.seq >= last.seq {
			if lastE == nil {
				return fmt.Errorf("%w: %s: the stream directory does not hold stream %q, which the checkpoint names it for", ErrCorrupt, idxName(seg), name)
			}
			return fmt.Errorf("%w: %s at %d: the directory entry of stream %q links to segment %d, whose directory does not hold it before seq %d", ErrCorrupt, idxName(lastE.seg), lastE.dirOff(last.idx), name, seg, last.seq)
		}
		done, err := fn(e, d)
		if err != nil || done {
			return err
		}
		last, lastE, seg = d, e, d.prev
	}
	return nil
}

// dirStep gives stream name's directory entry in e through the chain
// step cache and the index block cache.
func (s *Store) dirStep(p *effect.P, e *segIdx, name string) (dirEnt, bool, error) {
	k := dirKey{seg: e.seg, name: name}
	if d, ok := s.steps.get(k); ok {
		return d, true, nil
	}
	get := func(blk uint32) ([]byte, error) { return s.idxBlock(p, e, blk) }
	// Each probe reads its 32-byte entry where it lies in the cache's
	// ring, as idxAt does: a block copied out per probe was 4 KiB of
	// garbage each.
	cache := s.indexCache()
	ent := func(blk uint32, off int) (ent [dirEntrySize]byte, err error) {
		if cache.readAt(loc{seg: e.seg, off: blk}, off, ent[:]) {
			return ent, nil
		}
		b, err := get(blk)
		if err != nil {
			return ent, err
		}
		copy(ent[:], b[off:])
		return ent, nil
	}
	d, _, ok, err := dirFindAt(get, ent, e, name, dirHash(name), true)
	if err != nil || !ok {
		return d, ok, err
	}
	// A quarter of the index cache's bound: the default at 0, none
	// when negative (keep no index blocks).
	limit := s.opts.IndexCacheBytes
	if limit == 0 {
		limit = defaultIndexCache
	}
	s.steps.put(k, d, max(limit, 0)/4)
	return d, true, nil
}

// walkStream walks stream name's directories from head through the
// store's caches (see walkDir).
func (s *Store) walkStream(p *effect.P, indexed []segIdx, name string, head uint32, fn func(e *segIdx, d dirEnt) (bool, error)) error {
	return walkDir(indexed, name, head, func(e *segIdx) (dirEnt, bool, error) { return s.dirStep(p, e, name) }, fn)
}

// dirLinks gives, for each of names (the streams of segment seg, sorted
// by name), the newest segment before seg among indexed whose directory
// holds it (0: none), reading each earlier directory whole, newest
// first, until every name is found.
func dirLinks(indexed []segIdx, seg uint32, names []string, getOf func(e *segIdx) blockGet) ([]uint32, error) {
	out := make([]uint32, len(names))
	left := make(map[string]int, len(names))
	for i, n := range names {
		left[n] = i
	}
	for k := len(indexed) - 1; k >= 0 && len(left) > 0; k-- {
		e := &indexed[k]
		if e.seg >= seg || !e.dir {
			continue
		}
		get := getOf(e)
		ent := blockEntries(get)
		for i := range e.nDir {
			d, err := dirEntAt(ent, e, i)
			if err != nil {
				return nil, err
			}
			name, err := nameAt(get, e, d.nameOff, e.dirOff(i))
			if err != nil {
				return nil, err
			}
			if j, ok := left[name]; ok {
				out[j] = e.seg
				delete(left, name)
			}
		}
	}
	return out, nil
}
