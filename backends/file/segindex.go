package file

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"maps"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"rose-ash.com/persist/backends/internal/idindex"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/platform"
)

// A segment index file holds the record locations of one sealed segment
// (its position run and its streams' seq runs), so that the in-memory
// index keeps only a few words per segment and per stream in it. See the
// package doc (Segment index files).

var idxMagic = [8]byte{'p', 'e', 'r', 's', 'i', 's', 't', 'I'}

const (
	idxVersion1  = 1 // no ID section
	idxVersion   = 2
	idxHeader    = 64
	idxBlockSize = 4096
	idxEntry     = 12                            // key uint64, offset uint32
	idxPerBlock  = (idxBlockSize - 4) / idxEntry // 340
	idxSuffix    = ".idx"

	defaultIndexCache = 4 << 20
	defaultIDFilters  = 16 << 20

	// The ID filter: 10 bits a key, a key's 7 bits in one block.
	idFilterBits   = (idxBlockSize - 4) * 8 // 32736 a block
	idFilterKeys   = idFilterBits / 10      // 3273 keys a block
	idFilterProbes = 7
)

func idxName(seg uint32) string { return fmt.Sprintf("seg-%016x%s", seg, idxSuffix) }

// segIdx is a sealed segment whose locations lie in its index file: what
// the checkpoint that names the file records of it.
type segIdx struct {
	seg      uint32
	firstPos uint64 // first position of its events (0: none)
	lastPos  uint64 // last position of its events, or of the log before it when it has none
	nPos     uint32 // entries of the position run
	nStream  uint32 // entries of the stream runs, all streams
	hdrCRC   uint32 // the file header's checksum: it names the file's content
	// ids tells that the file is of version 2, with the segment's ID
	// entries (nID of them) and their filter; the ID index then holds
	// none of the segment's events.
	ids bool
	nID uint32
	// dir tells that the file is of version 3, with the segment's
	// stream directory (nDir entries) and nNameBlk blocks of names.
	dir      bool
	nDir     uint32
	nNameBlk uint32
}

func blocksFor(n uint32) uint32 { return (n + idxPerBlock - 1) / idxPerBlock }

// idBase is the file index of e's first ID entry.
func (e *segIdx) idBase() uint32 { return (blocksFor(e.nPos) + blocksFor(e.nStream)) * idxPerBlock }

// filterBlocks is the number of blocks of e's ID filter.
func (e *segIdx) filterBlocks() uint32 { return (e.nID + idFilterKeys - 1) / idFilterKeys }

// filterFirst is the block number of e's first filter block.
func (e *segIdx) filterFirst() uint32 {
	return blocksFor(e.nPos) + blocksFor(e.nStream) + blocksFor(e.nID)
}

// blocks is the number of blocks of e's file.
func (e *segIdx) blocks() uint32 {
	if !e.ids {
		return blocksFor(e.nPos) + blocksFor(e.nStream)
	}
	if e.dir {
		return e.nameFirst() + e.nNameBlk
	}
	return e.filterFirst() + e.filterBlocks()
}

// idEntry is an event with an ID that does not name its position: the
// ID index's hash of its stream and ID, and its position.
type idEntry struct {
	hash uint64
	pos  uint64
}

// filterProbes gives the filter block of hash h among n blocks and the
// two numbers its bit numbers derive from (a + i*b mod idFilterBits).
func filterProbes(h uint64, n uint32) (uint32, uint32, uint32) {
	blk := uint32((h >> 32) * uint64(n) >> 32)
	g := h * 0x9e3779b97f4a7c15
	return blk, uint32(g), uint32(g>>32) | 1
}

// filterHas tells whether the filter bits (filterBlocks blocks of 4092
// bytes, one after another) may hold h.
func filterHas(bits []byte, h uint64) bool {
	n := uint32(len(bits) / (idxBlockSize - 4))
	if n == 0 {
		return false
	}
	blk, a, b := filterProbes(h, n)
	base := int(blk) * (idxBlockSize - 4)
	return blockHas(bits[base:base+idxBlockSize-4], a, b)
}

// blockHas tells whether one filter block (its first 4092 bytes or
// more) has every bit that a and b (of filterProbes) name. A block too
// short to hold them may hold the hash: an answer of absent would let a
// retry append its event again.
func blockHas(blk []byte, a, b uint32) bool {
	if len(blk) < idxBlockSize-4 {
		return true
	}
	for i := range uint32(idFilterProbes) {
		bit := (a + i*b) % idFilterBits
		if blk[bit/8]&(1<<(bit%8)) == 0 {
			return false
		}
	}
	return true
}

// run is the part of one stream's locations that lies in the index file
// of segment seg: entries first..first+n-1 of the file's stream runs,
// from seq on.
type run struct {
	seq   uint64
	seg   uint32
	first uint32
	n     uint32
}

// segStreams is one stream's record locations in one segment.
type segStreams struct {
	name   string
	chunks tailLocs
}

// encodeIndex gives the index file of segment seg holding pos (its
// position run) and streams (sorted by name, each its chunks in seg), and
// the segIdx and runs (one per stream, in the order given) naming it;
// with withIDs a file of version 2 holding ids (the segment's ID entries,
// which it sorts), else one of version 1.
func encodeIndex(id [16]byte, seg uint32, pos tailLocs, streams []segStreams, ids []idEntry, withIDs bool) ([]byte, segIdx, []run) {
	e := segIdx{seg: seg, nPos: uint32(pos.len()), ids: withIDs}
	if pos.len() > 0 {
		e.firstPos = pos.key(0)
	}
	if withIDs {
		e.nID = uint32(len(ids))
		slices.SortFunc(ids, func(a, b idEntry) int {
			if a.hash != b.hash {
				return cmp.Compare(a.hash, b.hash)
			}
			return cmp.Compare(a.pos, b.pos)
		})
	}
	runs := make([]run, len(streams))
	for i, x := range streams {
		runs[i] = run{seq: x.chunks.key(0), seg: seg, first: blocksFor(e.nPos)*idxPerBlock + e.nStream, n: uint32(x.chunks.len())}
		e.nStream += uint32(x.chunks.len())
	}
	pb := blocksFor(e.nPos)
	nb := e.blocks()
	b := make([]byte, idxHeader+int(nb)*idxBlockSize)
	put := func(i uint32, key uint64, off uint32) {
		o := idxHeader + int(i/idxPerBlock)*idxBlockSize + int(i%idxPerBlock)*idxEntry
		binary.LittleEndian.PutUint64(b[o:], key)
		binary.LittleEndian.PutUint32(b[o+8:], off)
	}
	for i, r := 0, 0; i < pos.len(); i++ {
		k, l := pos.step(i, &r)
		put(uint32(i), k, l.off)
	}
	i := pb * idxPerBlock
	for _, x := range streams {
		for j, r := 0, 0; j < x.chunks.len(); j++ {
			k, l := x.chunks.step(j, &r)
			put(i, k, l.off)
			i++
		}
	}
	if withIDs {
		i, ff, nf := e.idBase(), e.filterFirst(), e.filterBlocks()
		for _, x := range ids {
			put(i, x.hash, uint32(x.pos-e.firstPos))
			i++
			blk, a, bb := filterProbes(x.hash, nf)
			o := idxHeader + int(ff+blk)*idxBlockSize
			for j := range uint32(idFilterProbes) {
				bit := (a + j*bb) % idFilterBits
				b[o+int(bit/8)] |= 1 << (bit % 8)
			}
		}
	}
	var sums []byte
	for blk := range nb {
		o := idxHeader + int(blk)*idxBlockSize
		sum := blockSum(seg, blk, b[o:o+idxBlockSize-4])
		binary.LittleEndian.PutUint32(b[o+idxBlockSize-4:], sum)
		sums = binary.LittleEndian.AppendUint32(sums, sum)
	}
	copy(b, idxMagic[:])
	binary.LittleEndian.PutUint32(b[8:], idxVersion1)
	if withIDs {
		binary.LittleEndian.PutUint32(b[8:], idxVersion)
		binary.LittleEndian.PutUint32(b[56:], e.nID)
	}
	copy(b[16:32], id[:])
	binary.LittleEndian.PutUint64(b[32:], uint64(seg))
	binary.LittleEndian.PutUint32(b[40:], e.nPos)
	binary.LittleEndian.PutUint32(b[44:], e.nStream)
	binary.LittleEndian.PutUint32(b[48:], nb)
	binary.LittleEndian.PutUint32(b[52:], crc32.Checksum(sums, castagnoli))
	e.hdrCRC = crc32.Checksum(b[:60], castagnoli)
	binary.LittleEndian.PutUint32(b[60:], e.hdrCRC)
	return b, e, runs
}

// blockSum is a block's checksum, seeded with its segment and number so
// that a block of another file or place does not validate.
func blockSum(seg, blk uint32, b []byte) uint32 {
	var seed [12]byte
	binary.LittleEndian.PutUint64(seed[:], uint64(seg))
	binary.LittleEndian.PutUint32(seed[8:], blk)
	return crc32.Update(crc32.Checksum(seed[:], castagnoli), castagnoli, b)
}

// checkIndexHeader tells why h, the first idxHeader bytes of an index
// file, is not the file e names for store id, or "" when it is.
func checkIndexHeader(h []byte, id [16]byte, e *segIdx) string {
	switch {
	case len(h) < idxHeader || [8]byte(h[:8]) != idxMagic:
		return "not a segment index file"
	case binary.LittleEndian.Uint32(h[8:]) < idxVersion1 || binary.LittleEndian.Uint32(h[8:]) > idxVersion3:
		return fmt.Sprintf("unknown format version %d", binary.LittleEndian.Uint32(h[8:]))
	case crc32.Checksum(h[:60], castagnoli) != binary.LittleEndian.Uint32(h[60:]):
		return "header checksum mismatch"
	case [16]byte(h[16:32]) != id:
		return "index of another store"
	case binary.LittleEndian.Uint64(h[32:]) != uint64(e.seg):
		return fmt.Sprintf("index of segment %d", binary.LittleEndian.Uint64(h[32:]))
	case binary.LittleEndian.Uint32(h[60:]) != e.hdrCRC:
		return "not the index file the checkpoint names"
	case (binary.LittleEndian.Uint32(h[8:]) >= idxVersion) != e.ids || (binary.LittleEndian.Uint32(h[8:]) == idxVersion3) != e.dir:
		return fmt.Sprintf("format version %d, not the one the checkpoint names", binary.LittleEndian.Uint32(h[8:]))
	case e.dir && binary.LittleEndian.Uint32(h[12:]) != e.nDir:
		return "stream directory entry count does not match the checkpoint's"
	case e.ids && binary.LittleEndian.Uint32(h[56:]) != e.nID:
		return "ID entry count does not match the checkpoint's"
	case binary.LittleEndian.Uint32(h[48:]) != e.blocks():
		return "block count does not match its entries"
	}
	return ""
}

// indexFiles are the store's open segment index files and the cache of
// their blocks. A file is opened on first use; its header is checked
// once. A file that is missing or does not validate is rebuilt from its
// segment, in memory, and rewritten by the next checkpoint.
type indexFiles struct {
	cache recCache // blocks, keyed by segment and block number
	mu    sync.Mutex
	files map[uint32]*idxFile
	// filters are the ID filters kept whole, by segment: each checked
	// once, then kept (10 bits an ID entry), while filterUsed (their
	// bytes) stays within filterMax (Options.IDFilterBytes); the other
	// files' filters are probed a block at a time through cache.
	filters    map[uint32][]byte
	filterUsed int
	filterMax  int
	filterOnce sync.Once
}

type idxFile struct {
	mu      sync.Mutex
	fd      platform.FD
	checked bool
	rebuilt []byte // the file as the segment rebuilds it, when the file is bad
	why     string // what was wrong with the file
}

func (x *indexFiles) file(seg uint32) *idxFile {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.files == nil {
		x.files = make(map[uint32]*idxFile)
	}
	f := x.files[seg]
	if f == nil {
		f = &idxFile{}
		x.files[seg] = f
	}
	return f
}

// close closes the open index files.
func (x *indexFiles) close(p *effect.P) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	var errs []error
	for _, seg := range slices.Sorted(maps.Keys(x.files)) { // the closes in order, as release's
		f := x.files[seg]
		if f.fd != 0 {
			if err := closeFile(p, f.fd); err != nil {
				errs = append(errs, err)
			}
			f.fd = 0
		}
	}
	x.files = nil
	x.filters, x.filterUsed = nil, 0
	return errors.Join(errs...)
}

// rebuiltSegs lists the segments whose index files were found bad, for
// the next checkpoint to rewrite.
func (x *indexFiles) rebuiltSegs() map[uint32]bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out map[uint32]bool
	for seg, f := range x.files {
		f.mu.Lock()
		if f.rebuilt != nil {
			if out == nil {
				out = make(map[uint32]bool)
			}
			out[seg] = true
		}
		f.mu.Unlock()
	}
	return out
}

// forget drops what is kept of the file of seg once it was rewritten.
func (x *indexFiles) forget(p *effect.P, seg uint32) {
	x.mu.Lock()
	f := x.files[seg]
	delete(x.files, seg)
	x.mu.Unlock()
	// The filter stays: the rewritten file holds the same bytes.
	if f != nil && f.fd != 0 {
		_ = closeFile(p, f.fd)
	}
}

func (s *Store) indexCache() *recCache {
	s.idx.cache.setupSize(s.opts.IndexCacheBytes, defaultIndexCache)
	return &s.idx.cache
}

// idxBlock gives block blk of e's index file, checked, through the cache.
func (s *Store) idxBlock(p *effect.P, e *segIdx, blk uint32) ([]byte, error) {
	return s.idxBlockOf(p, e, blk, nil)
}

// idxBlockOf gives block blk of e's index file, checked: through the
// cache when dst is nil, else read into dst (idxBlockSize bytes; a
// filter block, kept apart).
func (s *Store) idxBlockOf(p *effect.P, e *segIdx, blk uint32, dst []byte) ([]byte, error) {
	cached := dst == nil
	cache := s.indexCache()
	key := loc{seg: e.seg, off: blk}
	if cached {
		if b, ok := cache.peek(key); ok {
			return b, nil
		}
	}
	f := s.idx.file(e.seg)
	fd, rebuilt, err := s.openIndex(p, f, e)
	if err != nil {
		return nil, err
	}
	b := dst
	if rebuilt == nil {
		if b == nil {
			b = make([]byte, idxBlockSize)
		}
		n, err := readFull(p, fd, idxHeader+int64(blk)*idxBlockSize, b)
		switch {
		case err != nil:
			return nil, fmt.Errorf("file: read %s at %d: %w", idxName(e.seg), idxHeader+int64(blk)*idxBlockSize, err)
		case n != idxBlockSize:
			rebuilt, err = s.indexBad(p, f, e, idxHeader+int64(blk)*idxBlockSize, fmt.Sprintf("block %d cut short", blk))
		case blockSum(e.seg, blk, b[:idxBlockSize-4]) != binary.LittleEndian.Uint32(b[idxBlockSize-4:]):
			rebuilt, err = s.indexBad(p, f, e, idxHeader+int64(blk)*idxBlockSize, fmt.Sprintf("block %d checksum mismatch", blk))
		}
		if err != nil {
			return nil, err
		}
	}
	if rebuilt != nil {
		o := idxHeader + int(blk)*idxBlockSize
		if o+idxBlockSize > len(rebuilt) {
			return nil, fmt.Errorf("%w: index of segment %d has no block %d", ErrCorrupt, e.seg, blk)
		}
		if dst != nil {
			return dst[:copy(dst, rebuilt[o:o+idxBlockSize])], nil
		}
		return rebuilt[o : o+idxBlockSize], nil
	}
	if cached {
		cache.put(key, b)
	}
	return b, nil
}

// idFilterMax is the bound of the filters kept whole
// (Options.IDFilterBytes): defaultIDFilters when it is 0, none when it is
// negative.
func (s *Store) idFilterMax() int {
	s.idx.filterOnce.Do(func() {
		switch n := s.opts.IDFilterBytes; {
		case n > 0:
			s.idx.filterMax = n
		case n == 0:
			s.idx.filterMax = defaultIDFilters
		}
	})
	return s.idx.filterMax
}

// idFilter gives e's ID filter, its blocks' bits one after another, read
// and checked on first use and kept, when it fits within the bound beside
// those kept; nil, with no read, when it does not (filterProbe then
// probes it a block at a time).
func (s *Store) idFilter(p *effect.P, e *segIdx) ([]byte, error) {
	size := int(e.filterBlocks()) * (idxBlockSize - 4)
	limit := s.idFilterMax()
	s.idx.mu.Lock()
	bits, ok := s.idx.filters[e.seg]
	room := s.idx.filterUsed+size <= limit
	s.idx.mu.Unlock()
	if ok || !room {
		return bits, nil
	}
	// Each block read in place, its checksum overwritten by the next
	// block's first bytes: the filter takes one allocation.
	n := int(e.filterBlocks())
	bits = make([]byte, n*(idxBlockSize-4)+4)
	for i := range n {
		o := i * (idxBlockSize - 4)
		if _, err := s.idxBlockOf(p, e, e.filterFirst()+uint32(i), bits[o:o+idxBlockSize]); err != nil {
			return nil, err
		}
	}
	bits = bits[:n*(idxBlockSize-4)]
	s.idx.mu.Lock()
	defer s.idx.mu.Unlock()
	if kept, ok := s.idx.filters[e.seg]; ok {
		return kept, nil // read beside this one
	}
	if s.idx.filterUsed+size > limit {
		return bits, nil // others took the room meanwhile: used once
	}
	if s.idx.filters == nil {
		s.idx.filters = make(map[uint32][]byte)
	}
	s.idx.filters[e.seg] = bits
	s.idx.filterUsed += size
	return bits, nil
}

// filterProbe tells whether e's filter may hold h, reading the one block
// that holds h's bits: where the index block cache holds it, its bits are
// tested in place; else the block is read (and checked) into a pooled
// buffer, tested there and put into the cache.
func (s *Store) filterProbe(p *effect.P, e *segIdx, h uint64) (bool, error) {
	rel, a, b := filterProbes(h, e.filterBlocks())
	blk := e.filterFirst() + rel
	cache := s.indexCache()
	l := loc{seg: e.seg, off: blk}
	if has, ok := cache.test(l, func(b2 []byte) bool { return blockHas(b2, a, b) }); ok {
		return has, nil
	}
	bp := blockPool.Get().(*[]byte)
	defer blockPool.Put(bp)
	got, err := s.idxBlockOf(p, e, blk, *bp)
	if err != nil {
		return false, err
	}
	cache.put(l, got)
	return blockHas(got, a, b), nil
}

// blockPool holds the buffers filterProbe reads an uncached filter block
// into: the cache keeps a copy, so the read takes no allocation.
var blockPool = sync.Pool{New: func() any { b := make([]byte, idxBlockSize); return &b }}

// idsIn calls fn with the position of each of e's ID entries whose hash
// is h, until fn returns true or an error: none when the filter says h is
// not there, so that a new ID costs no block read in most segments.
func (s *Store) idsIn(p *effect.P, e *segIdx, h uint64, fn func(pos uint64) (bool, error)) error {
	if !e.ids || e.nID == 0 {
		return nil
	}
	filter, err := s.idFilter(p, e)
	if err != nil {
		return err
	}
	has := filter != nil && filterHas(filter, h)
	if filter == nil {
		has, err = s.filterProbe(p, e, h)
	}
	if err != nil || !has {
		return err
	}
	base := e.idBase()
	key := func(i int) uint64 {
		if err != nil {
			return h
		}
		k, _, kerr := s.idxAt(p, e, base+uint32(i))
		if kerr != nil {
			err = kerr
			return h
		}
		return k
	}
	n := int(e.nID)
	i := hashSearch(n, idxPerBlock, h, key)
	for ; err == nil && i < n; i++ {
		k, rel, kerr := s.idxAt(p, e, base+uint32(i))
		if kerr != nil || k != h {
			return kerr
		}
		if uint64(rel) > e.lastPos-e.firstPos {
			return fmt.Errorf("%w: index file of segment %d: ID entry %d names position %d past the segment's", ErrCorrupt, e.seg, i, e.firstPos+uint64(rel))
		}
		var done bool
		if done, err = fn(e.firstPos + uint64(rel)); done {
			return err
		}
	}
	return err
}

// openIndex opens and checks e's index file once; it gives the file as
// rebuilt instead when the file is bad.
func (s *Store) openIndex(p *effect.P, f *idxFile, e *segIdx) (platform.FD, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rebuilt != nil || f.checked {
		return f.fd, f.rebuilt, nil
	}
	path := filepath.Join(s.logDir, idxName(e.seg))
	fd, err := openFile(p, path, os.O_RDONLY)
	if err != nil {
		return s.rebuiltOr(p, f, e, 0, fmt.Sprintf("cannot open: %v", err))
	}
	h := make([]byte, idxHeader)
	n, err := readFull(p, fd, 0, h)
	if err != nil {
		_ = closeFile(p, fd)
		return 0, nil, fmt.Errorf("file: read %s: %w", path, err)
	}
	if why := checkIndexHeader(h[:n], s.id, e); why != "" {
		_ = closeFile(p, fd)
		return s.rebuiltOr(p, f, e, 0, why)
	}
	// Its size too, so that a cut is found at the first read of any
	// block, not only of those past the cut (a filter block is read once).
	size, err := fileSize(p, path)
	if err != nil {
		_ = closeFile(p, fd)
		return 0, nil, fmt.Errorf("file: stat %s: %w", path, err)
	}
	if want := idxHeader + int64(e.blocks())*idxBlockSize; size != want {
		_ = closeFile(p, fd)
		return s.rebuiltOr(p, f, e, 0, fmt.Sprintf("%d bytes, not %d", size, want))
	}
	f.fd, f.checked = fd, true
	return fd, nil, nil
}

// rebuiltOr rebuilds the file e names, which was found bad for why at
// byte off of it (f.mu held), or gives a *CorruptError naming the file,
// the offset and both reasons when its segment does not.
func (s *Store) rebuiltOr(p *effect.P, f *idxFile, e *segIdx, off int64, why string) (platform.FD, []byte, error) {
	if b := s.rebuildLocked(p, f, e, why); b != nil {
		return 0, b, nil
	}
	return 0, nil, corrupt(filepath.Join(s.logDir, idxName(e.seg)), off, "index file of segment %d: %s", e.seg, f.why)
}

// indexBad rebuilds e's index file, found bad for why at byte off of it
// once opened, unless it was rebuilt already.
func (s *Store) indexBad(p *effect.P, f *idxFile, e *segIdx, off int64, why string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rebuilt != nil {
		return f.rebuilt, nil
	}
	_, b, err := s.rebuiltOr(p, f, e, off, why)
	return b, err
}

// rebuildLocked rebuilds e's index file from its segment (f.mu held); it
// gives nil, with the reason kept, when the segment does not rebuild the
// file the checkpoint names, which a read then reports.
func (s *Store) rebuildLocked(p *effect.P, f *idxFile, e *segIdx, why string) []byte {
	b, err := s.rebuildIndex(p, e)
	if err != nil {
		f.why = why + "; rebuild: " + err.Error()
		return nil
	}
	f.rebuilt, f.why = b, why
	return b
}

// rebuildIndex reads segment e.seg and encodes its index file, which must
// be the one e names.
func (s *Store) rebuildIndex(p *effect.P, e *segIdx) ([]byte, error) {
	s.mu.RLock()
	seg := s.segs[uint64(e.seg)]
	indexed := s.st.indexed[:len(s.st.indexed):len(s.st.indexed)]
	s.mu.RUnlock()
	if seg == nil {
		return nil, fmt.Errorf("file: segment %d is not open", e.seg)
	}
	st, err := scanSegment(p, s.id, seg, e.ids, 1<<20, nil, nil)
	if err != nil {
		return nil, err
	}
	var ids []idEntry
	if e.ids {
		ids = st.idLog.segs[uint32(seg.id)]
	}
	streams := st.segStreams(uint32(seg.id))
	var b []byte
	var got segIdx
	if e.dir {
		// The back-links: the newest earlier directory holding each
		// stream, read from the files before it (rebuilt in turn when
		// bad).
		names := make([]string, len(streams))
		for i, x := range streams {
			names[i] = x.name
		}
		prev, err := dirLinks(indexed, e.seg, names, func(o *segIdx) blockGet {
			return func(blk uint32) ([]byte, error) { return s.idxBlock(p, o, blk) }
		})
		if err != nil {
			return nil, err
		}
		b, got, _ = encodeIndexDir(s.id, e.seg, st.positions, streams, ids, prev)
	} else {
		b, got, _ = encodeIndex(s.id, e.seg, st.positions, streams, ids, e.ids)
	}
	if got.hdrCRC != e.hdrCRC || got.firstPos != e.firstPos || got.nPos != e.nPos || got.nStream != e.nStream || got.nID != e.nID {
		return nil, corrupt(seg.path, 0, "the segment's locations differ from those its checkpoint names")
	}
	return b, nil
}

// indexSegment reads every record of seg and encodes its index file, of
// version 2 with its ID entries (which it also gives) when withIDs is
// set.
func indexSegment(p *effect.P, id [16]byte, seg *segment, withIDs bool) ([]byte, segIdx, []idEntry, error) {
	st, err := scanSegment(p, id, seg, withIDs, 1<<20, nil, nil)
	if err != nil {
		return nil, segIdx{}, nil, err
	}
	var ids []idEntry
	if withIDs {
		ids = st.idLog.segs[uint32(seg.id)]
	}
	b, e, _ := encodeIndex(id, uint32(seg.id), st.positions, st.segStreams(uint32(seg.id)), ids, withIDs)
	if st.positions.len() > 0 {
		e.lastPos = st.lastPos // an empty segment's is the log's before it, unknown here
	}
	return b, e, ids, nil
}

// scanSegment reads every record of seg, window bytes at a time, calling
// between (when set) before each window but the first and tick (when
// set) once a record (a checkpoint's slicer), and gives the
// state of its records alone, with their ID entries when withIDs is set.
func scanSegment(p *effect.P, id [16]byte, seg *segment, withIDs bool, window int, between, tick func()) (*state, error) {
	size, err := fileSize(p, seg.path)
	if err != nil {
		return nil, err
	}
	r := &segReader{p: p, fd: seg.fd, path: seg.path, id: seg.id, size: size, window: window, between: between}
	st := newState()
	st.noKv = true // an index file holds no kv
	if withIDs {
		st.idLog = newIDLog(id, []uint32{uint32(seg.id)})
	}
	var ferr error
	_, _, err = r.scan(0, func(off int64, f frame) error {
		if tick != nil {
			tick()
		}
		switch f.typ {
		case recCommit:
			c, err := decodeCommit(f.payload, true, "")
			if err != nil {
				ferr = corrupt(seg.path, off, "%v", err)
				return errStop
			}
			st.apply(&c, loc{seg: uint32(seg.id), off: uint32(off)})
		case recGap:
			if err := gapIndex(st, seg.id, off, f); err != nil {
				ferr = corrupt(seg.path, off, "%v", err)
				return errStop
			}
		case recSeal:
			return errStop
		}
		return nil
	})
	if err == nil {
		err = ferr
	}
	if err != nil {
		return nil, err
	}
	return st, nil
}

// segStreams gives every stream's chunks in segment seg, sorted by name.
func (s *state) segStreams(seg uint32) []segStreams {
	var out []segStreams
	for name, x := range s.streams {
		if a, b := x.chunks.segRange(seg); b > a {
			out = append(out, segStreams{name: name, chunks: x.chunks.slice(a, b)})
		}
	}
	slices.SortFunc(out, func(a, b segStreams) int { return strings.Compare(a.name, b.name) })
	return out
}

// idxAt gives entry i of e's index file (stream entries follow the
// position entries' blocks).
// A cached block's entry is read where it lies in the cache's ring: a
// binary search probes many entries, each but 12 bytes of its block.
func (s *Store) idxAt(p *effect.P, e *segIdx, i uint32) (uint64, uint32, error) {
	o := int(i%idxPerBlock) * idxEntry
	var ent [idxEntry]byte
	if s.indexCache().readAt(loc{seg: e.seg, off: i / idxPerBlock}, o, ent[:]) {
		return binary.LittleEndian.Uint64(ent[:]), binary.LittleEndian.Uint32(ent[8:]), nil
	}
	b, err := s.idxBlock(p, e, i/idxPerBlock)
	if err != nil {
		return 0, 0, err
	}
	return binary.LittleEndian.Uint64(b[o:]), binary.LittleEndian.Uint32(b[o+8:]), nil
}

// idxFind gives the last entry in first..first+n-1 whose key is at most
// key (first when none is), as an index into the file.
func (s *Store) idxFind(p *effect.P, e *segIdx, first, n uint32, key uint64) (uint32, error) {
	var err error
	i := sort.Search(int(n), func(i int) bool {
		if err != nil {
			return true
		}
		k, _, kerr := s.idxAt(p, e, first+uint32(i))
		if kerr != nil {
			err = kerr
			return true
		}
		return k > key
	})
	if err != nil {
		return 0, err
	}
	return first + uint32(max(i-1, 0)), nil
}

// streamBase is the file index of e's first stream entry.
func (e *segIdx) streamBase() uint32 { return blocksFor(e.nPos) * idxPerBlock }

// indexedFor finds the indexed segment whose positions hold pos, -1
// when none does. The indexed list is sorted by segment; lastPos never
// falls along it (a segment without events has the last position before
// it), so the first whose lastPos reaches pos holds events and pos.
func (s *state) indexedFor(pos uint64) int {
	i := sort.Search(len(s.indexed), func(i int) bool { return s.indexed[i].lastPos >= pos })
	if i == len(s.indexed) || s.indexed[i].nPos == 0 || s.indexed[i].firstPos > pos {
		return -1
	}
	return i
}

// writeIndexes writes the index files of the segments sealed when v was
// captured that v does not name yet, and rewrites those found bad (tmp,
// fsync, rename, then one directory fsync), and moves their locations in
// v into the files it names. It gives what the live state is to drop
// once the checkpoint naming them is in place (nil when nothing moved).
func (s *Store) writeIndexes(p *effect.P, v *ckptView) (*drop, error) {
	if v.r.seg <= 1 || v.r.seg-1 > 1<<32-1 {
		return nil, nil
	}
	upTo := uint32(v.r.seg - 1)
	var have uint32
	if n := len(v.indexed); n > 0 {
		have = v.indexed[n-1].seg
	}
	redo := s.idx.rebuiltSegs()
	if have >= upTo && len(redo) == 0 {
		return nil, nil
	}
	var files []string
	piece, between := ckptPiece, (func())(nil)
	if v.beside {
		// As the checkpoint file's: in small pieces, each synced, the
		// log let in between.
		piece, between = ckptPieceBeside, v.pace
	}
	write := func(seg uint32, b []byte) error {
		path := filepath.Join(s.logDir, idxName(seg))
		if err := writePieces(p, path+tmpSuffix, b, piece, between); err != nil {
			_ = remove(p, path+tmpSuffix)
			return fmt.Errorf("file: write index of segment %d: %w", seg, err)
		}
		files = append(files, path)
		return nil
	}
	for seg := range redo {
		f := s.idx.file(seg)
		f.mu.Lock()
		b := f.rebuilt
		f.mu.Unlock()
		if err := write(seg, b); err != nil {
			return nil, err
		}
	}
	var d *drop
	if have < upTo {
		// One segment at a time, its locations sub-slices of the view's
		// (sorted by segment), so that what this holds beside the view
		// is one file's bytes.
		d = &drop{upTo: upTo, dirs: make(map[string]uint32)}
		v.sortStreams()
		last := uint64(0) // the last position before the segment
		if n := len(v.indexed); n > 0 {
			last = v.indexed[n-1].lastPos
		}
		var ss []segStreams
		var which []int
		for seg := have + 1; seg <= upTo; seg++ {
			pi, pj := v.pos.segRange(seg)
			ss, which = ss[:0], which[:0]
			for i := range v.streams {
				x := &v.streams[i]
				if a, b := x.chunks.segRange(seg); b > a {
					ss = append(ss, segStreams{name: x.name, chunks: x.chunks.slice(a, b)})
					which = append(which, i)
				}
			}
			// The ID entries lie in the segment's records alone: read
			// it once, sealed, off every lock commits take.
			ids, err := s.segmentIDs(p, seg, v.pace, v.slice)
			if err != nil {
				return nil, err
			}
			prev := make([]uint32, len(which))
			for j, i := range which {
				prev[j] = v.streams[i].dir
			}
			blob, e, _ := encodeIndexDir(s.id, seg, v.pos.slice(pi, pj), ss, ids, prev)
			if pj > pi && d.idsTo == 0 {
				d.idsFrom = last + 1
			}
			e.lastPos = last
			if pj > pi {
				next := v.lastPos + 1
				if pj < v.pos.len() {
					next = v.pos.key(pj)
				}
				e.lastPos = next - 1
			}
			last = e.lastPos
			if pj > pi {
				d.idsTo = last
			}
			if err := write(seg, blob); err != nil {
				return nil, err
			}
			d.idx = append(d.idx, e)
			for _, i := range which {
				v.streams[i].dir = seg
				d.dirs[v.streams[i].name] = seg
			}
		}
		v.indexed = append(slices.Clip(v.indexed), d.idx...)
		if v.ids != nil && d.idsTo > 0 {
			v.ids.DropRange(d.idsFrom, d.idsTo)
		}
		v.pos = v.pos.slice(v.pos.after(upTo), v.pos.len())
		for i := range v.streams {
			x := &v.streams[i]
			x.chunks = x.chunks.slice(x.chunks.after(upTo), x.chunks.len())
		}
	}
	for _, path := range files {
		if _, err := effect.Perform(p, platform.Rename{From: path + tmpSuffix, To: path}); err != nil {
			_ = remove(p, path+tmpSuffix)
			return nil, fmt.Errorf("file: write index: %w", err)
		}
	}
	if err := syncDir(p, s.logDir); err != nil {
		return nil, fmt.Errorf("file: write index: %w", err)
	}
	for seg := range redo {
		s.idx.forget(p, seg)
	}
	return d, nil
}

// segmentIDs reads sealed segment seg and gives its ID entries. Beside
// commits (pace set: the checkpoint's pacer) it reads the segment in
// pieces of ckptPieceBeside and calls pace between two, since decoding
// a 64 MiB segment at once takes a core for a third of a second; it
// encodes no index file of the records, which the caller encodes from
// the view.
func (s *Store) segmentIDs(p *effect.P, seg uint32, pace func(), slice *ckptSlicer) ([]idEntry, error) {
	s.mu.RLock()
	sg := s.segs[uint64(seg)]
	s.mu.RUnlock()
	if sg == nil {
		return nil, fmt.Errorf("file: segment %d is not open", seg)
	}
	window := 1 << 20
	if pace != nil {
		window = ckptPieceBeside
	}
	var tick func()
	if slice != nil {
		// A window of 256 KiB is a thousand records or more, milliseconds
		// of a core to decode and index: the slicer yields within it.
		tick = slice.tick
	}
	st, err := scanSegment(p, s.id, sg, true, window, pace, tick)
	if err != nil {
		return nil, err
	}
	return st.idLog.segs[seg], nil
}

// idxRef is a run or an indexed segment's positions to resolve into
// chunkRefs outside the store's lock: entries from..n-1 of e's file (an
// index into it), with keys up to want.
type idxRef struct {
	e     segIdx
	seg   *segment
	first uint32
	n     uint32
}

// resolve appends the refs of r's entries holding keys from..want.
func (s *Store) resolve(p *effect.P, r idxRef, from, want uint64, refs []chunkRef) ([]chunkRef, error) {
	j, err := s.idxFind(p, &r.e, r.first, r.n, from)
	if err != nil {
		return refs, err
	}
	// Each entry is read where it lies in the cache's ring; a block the
	// cache does not hold is read once and walked.
	cache := s.indexCache()
	var b []byte // j's block, when read rather than found cached
	var ent [idxEntry]byte
	for ; j < r.first+r.n; j++ {
		if j%idxPerBlock == 0 {
			b = nil
		}
		blk, o := j/idxPerBlock, int(j%idxPerBlock)*idxEntry
		if b == nil && !cache.readAt(loc{seg: r.e.seg, off: blk}, o, ent[:]) {
			if b, err = s.idxBlock(p, &r.e, blk); err != nil {
				return refs, err
			}
		}
		if b != nil {
			copy(ent[:], b[o:])
		}
		key := binary.LittleEndian.Uint64(ent[:])
		if key > want {
			break
		}
		refs = append(refs, chunkRef{seq: key, seg: r.seg, l: loc{seg: r.e.seg, off: binary.LittleEndian.Uint32(ent[8:])}})
	}
	return refs, nil
}

// seqLoc gives the location of the record holding seq of x (seq within
// its head). The caller holds the store's lock or owns the log.
func (s *Store) seqLoc(p *effect.P, name string, x *streamIdx, seq uint64) (chunk, error) {
	if x.inChunks(seq) {
		return x.chunks.chunk(x.chunkFor(seq)), nil
	}
	if x.dir != 0 {
		var found *segIdx
		var fd dirEnt
		err := s.walkStream(p, s.st.indexed, name, x.dir, func(e *segIdx, d dirEnt) (bool, error) {
			if d.seq <= seq {
				found, fd = e, d
				return true, nil
			}
			return false, nil
		})
		if err != nil {
			return chunk{}, err
		}
		if found != nil {
			j, err := s.idxFind(p, found, fd.first, fd.n, seq)
			if err != nil {
				return chunk{}, err
			}
			key, off, err := s.idxAt(p, found, j)
			return chunk{seq: key, loc: loc{seg: found.seg, off: off}}, err
		}
	}
	i := x.runFor(seq)
	if i < 0 {
		return chunk{}, fmt.Errorf("%w: seq %d of a stream lies in no index file", ErrCorrupt, seq)
	}
	r := x.runs[i]
	e := s.st.indexedSeg(r.seg)
	if e == nil {
		return chunk{}, fmt.Errorf("%w: segment %d is not indexed", ErrCorrupt, r.seg)
	}
	j, err := s.idxFind(p, e, r.first, r.n, seq)
	if err != nil {
		return chunk{}, err
	}
	key, off, err := s.idxAt(p, e, j)
	return chunk{seq: key, loc: loc{seg: r.seg, off: off}}, err
}

// posLoc gives the location of the record holding position pos (within
// the log). The caller holds the store's lock or owns the log.
func (s *Store) posLoc(p *effect.P, pos uint64) (posChunk, error) {
	i := s.st.indexedFor(pos)
	if i < 0 {
		return s.st.positions.posChunk(s.st.posChunkFor(pos)), nil
	}
	e := &s.st.indexed[i]
	j, err := s.idxFind(p, e, 0, e.nPos, pos)
	if err != nil {
		return posChunk{}, err
	}
	key, off, err := s.idxAt(p, e, j)
	return posChunk{pos: key, loc: loc{seg: e.seg, off: off}}, err
}

// expandIndexed checks the index files that ck, a checkpoint's state,
// names against the ones st, a full replay up to the same record, builds
// for their segments, and puts their locations back into ck's positions
// and chunks (read through ck's runs), so that ck compares with st as a
// checkpoint without index files does. It gives why ck differs from st,
// or "" when it does not; a file that is missing or differs from what
// its segment builds is listed in rep, since reads rebuild it. The ID
// entries of files of version 2 come from st.idLog, which collected them
// for those segments; ck's ID index must then be st's without them (ck's
// is compared here and set nil).
func (s *Store) expandIndexed(p *effect.P, ck, st *state, rep *VerifyReport) (string, error) {
	files := make(map[uint32][]byte, len(ck.indexed))
	var pos []posChunk
	var want *idindex.Index // st's ID index without the entries in files
	if st.ids != nil {
		want = st.ids.Clone()
	}
	lastDir := make(map[string]uint32)
	for _, e := range ck.indexed {
		var ids []idEntry
		if e.ids {
			if st.idLog == nil {
				return fmt.Sprintf("the index file it names for segment %d", e.seg), nil
			}
			ids = slices.Clone(st.idLog.segs[e.seg])
			if want != nil && e.nPos > 0 {
				want.DropRange(e.firstPos, e.lastPos)
			}
		}
		sp := st.positions.slice(st.positions.segRange(e.seg))
		var b []byte
		var got segIdx
		if ss := st.segStreams(e.seg); e.dir {
			// The back-links as the replay gives them: the newest
			// earlier file of version 3 holding each stream.
			prev := make([]uint32, len(ss))
			for i, x := range ss {
				prev[i] = lastDir[x.name]
				lastDir[x.name] = e.seg
			}
			b, got, _ = encodeIndexDir(s.id, e.seg, sp, ss, ids, prev)
		} else {
			b, got, _ = encodeIndex(s.id, e.seg, sp, ss, ids, e.ids)
		}
		if got.hdrCRC != e.hdrCRC || got.nPos != e.nPos || got.nStream != e.nStream || got.firstPos != e.firstPos || got.nID != e.nID {
			return fmt.Sprintf("the index file it names for segment %d", e.seg), nil
		}
		path := filepath.Join(s.logDir, idxName(e.seg))
		disk, err := readFile(p, path)
		switch {
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			return "", fmt.Errorf("file: read %s: %w", path, err)
		case err != nil:
			rep.IndexesBad = append(rep.IndexesBad, &CorruptError{File: path, Reason: "missing"})
		case !bytes.Equal(disk, b):
			why := "differs from the index its segment builds"
			if len(disk) >= idxHeader {
				if h := checkIndexHeader(disk[:idxHeader], s.id, &e); h != "" {
					why = h
				}
			}
			rep.IndexesBad = append(rep.IndexesBad, &CorruptError{File: path, Reason: why})
		default:
			rep.Indexes++
		}
		files[e.seg] = b
		pos = append(pos, sp.posChunks()...)
	}
	if ck.ids != nil && want != nil {
		if !ck.ids.Same(want) {
			return "the event ID index", nil
		}
		ck.ids = nil
	}
	return ck.inline(files, pos), nil
}

// inline puts the locations of s's indexed segments back into its
// positions (pos, those of the indexed segments) and chunks, read from
// files (each indexed segment's file) through its runs; it gives why
// that fails, or "".
func (s *state) inline(files map[uint32][]byte, pos []posChunk) string {
	if len(s.indexed) == 0 {
		return ""
	}
	for name, x := range s.streams {
		var cs []chunk
		runs := x.runs
		if x.dir != 0 {
			var dirs []run
			err := walkDir(s.indexed, name, x.dir, func(e *segIdx) (dirEnt, bool, error) {
				d, _, ok, err := dirFind(fileBlocks(files[e.seg], e), e, name, dirHash(name), false)
				return d, ok, err
			}, func(e *segIdx, d dirEnt) (bool, error) {
				dirs = append(dirs, run{seq: d.seq, seg: e.seg, first: d.first, n: d.n})
				return false, nil
			})
			if err != nil {
				return fmt.Sprintf("stream %q's directory chain: %v", name, err)
			}
			slices.Reverse(dirs)
			runs = append(slices.Clip(runs), dirs...)
		}
		for _, r := range runs {
			b := files[r.seg]
			for i := r.first; i < r.first+r.n; i++ {
				o := idxHeader + int(i/idxPerBlock)*idxBlockSize + int(i%idxPerBlock)*idxEntry
				if o+idxEntry > len(b) {
					return fmt.Sprintf("stream %q's runs", name)
				}
				cs = append(cs, chunk{seq: binary.LittleEndian.Uint64(b[o:]), loc: loc{seg: r.seg, off: binary.LittleEndian.Uint32(b[o+8:])}})
			}
		}
		x.chunks = locsOf(append(cs, x.chunks.chunks()...))
		x.runs, x.dir = nil, 0
	}
	s.positions = posLocsOf(append(pos, s.positions.posChunks()...))
	s.indexed = nil
	return ""
}

// indexPositions reads the position run of an index file.
func indexPositions(b []byte, e *segIdx) []posChunk {
	out := make([]posChunk, 0, e.nPos)
	for i := range e.nPos {
		o := idxHeader + int(i/idxPerBlock)*idxBlockSize + int(i%idxPerBlock)*idxEntry
		out = append(out, posChunk{pos: binary.LittleEndian.Uint64(b[o:]), loc: loc{seg: e.seg, off: binary.LittleEndian.Uint32(b[o+8:])}})
	}
	return out
}

// hashSearch gives the first of n entries sorted by a uniform 64-bit
// hash whose key(i) is at least h (n when none is). The first entry of
// hash h lies near h*n/2^64: it bounds the entry by steps of a block
// (step entries) doubling from there, then searches between, so that
// most lookups read one or two blocks, where a plain binary search reads
// one per halving. A key whose read fails returns h, and its caller
// keeps the error and reads nothing more.
func hashSearch(n, step int, h uint64, key func(i int) uint64) int {
	guess, _ := bits.Mul64(h, uint64(n))
	lo, hi := int(guess)-1, int(guess) // key(lo) < h <= key(hi), -1 and n as sentinels
	for s := step; lo >= 0 && key(lo) >= h; s *= 2 {
		hi, lo = lo, lo-s
	}
	for s := step; hi < n && key(hi) < h; s *= 2 {
		lo, hi = hi, hi+s
	}
	lo, hi = max(lo, -1), min(hi, n)
	return lo + 1 + sort.Search(hi-lo-1, func(j int) bool { return key(lo+1+j) >= h })
}
