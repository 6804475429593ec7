package file

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// A kv run file holds kv keys in byte order, each with its current value
// (or none, for a deleted key whose history is still kept), its revision
// and its kept history revisions, in checksummed blocks read through a
// cache; the store keeps only a sparse index of the blocks' first keys.
// It is written whole, streamed through the platform effects, and never
// changed. See the package doc (Kv run files).

var kvRunMagic = [8]byte{'p', 'e', 'r', 's', 'i', 's', 't', 'K'}

// Kv run format versions: 1 holds no entry without both a value and
// kept revisions; 2 (tiered runs, see the package doc) may hold such an
// entry, a tombstone: the key was deleted and its history is gone, and
// it hides the key's entries in the older runs of the set; 3 ends each
// block of entries with a table of their offsets (kvblock.go), which a
// lookup searches. Runs of versions 1 and 2 are still read.
const (
	kvRunVersion1  = 1
	kvRunVersion2  = 2
	kvRunVersion   = 3
	kvRunHeader    = 64
	kvRunBlockSize = 4096 // a block's target size, its checksum included
	kvRunSuffix    = ".run"
	// kvRunPiece is how much is written before the data is synced, as
	// ckptPiece for checkpoints.
	kvRunPiece = 4 << 20
)

func kvRunName(gen uint64) string { return fmt.Sprintf("kv-%016x%s", gen, kvRunSuffix) }

// runKind is what a run file holds: kv keys, or stream heads
// (streamrun.go), in the same layout of blocks, sparse index and filter
// under a magic and versions of their own.
type runKind struct {
	magic    [8]byte
	version  uint32 // the version written
	versions uint32 // the lowest version read
	noun     string // names the file in errors
	// tableFrom is the first version whose entries' blocks end in a
	// table of their entries (kvblock.go); 0: none does.
	tableFrom uint32
}

// tables reports whether the entries' blocks of a run of version v end
// in a table.
func (k *runKind) tables(v uint32) bool { return k.tableFrom != 0 && v >= k.tableFrom }

var kvRunKind = &runKind{magic: kvRunMagic, version: kvRunVersion, versions: kvRunVersion1, noun: "kv run", tableFrom: kvRunVersion}

// kvRunEntry is one key of a run.
type kvRunEntry struct {
	key   string
	live  bool   // the key has a value; false for a deleted key with history
	rev   uint64 // the revision of the value (of the delete when not live)
	value []byte
	revs  []uint64 // kept history revisions, oldest first
}

// kvBlock is a block of a run as the sparse index holds it.
type kvBlock struct {
	first string // the block's first key
	off   int64
	n     uint32 // bytes, the checksum included
	sum   uint32
}

// kvRecBlock is a block of a run's kv history records as the sparse
// index holds it.
type kvRecBlock struct {
	first uint64 // the revision of the block's first record
	off   int64
	n     uint32 // bytes, the checksum included
	sum   uint32
}

// kvRun is an open run file: what its header and sparse index hold.
type kvRun struct {
	path    string
	gen     uint64
	rev     uint64 // the last kv revision the run includes
	entries uint64
	live    uint64 // entries with a value
	size    int64  // bytes before the sparse index: header and blocks
	version uint32
	table   bool // the entries' blocks end in a table (kvblock.go)
	hdrCRC  uint32
	hdr     [60]byte // the header's bytes before its checksum
	idxLen  int      // the sparse index's length, its checksum excluded
	blocks  []kvBlock
	// The kv history's records the run holds (version 2): where the
	// commit record of each revision lies, for revisions up to recLast,
	// in blocks numbered after the entries'.
	recBlocks []kvRecBlock
	recN      uint64
	recLast   uint64
	// The Bloom filter's blocks (kvbloom.go), their checksums, after the
	// history blocks; none in the oldest run of a set.
	bloomOff  int64
	bloomSums []uint32
	fd        platform.FD
	// cacheID keys the run's blocks in a cache (the generation, an LSN,
	// does not fit the cache's 32-bit key): unique among the runs of the
	// process until 2^32 of them were opened.
	cacheID uint32
	kind    *runKind
	// reopen is set for a run that keeps no file open at its open (a
	// stream run): the first block read that misses the cache opens the
	// file on the reader's handle, and the run keeps that descriptor
	// (keep) until it is closed.
	reopen bool
	keep   *runFD
}

// noun names the run's kind in errors.
func (r *kvRun) noun() string { return r.kind.noun }

// kvRunIDs numbers the runs a process opens or writes, for kvRun.cacheID.
var kvRunIDs atomic.Uint32

// kvBlockSum is a block's checksum, seeded with the run's generation and
// the block's number so that a block read from the wrong place fails.
func kvBlockSum(gen uint64, blk int, b []byte) uint32 {
	var seed [12]byte
	binary.LittleEndian.PutUint64(seed[:], gen)
	binary.LittleEndian.PutUint32(seed[8:], uint32(blk))
	return crc32.Update(crc32.Checksum(seed[:], castagnoli), castagnoli, b)
}

func appendKvEntry(b []byte, e *kvRunEntry) []byte {
	b = appendString(b, e.key)
	flags := byte(0)
	if e.live {
		flags = 1
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, e.rev)
	if e.live {
		b = binary.AppendUvarint(b, uint64(len(e.value)))
		b = append(b, e.value...)
	}
	b = binary.AppendUvarint(b, uint64(len(e.revs)))
	var prev uint64
	for _, r := range e.revs {
		b = binary.AppendUvarint(b, r-prev)
		prev = r
	}
	return b
}

// decodeKvEntry decodes one entry; its value aliases d's bytes, its key
// is a copy.
func decodeKvEntry(d *decoder) kvRunEntry { return decodeKvEntryRevs(d, true) }

// decodeKvEntryRevs is decodeKvEntry that decodes the kept revisions
// only with revs set (else walks over them and checks them, as
// decodeKvFound).
func decodeKvEntryRevs(d *decoder, revs bool) kvRunEntry {
	k := (&decoder{b: d.b}).bytes()
	return decodeKvFound(d, string(k), revs)
}

// kvRunWriter streams a run file: entries in byte order go into blocks,
// each piece of the file is synced before the next is written, and the
// header goes last, so that a file cut short has no valid header.
type kvRunWriter struct {
	p    *effect.P
	fd   platform.FD
	path string
	id   [16]byte
	gen  uint64

	buf     []byte // written from bufOff
	bufOff  int64
	blk     []byte   // the block being filled
	offs    []uint16 // where its entries begin, for its table
	first   string
	blocks  []kvBlock
	last    string
	entries uint64
	live    uint64
	synced  int64
	err     error

	// The history records, after the entries.
	recBlk    []byte
	recFirst  uint64
	recPrev   kvLoc
	recBlocks []kvRecBlock
	recN      uint64
	recs      bool // a record was added: no entry may follow

	bloom  []byte // the filter being filled, bloomN blocks; nil: none
	bloomN int

	// piece is how much is written before the data is synced
	// (kvRunPiece when 0); between, when set, is called after each
	// piece is synced: a checkpoint's pacer, beside commits.
	piece   int
	between func()
	kind    *runKind
	// version is the version written, the kind's when 0 (a test writes
	// the versions before).
	version uint32
}

// ver is the version w writes.
func (w *kvRunWriter) ver() uint32 {
	if w.version != 0 {
		return w.version
	}
	return w.kind.version
}

// tableLen is the bytes of the table of the block being filled with n
// entries; 0 in a version without tables.
func (w *kvRunWriter) tableLen(n int) int {
	if !w.kind.tables(w.ver()) {
		return 0
	}
	return blockTableLen(n)
}

func newKvRunWriter(p *effect.P, path string, id [16]byte, gen uint64) (*kvRunWriter, error) {
	fd, err := openFile(p, path, os.O_RDWR|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return nil, err
	}
	return &kvRunWriter{p: p, fd: fd, path: path, id: id, gen: gen, bufOff: kvRunHeader, kind: kvRunKind}, nil
}

// add appends e, which must sort after every key added before it.
// filterFor gives the run a filter sized for the entries it may hold:
// at most n new ones and those of the runs of old it folds in.
func (w *kvRunWriter) filterFor(n int, old *kvRunSet) {
	bound := uint64(n)
	if old != nil {
		for _, r := range old.runs {
			bound += r.entries
		}
	}
	w.bloomN = max(kvBloomBlocks(bound), 1)
	w.bloom = make([]byte, w.bloomN*kvRunBlockSize)
}

func (w *kvRunWriter) add(e *kvRunEntry) error {
	if w.err != nil {
		return w.err
	}
	if w.recs {
		w.err = fmt.Errorf("file: kv run %s: entry %q after the history records", w.path, e.key)
		return w.err
	}
	if w.entries > 0 && e.key <= w.last {
		w.err = fmt.Errorf("file: kv run %s: key %q out of order", w.path, e.key)
		return w.err
	}
	n := len(w.blk)
	if n == 0 {
		w.first = e.key
	}
	w.blk = appendKvEntry(w.blk, e)
	if n > 0 && len(w.blk)+w.tableLen(len(w.offs)+1)+4 > kvRunBlockSize {
		// The entry starts the next block.
		next := append([]byte(nil), w.blk[n:]...)
		w.blk = w.blk[:n]
		w.flushBlock()
		w.blk = append(w.blk[:0], next...)
		w.first = e.key
		n = 0
	}
	if n > 1<<16-1 {
		// Not reached: an entry begins within a block's 4096 bytes
		// unless it is the block's first, at 0.
		w.err = fmt.Errorf("file: kv run %s: entry %q at %d in its block", w.path, e.key, n)
		return w.err
	}
	w.offs = append(w.offs, uint16(n))
	w.last = e.key
	if w.bloom != nil {
		bloomAdd(w.bloom, w.bloomN, e.key)
	}
	w.entries++
	if e.live {
		w.live++
	}
	return w.err
}

// addRec appends the history record r, whose revision must be above
// every one added before it; the entries are all added before the first.
func (w *kvRunWriter) addRec(r kvLoc) error {
	if w.err != nil {
		return w.err
	}
	if !w.recs {
		w.flushBlock()
		w.recs = true
	}
	if w.recN > 0 && r.rev <= w.recPrev.rev {
		w.err = fmt.Errorf("file: kv run %s: history record of revision %d out of order", w.path, r.rev)
		return w.err
	}
	n := len(w.recBlk)
	prev := w.recPrev
	if n == 0 {
		prev = kvLoc{}
		w.recFirst = r.rev
	}
	w.recBlk = appendLoc(w.recBlk, r.rev-prev.rev, prev.loc, r.loc)
	if n > 0 && len(w.recBlk)+4 > kvRunBlockSize {
		w.recBlk = w.recBlk[:n]
		w.flushRecBlock()
		w.recFirst = r.rev
		w.recBlk = appendLoc(w.recBlk, r.rev, loc{}, r.loc)
	}
	w.recPrev = r
	w.recN++
	return w.err
}

// flushRecBlock ends the history block being filled.
func (w *kvRunWriter) flushRecBlock() {
	if len(w.recBlk) == 0 {
		return
	}
	blk := len(w.blocks) + len(w.recBlocks)
	sum := kvBlockSum(w.gen, blk, w.recBlk)
	off := w.bufOff + int64(len(w.buf))
	w.buf = append(w.buf, w.recBlk...)
	w.buf = binary.LittleEndian.AppendUint32(w.buf, sum)
	w.recBlocks = append(w.recBlocks, kvRecBlock{first: w.recFirst, off: off, n: uint32(len(w.recBlk) + 4), sum: sum})
	w.recBlk = w.recBlk[:0]
	if len(w.buf) >= w.pieceSize() {
		w.writeBuf()
	}
}

// flushBlock ends the block being filled; the next entry begins a new one.
func (w *kvRunWriter) flushBlock() {
	if len(w.blk) == 0 {
		return
	}
	if w.kind.tables(w.ver()) {
		w.blk = appendBlockTable(w.blk, w.offs)
	}
	w.offs = w.offs[:0]
	blk := len(w.blocks)
	sum := kvBlockSum(w.gen, blk, w.blk)
	off := w.bufOff + int64(len(w.buf))
	w.buf = append(w.buf, w.blk...)
	w.buf = binary.LittleEndian.AppendUint32(w.buf, sum)
	w.blocks = append(w.blocks, kvBlock{first: w.first, off: off, n: uint32(len(w.blk) + 4), sum: sum})
	w.blk = w.blk[:0]
	w.first = ""
	if len(w.buf) >= w.pieceSize() {
		w.writeBuf()
	}
}

func (w *kvRunWriter) pieceSize() int {
	if w.piece > 0 {
		return w.piece
	}
	return kvRunPiece
}

func (w *kvRunWriter) writeBuf() {
	if w.err != nil || len(w.buf) == 0 {
		return
	}
	if err := writeAt(w.p, w.fd, w.bufOff, w.buf); err != nil {
		w.err = err
		return
	}
	w.bufOff += int64(len(w.buf))
	w.buf = w.buf[:0]
	if err := fdatasync(w.p, w.fd); err != nil {
		w.err = err
		return
	}
	if w.between != nil {
		w.between()
	}
}

// finish writes the sparse index and the header, syncs and closes the
// file; it gives the run as written, its file still to be renamed into
// place by the caller. rev is the last kv revision the run includes.
func (w *kvRunWriter) finish(rev uint64) (*kvRun, error) {
	w.flushBlock()
	w.flushRecBlock()
	bloomOff := w.bufOff + int64(len(w.buf))
	var bloomSums []uint32
	for i := range w.bloomN {
		data := w.bloom[i*kvRunBlockSize : (i+1)*kvRunBlockSize]
		sum := kvBlockSum(w.gen, len(w.blocks)+len(w.recBlocks)+i, data)
		w.buf = append(w.buf, data...)
		w.buf = binary.LittleEndian.AppendUint32(w.buf, sum)
		bloomSums = append(bloomSums, sum)
		if len(w.buf) >= w.pieceSize() {
			w.writeBuf()
		}
	}
	idxOff := w.bufOff + int64(len(w.buf))
	start := len(w.buf)
	w.buf = binary.AppendUvarint(w.buf, uint64(len(w.blocks)))
	var prevOff int64 = kvRunHeader
	for _, b := range w.blocks {
		w.buf = appendString(w.buf, b.first)
		w.buf = binary.AppendUvarint(w.buf, uint64(b.off-prevOff))
		w.buf = binary.AppendUvarint(w.buf, uint64(b.n))
		w.buf = binary.LittleEndian.AppendUint32(w.buf, b.sum)
		prevOff = b.off
	}
	// Version 2: the history blocks, then the count of records and the
	// revision of the last.
	w.buf = binary.AppendUvarint(w.buf, uint64(len(w.recBlocks)))
	var prevRev uint64
	for _, b := range w.recBlocks {
		w.buf = binary.AppendUvarint(w.buf, b.first-prevRev)
		w.buf = binary.AppendUvarint(w.buf, uint64(b.off-prevOff))
		w.buf = binary.AppendUvarint(w.buf, uint64(b.n))
		w.buf = binary.LittleEndian.AppendUint32(w.buf, b.sum)
		prevOff, prevRev = b.off, b.first
	}
	w.buf = binary.AppendUvarint(w.buf, w.recN)
	recLast := uint64(0)
	if w.recN > 0 {
		recLast = w.recPrev.rev
	}
	w.buf = binary.AppendUvarint(w.buf, recLast)
	// Then the filter blocks: their count and checksums.
	w.buf = binary.AppendUvarint(w.buf, uint64(len(bloomSums)))
	for _, sum := range bloomSums {
		w.buf = binary.LittleEndian.AppendUint32(w.buf, sum)
	}
	idxLen := len(w.buf) - start
	w.buf = binary.LittleEndian.AppendUint32(w.buf, crc32.Checksum(w.buf[start:], castagnoli))
	w.writeBuf()
	h := make([]byte, kvRunHeader)
	copy(h, w.kind.magic[:])
	binary.LittleEndian.PutUint32(h[8:], w.ver())
	copy(h[12:28], w.id[:])
	binary.LittleEndian.PutUint64(h[28:], w.gen)
	binary.LittleEndian.PutUint64(h[36:], rev)
	binary.LittleEndian.PutUint64(h[44:], w.entries)
	binary.LittleEndian.PutUint64(h[52:], uint64(idxOff))
	// 60: the header's checksum, over the rest and the index length.
	binary.LittleEndian.PutUint32(h[60:], kvHeaderSum(h[:60], idxLen, w.live))
	if w.err == nil {
		w.err = writeAt(w.p, w.fd, 0, h)
	}
	if w.err == nil {
		w.err = fsync(w.p, w.fd)
	}
	if err := closeFile(w.p, w.fd); w.err == nil {
		w.err = err
	}
	if w.err != nil {
		return nil, fmt.Errorf("file: write %s %s: %w", w.kind.noun, w.path, w.err)
	}
	return &kvRun{path: w.path, gen: w.gen, rev: rev, entries: w.entries, live: w.live, size: idxOff, version: w.ver(), kind: w.kind, table: w.kind.tables(w.ver()),
		hdrCRC: binary.LittleEndian.Uint32(h[60:]), blocks: w.blocks, recBlocks: w.recBlocks, recN: w.recN, recLast: recLast,
		bloomOff: bloomOff, bloomSums: bloomSums, cacheID: kvRunIDs.Add(1)}, nil
}

// abort drops a run being written.
func (w *kvRunWriter) abort() {
	_ = closeFile(w.p, w.fd)
	_ = remove(w.p, w.path)
}

func kvHeaderSum(h []byte, idxLen int, live uint64) uint32 {
	var x [16]byte
	binary.LittleEndian.PutUint64(x[:], uint64(idxLen))
	binary.LittleEndian.PutUint64(x[8:], live)
	return crc32.Update(crc32.Checksum(h, castagnoli), castagnoli, x[:])
}

// openKvRun opens the run file at path and reads its header and sparse
// index, which must be those of generation gen of store id with header
// checksum want (what the checkpoint naming it records; 0 takes any).
// What is wrong is a CorruptError naming the file and offset.
func openKvRun(p *effect.P, path string, id [16]byte, gen uint64, want uint32) (*kvRun, error) {
	return openRunOf(p, path, id, gen, want, kvRunKind)
}

// openRunOf opens a run file of kind k as openKvRun does.
func openRunOf(p *effect.P, path string, id [16]byte, gen uint64, want uint32, k *runKind) (*kvRun, error) {
	fd, err := openFile(p, path, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	r, err := readRun(p, fd, path, id, gen, want, k)
	if err != nil {
		_ = closeFile(p, fd)
		return nil, err
	}
	r.fd = fd
	return r, nil
}

func readKvRun(p *effect.P, fd platform.FD, path string, id [16]byte, gen uint64, want uint32) (*kvRun, error) {
	return readRun(p, fd, path, id, gen, want, kvRunKind)
}

func readRun(p *effect.P, fd platform.FD, path string, id [16]byte, gen uint64, want uint32, k *runKind) (*kvRun, error) {
	size, err := fileSize(p, path)
	if err != nil {
		return nil, err
	}
	h := make([]byte, kvRunHeader)
	if n, err := readFull(p, fd, 0, h); err != nil {
		return nil, fmt.Errorf("file: read %s: %w", path, err)
	} else if n != kvRunHeader {
		return nil, corrupt(path, 0, "%s header cut short", k.noun)
	}
	switch {
	case !bytes.Equal(h[:8], k.magic[:]):
		return nil, corrupt(path, 0, "not a %s file", k.noun)
	case binary.LittleEndian.Uint32(h[8:]) < k.versions || binary.LittleEndian.Uint32(h[8:]) > k.version:
		return nil, corrupt(path, 8, "%s version %d unknown", k.noun, binary.LittleEndian.Uint32(h[8:]))
	case !bytes.Equal(h[12:28], id[:]):
		return nil, corrupt(path, 12, "%s of another store", k.noun)
	case binary.LittleEndian.Uint64(h[28:]) != gen:
		return nil, corrupt(path, 28, "%s of generation %d, want %d", k.noun, binary.LittleEndian.Uint64(h[28:]), gen)
	}
	idxOff := int64(binary.LittleEndian.Uint64(h[52:]))
	if idxOff < kvRunHeader || idxOff+5 > size {
		return nil, corrupt(path, 52, "%s index offset %d outside the file of %d bytes", k.noun, idxOff, size)
	}
	ib := make([]byte, size-idxOff)
	if n, err := readFull(p, fd, idxOff, ib); err != nil {
		return nil, fmt.Errorf("file: read %s at %d: %w", path, idxOff, err)
	} else if n != len(ib) {
		return nil, corrupt(path, idxOff, "%s index cut short", k.noun)
	}
	body, sum := ib[:len(ib)-4], binary.LittleEndian.Uint32(ib[len(ib)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, corrupt(path, idxOff, "%s index checksum mismatch", k.noun)
	}
	r := &kvRun{path: path, gen: gen, rev: binary.LittleEndian.Uint64(h[36:]), entries: binary.LittleEndian.Uint64(h[44:]),
		size: idxOff, version: binary.LittleEndian.Uint32(h[8:]), cacheID: kvRunIDs.Add(1), kind: k}
	r.table = k.tables(r.version)
	d := decoder{b: body}
	nb := d.count(4)
	r.blocks = make([]kvBlock, 0, nb)
	prevOff := int64(kvRunHeader)
	end := int64(kvRunHeader)
	for range nb {
		b := kvBlock{first: string(d.bytes())}
		b.off = prevOff + int64(d.uvarint())
		b.n = d.u32()
		if len(d.b) < 4 {
			d.fail()
			break
		}
		b.sum = binary.LittleEndian.Uint32(d.b)
		d.b = d.b[4:]
		if d.err != nil || b.off != end || b.n < 5 || len(r.blocks) > 0 && b.first <= r.blocks[len(r.blocks)-1].first {
			d.fail()
			break
		}
		end = b.off + int64(b.n)
		prevOff = b.off
		r.blocks = append(r.blocks, b)
	}
	if (k != kvRunKind || r.version >= kvRunVersion2) && d.err == nil {
		r.readRecIndex(&d, &prevOff, &end)
	}
	if d.err != nil || len(d.b) != 0 || end != idxOff || uint64(len(r.blocks)) > r.entries || r.entries > 0 && len(r.blocks) == 0 {
		return nil, corrupt(path, idxOff, "malformed %s index", k.noun)
	}
	// The header checksum covers the count of live entries, which only
	// the blocks hold: it is recomputed from them by verifyKvRun; here it
	// names the file, against what the checkpoint recorded.
	r.hdrCRC = binary.LittleEndian.Uint32(h[60:])
	copy(r.hdr[:], h[:60])
	r.idxLen = len(body)
	if want != 0 && r.hdrCRC != want {
		return nil, corrupt(path, 60, "%s header checksum %08x, the checkpoint names %08x", k.noun, r.hdrCRC, want)
	}
	return r, nil
}

// readRecIndex reads the history blocks' part of a version 2 sparse
// index, which follow the entries' blocks (prevOff, end: the last
// block's offset and where it ends).
func (r *kvRun) readRecIndex(d *decoder, prevOff, end *int64) {
	nb := d.count(4)
	r.recBlocks = make([]kvRecBlock, 0, nb)
	var prevRev uint64
	for i := range nb {
		b := kvRecBlock{first: prevRev + d.uvarint()}
		b.off = *prevOff + int64(d.uvarint())
		b.n = d.u32()
		if len(d.b) < 4 {
			d.fail()
			return
		}
		b.sum = binary.LittleEndian.Uint32(d.b)
		d.b = d.b[4:]
		if d.err != nil || b.off != *end || b.n < 5 || b.first == 0 || i > 0 && b.first <= prevRev {
			d.fail()
			return
		}
		*end = b.off + int64(b.n)
		*prevOff, prevRev = b.off, b.first
		r.recBlocks = append(r.recBlocks, b)
	}
	r.recN = d.uvarint()
	r.recLast = d.uvarint()
	if uint64(len(r.recBlocks)) > r.recN || (r.recN == 0) != (len(r.recBlocks) == 0) || r.recN > 0 && r.recLast < prevRev {
		d.fail()
		return
	}
	nf := d.count(4)
	r.bloomOff = *end
	for range nf {
		if len(d.b) < 4 {
			d.fail()
			return
		}
		r.bloomSums = append(r.bloomSums, binary.LittleEndian.Uint32(d.b))
		d.b = d.b[4:]
		*end += kvRunBlockSize + 4
	}
}

// dataSize is the bytes of the run's entries and history records: what
// the tiering weighs (its filter is left out: a filter block stands for
// up to 3,276 keys, and would make a small run weigh a block).
func (r *kvRun) dataSize() int64 {
	if len(r.bloomSums) > 0 {
		return r.bloomOff - kvRunHeader
	}
	return r.size - kvRunHeader
}

// bloomBlock gives filter block i, checked, through cache (nil: none).
func (r *kvRun) bloomBlock(p *effect.P, cache *recCache, i int) ([]byte, error) {
	return r.readBlock(p, cache, len(r.blocks)+len(r.recBlocks)+i, r.bloomOff+int64(i)*(kvRunBlockSize+4), kvRunBlockSize+4, r.bloomSums[i])
}

// mayHold reports whether the run may hold key: false when its filter
// says it does not (a run without a filter may hold any). A filter block
// the cache holds is probed where it lies, with no copy: a commit of new
// keys probes one a key and run, and a copy of its 4 KiB each time was
// most of what a writer of kv keys allocated.
func (r *kvRun) mayHold(p *effect.P, cache *recCache, key string) (bool, error) {
	return r.mayHoldHash(p, cache, kvKeyHash(key))
}

// close closes the run's file.
func (r *kvRun) close(p *effect.P) error {
	if r == nil {
		return nil
	}
	if r.keep != nil {
		return r.keep.close(p)
	}
	if r.fd == 0 {
		return nil
	}
	err := closeFile(p, r.fd)
	r.fd = 0
	return err
}

// block gives block i's entries (without its checksum, nor its table in
// a run of format 3), checked, through cache (nil: none).
func (r *kvRun) block(p *effect.P, cache *recCache, i int) ([]byte, error) {
	b := r.blocks[i]
	data, err := r.readBlock(p, cache, i, b.off, b.n, b.sum)
	if err != nil || !r.table {
		return data, err
	}
	ents, _, ok := splitBlock(data)
	if !ok {
		return nil, corrupt(r.path, b.off, "malformed %s block %d: its entry table", r.noun(), i)
	}
	return ents, nil
}

// recBlock gives history block i (without its checksum), checked,
// through cache (nil: none).
func (r *kvRun) recBlock(p *effect.P, cache *recCache, i int) ([]byte, error) {
	b := r.recBlocks[i]
	return r.readBlock(p, cache, len(r.blocks)+i, b.off, b.n, b.sum)
}

// readBlock reads block number i, of n bytes at off with checksum sum.
func (r *kvRun) readBlock(p *effect.P, cache *recCache, i int, off int64, n uint32, sum uint32) ([]byte, error) {
	key := loc{seg: r.cacheID, off: uint32(i)}
	if cache != nil {
		if b, ok := cache.peek(key); ok {
			return b, nil
		}
	}
	return r.readBlockInto(p, cache, i, off, n, sum, make([]byte, n))
}

// readBlockInto reads block number i as readBlock does, past the cache
// but into it, into buf (of n bytes at least), whose bytes the block
// then aliases.
func (r *kvRun) readBlockInto(p *effect.P, cache *recCache, i int, off int64, n uint32, sum uint32, buf []byte) ([]byte, error) {
	key := loc{seg: r.cacheID, off: uint32(i)}
	b := kvBlock{off: off, n: n, sum: sum}
	buf = buf[:n]
	fd := r.fd
	if r.reopen {
		f, err := r.keep.get(p, r.path)
		if err != nil {
			return nil, err
		}
		fd = f
	}
	got, err := readFull(p, fd, b.off, buf)
	switch {
	case err != nil:
		return nil, fmt.Errorf("file: read %s at %d: %w", r.path, b.off, err)
	case got != len(buf):
		return nil, corrupt(r.path, b.off, "%s block %d cut short", r.noun(), i)
	}
	data := buf[:len(buf)-4]
	if got := binary.LittleEndian.Uint32(buf[len(buf)-4:]); got != b.sum || kvBlockSum(r.gen, i, data) != got {
		return nil, corrupt(r.path, b.off, "%s block %d checksum mismatch", r.noun(), i)
	}
	if cache != nil {
		cache.put(key, data)
	}
	return data, nil
}

// blockFor is the block that holds key if any does: the last whose first
// key is at most key, -1 when key sorts before them all.
func (r *kvRun) blockFor(key string) int {
	return sort.Search(len(r.blocks), func(i int) bool { return r.blocks[i].first > key }) - 1
}

// get finds key in the run (getIn). The entry's key is key, its value
// and kept revisions the caller's.
func (r *kvRun) get(p *effect.P, cache *recCache, key string) (kvRunEntry, bool, error) {
	var e kvRunEntry
	found, err := r.getIn(p, cache, key, kvKeyHash(key), true, func(x kvRunEntry) {
		e = x
		e.value = cloneBytes(x.value)
	})
	return e, found, err
}

// skipKvEntry steps d over one entry, checking it as decodeKvEntry
// does, and gives its key, aliasing d's bytes, whether it has a value,
// whether it is a tombstone (neither a value nor kept revisions), and
// false when the entry is malformed.
func skipKvEntry(d *decoder) ([]byte, bool, bool, bool) {
	k := d.bytes()
	if len(d.b) == 0 || d.b[0] > 1 {
		return nil, false, false, false
	}
	live := d.b[0] == 1
	d.b = d.b[1:]
	rev := d.uvarint()
	if live {
		d.bytes()
	}
	n := d.count(1)
	var prev uint64
	for i := range n {
		delta := d.uvarint()
		if i > 0 && delta == 0 || prev+delta < prev {
			return nil, false, false, false
		}
		prev += delta
	}
	ok := d.err == nil && rev != 0 && (n == 0 || prev <= rev)
	return k, live, !live && n == 0, ok
}

// scan calls fn with the run's entries from the first at or after from,
// in byte order, until fn returns false. The entry's value aliases the
// block: fn copies what it keeps.
func (r *kvRun) scan(p *effect.P, cache *recCache, from string, fn func(e *kvRunEntry) bool) error {
	return r.scanRevs(p, cache, from, true, fn)
}

// scanRevs is scan giving the entries' kept revisions only with revs
// set. The first block is taken from its first entry at or after from
// (blockFrom), the entries before left undecoded.
func (r *kvRun) scanRevs(p *effect.P, cache *recCache, from string, revs bool, fn func(e *kvRunEntry) bool) error {
	i := max(r.blockFor(from), 0)
	for first := true; i < len(r.blocks); i, first = i+1, false {
		var b []byte
		var err error
		if first && from != "" {
			b, err = r.blockFrom(p, cache, i, from)
		} else {
			b, err = r.block(p, cache, i)
		}
		if err != nil {
			return err
		}
		d := decoder{b: b}
		for len(d.b) > 0 {
			e := decodeKvEntryRevs(&d, revs)
			if d.err != nil {
				return corrupt(r.path, r.blocks[i].off, "malformed %s block %d", r.noun(), i)
			}
			if e.key < from {
				continue
			}
			if !fn(&e) {
				return nil
			}
		}
	}
	return nil
}

// verify reads every block, bypassing the cache, and checks that the
// entries are in byte order, each block begins with the key the index
// names and the counts agree with the header's; it gives what is wrong.
func (r *kvRun) verify(p *effect.P, id [16]byte) error {
	var n, live uint64
	var last []byte
	bloom := make([][]byte, len(r.bloomSums))
	for i := range bloom {
		b, err := r.bloomBlock(p, nil, i)
		if err != nil {
			return err
		}
		bloom[i] = b
	}
	for i := range r.blocks {
		bl := r.blocks[i]
		b, err := r.readBlock(p, nil, i, bl.off, bl.n, bl.sum)
		if err != nil {
			return err
		}
		var tab []byte
		if r.table {
			var ok bool
			if b, tab, ok = splitBlock(b); !ok {
				return corrupt(r.path, bl.off, "malformed %s block %d: its entry table", r.noun(), i)
			}
		}
		d := decoder{b: b}
		j := 0
		for ; len(d.b) > 0; j++ {
			at := len(b) - len(d.b)
			if tab != nil && (j >= len(tab)/kvTableEntry || tableOff(tab, j) != at) {
				return corrupt(r.path, bl.off, "%s block %d: its entry table does not give entry %d at %d", r.noun(), i, j, at)
			}
			k, isLive, tomb, ok := skipKvEntry(&d)
			switch {
			case !ok:
				return corrupt(r.path, r.blocks[i].off, "malformed %s block %d", r.noun(), i)
			case tomb && r.kind == kvRunKind && r.version == kvRunVersion1:
				return corrupt(r.path, r.blocks[i].off, "kv run of version 1 holds a tombstone for %q", k)
			case j == 0 && string(k) != r.blocks[i].first:
				return corrupt(r.path, r.blocks[i].off, "%s block %d begins with %q, its index names %q", r.noun(), i, k, r.blocks[i].first)
			case n > 0 && bytes.Compare(k, last) <= 0:
				return corrupt(r.path, r.blocks[i].off, "%s key %q out of order", r.noun(), k)
			case len(bloom) > 0 && !bloomHas(bloom[bloomBlockOf(string(k), len(bloom))], string(k), len(bloom)):
				return corrupt(r.path, r.bloomOff, "%s filter does not hold key %q", r.noun(), k)
			}
			last = k // aliases its block, which nothing reuses
			n++
			if isLive {
				live++
			}
		}
		if tab != nil && j != len(tab)/kvTableEntry {
			return corrupt(r.path, bl.off, "%s block %d of %d entries, its entry table counts %d", r.noun(), i, j, len(tab)/kvTableEntry)
		}
	}
	if n != r.entries {
		return corrupt(r.path, 44, "%s of %d entries where its header counts %d", r.noun(), n, r.entries)
	}
	if err := r.verifyRecs(p); err != nil {
		return err
	}
	if kvHeaderSum(r.hdr[:], r.idxLen, live) != r.hdrCRC {
		return corrupt(r.path, 60, "%s header checksum mismatch", r.noun())
	}
	r.live = live
	return nil
}

// kvRunChange is a key's state since the run, as the in-memory part holds
// it, for a merge: an entry to put in place of the run's, or with
// drop set, a key to leave out, or with revsOnly set, new kept history
// revisions for the run's entry of the key (an entry without a value
// when the run has none).
type kvRunChange struct {
	kvRunEntry
	drop     bool
	revsOnly bool
}

// mergeKvRun writes run gen at path: the entries of the runs of old (nil:
// none; the newest's entry of a key wins) with changes, sorted by key,
// put over them, each entry keeping at most keep history revisions. With
// base set the run is the oldest of its set: no older run holds a key,
// so tombstones are left out (old's and the changes'); else a deleted
// key without history is kept as a tombstone, which hides the older
// runs' entries. It syncs the file but leaves renaming it into place and
// syncing the directory to the caller.
//
// The run's history records are old's, then recs (whose revisions follow
// them).
func mergeKvRun(p *effect.P, path string, id [16]byte, gen, rev uint64, old *kvRunSet, cache *recCache, changes []kvRunChange, keep int, base bool, recs []kvLoc) (*kvRun, error) {
	return mergeKvRunPaced(p, path, id, gen, rev, old, cache, changes, keep, base, recs, 0, nil)
}

// mergeKvRunPaced is mergeKvRun writing the file in pieces of piece
// bytes (kvRunPiece when 0), each synced, calling between (when set)
// after each: a checkpoint beside commits passes its pacer.
func mergeKvRunPaced(p *effect.P, path string, id [16]byte, gen, rev uint64, old *kvRunSet, cache *recCache, changes []kvRunChange, keep int, base bool, recs []kvLoc, piece int, between func()) (*kvRun, error) {
	return mergeKvRunAs(0, p, path, id, gen, rev, old, cache, changes, keep, base, recs, piece, between)
}

// mergeKvRunAs is mergeKvRunPaced writing the run in format version
// (the current when 0): a test writes the versions before.
func mergeKvRunAs(version uint32, p *effect.P, path string, id [16]byte, gen, rev uint64, old *kvRunSet, cache *recCache, changes []kvRunChange, keep int, base bool, recs []kvLoc, piece int, between func()) (*kvRun, error) {
	w, err := newKvRunWriter(p, path, id, gen)
	if err != nil {
		return nil, fmt.Errorf("file: write kv run %s: %w", path, err)
	}
	w.piece, w.between, w.version = piece, between, version
	if !base {
		// A newer run of its set: a filter for the keys it may hold.
		w.filterFor(len(changes), old)
	}
	ci := 0
	// put adds change c over the run's entry of its key (nil: none).
	put := func(c *kvRunChange, e *kvRunEntry) error {
		if c.drop {
			if base {
				return nil
			}
			return w.add(&kvRunEntry{key: c.key, rev: c.rev}) // a tombstone
		}
		if c.revsOnly {
			if e == nil {
				if len(c.revs) == 0 {
					return nil
				}
				e = &kvRunEntry{key: c.key, rev: c.revs[len(c.revs)-1]}
			}
			ne := *e
			ne.revs = c.revs
			if len(ne.revs) == 0 && !ne.live && base {
				return nil // a deleted key whose history is gone
			}
			return w.add(&ne)
		}
		return w.add(&c.kvRunEntry)
	}
	if old != nil {
		err = old.scan(p, cache, "", func(e *kvRunEntry) bool {
			for ci < len(changes) && changes[ci].key < e.key {
				if put(&changes[ci], nil) != nil {
					return false
				}
				ci++
			}
			if ci < len(changes) && changes[ci].key == e.key {
				if put(&changes[ci], e) != nil {
					return false
				}
				ci++
				return true
			}
			e.revs = lastRevs(e.revs, keep)
			if base && !e.live && len(e.revs) == 0 {
				return true // a tombstone over nothing older
			}
			return w.add(e) == nil
		})
	}
	for err == nil && w.err == nil && ci < len(changes) {
		err = put(&changes[ci], nil)
		ci++
	}
	if err == nil && old != nil {
		_, err = old.recScan(p, cache, 0, func(x kvLoc) bool { return w.addRec(x) == nil })
	}
	for i := 0; err == nil && w.err == nil && i < len(recs); i++ {
		err = w.addRec(recs[i])
	}
	return w.end(err, rev)
}

// end finishes the run (finish, rev the last revision or LSN it
// includes) unless err, or an error of the writer, says it failed: then
// it drops the file; a file whose finish failed is removed too.
func (w *kvRunWriter) end(err error, rev uint64) (*kvRun, error) {
	if err == nil {
		err = w.err
	}
	if err != nil {
		w.abort()
		return nil, err
	}
	r, err := w.finish(rev)
	if err != nil {
		_ = remove(w.p, w.path)
		return nil, err
	}
	return r, nil
}

// placeRun renames the run file written at path's tmp into place and
// syncs the log directory; what names the run's kind in errors.
func (s *Store) placeRun(p *effect.P, path, what string) error {
	if _, err := effect.Perform(p, platform.Rename{From: path + tmpSuffix, To: path}); err != nil {
		_ = remove(p, path+tmpSuffix)
		return fmt.Errorf("file: write %s: %w", what, err)
	}
	if err := syncDir(p, s.logDir); err != nil {
		return fmt.Errorf("file: write %s: %w", what, err)
	}
	return nil
}

// isKvRunName reports whether a log directory entry is a kv run file,
// and its generation.
func isKvRunName(name string) (uint64, bool) {
	if !strings.HasPrefix(name, "kv-") || !strings.HasSuffix(name, kvRunSuffix) || len(name) != len("kv-")+16+len(kvRunSuffix) {
		return 0, false
	}
	gen, err := strconv.ParseUint(name[3:19], 16, 64)
	return gen, err == nil
}

// kvPage lists the keys with prefix after after, at most limit, and
// whether more follow: the changes since the run (sorted keys up to
// date) merged with the run's entries.
func (s *state) kvPage(p *effect.P, prefix, after string, limit int) (ops.KvListResult, error) {
	var res ops.KvListResult
	if s.kvRuns == nil {
		keys, more := page(s.keys, prefix, after, limit)
		res.More = more
		for _, k := range keys {
			e := s.kv[k]
			res.Entries = append(res.Entries, ops.KvEntry{Key: k, Value: cloneBytes(e.value), Revision: e.rev})
		}
		return res, nil
	}
	start := prefix
	if after >= start {
		start = after + "\x00"
	}
	mem := s.keys[sort.SearchStrings(s.keys, start):]
	// emit adds one key, or reports that the page is full.
	emit := func(k string, value []byte, rev uint64) bool {
		if len(res.Entries) == limit {
			res.More = true
			return false
		}
		res.Entries = append(res.Entries, ops.KvEntry{Key: k, Value: cloneBytes(value), Revision: rev})
		return true
	}
	// memUpTo emits the changed keys before key (all when key is ""),
	// and reports whether to go on.
	memUpTo := func(key string, all bool) bool {
		for len(mem) > 0 && (all || mem[0] < key) && strings.HasPrefix(mem[0], prefix) {
			e := s.kv[mem[0]]
			k := mem[0]
			mem = mem[1:]
			if !e.del && !emit(k, e.value, e.rev) {
				return false
			}
		}
		return true
	}
	full := false
	err := s.kvRuns.scanRevs(p, s.kvCache, start, false, func(e *kvRunEntry) bool {
		if !strings.HasPrefix(e.key, prefix) {
			return false
		}
		if !memUpTo(e.key, false) {
			full = true
			return false
		}
		if len(mem) > 0 && mem[0] == e.key {
			return true // changed since the run: memUpTo gives it next
		}
		if e.live && !emit(e.key, e.value, e.rev) {
			full = true
			return false
		}
		return true
	})
	if err != nil {
		return ops.KvListResult{}, err
	}
	if !full {
		memUpTo("", true)
	}
	return res, nil
}

// lookUpHad sets, for a state whose keys lie in kv runs, whether each
// kv change of c had a value before it (kvRec.had) and the history the
// run keeps of its key (kvRec.revs): what recovery reads where the
// commit's overlay looked it up.
func (s *state) lookUpHad(p *effect.P, c *commitRec) error {
	if s.kvRuns == nil {
		return nil
	}
	for i := range c.kv {
		k := &c.kv[i]
		e, revs, err := s.kvLookup(p, k.key)
		if err != nil {
			return err
		}
		k.had, k.revs = e != nil, revs
	}
	return nil
}

// openRunSet opens the runs refs name, oldest first, with open; the
// first that fails closes those opened before it.
func openRunSet(p *effect.P, refs []kvRunRef, open func(*effect.P, kvRunRef) (*kvRun, error)) (*kvRunSet, error) {
	set := &kvRunSet{runs: make([]*kvRun, 0, len(refs))}
	for _, ref := range refs {
		r, err := open(p, ref)
		if err != nil {
			_ = set.close(p)
			return nil, err
		}
		set.runs = append(set.runs, r)
	}
	return set, nil
}

// runSizes gives the data bytes of each of runs, for kvFoldCount.
func runSizes(runs []*kvRun) []int64 {
	sizes := make([]int64, len(runs))
	for i, r := range runs {
		sizes[i] = r.dataSize()
	}
	return sizes
}

// kvRunRef is what a checkpoint records of a kv run it names.
type kvRunRef struct {
	gen     uint64
	hdrCRC  uint32
	entries uint64
	live    uint64 // the run's entries with a value
}

func (s *Store) kvCache() *recCache {
	s.kvBlocks.setupSize(s.opts.IndexCacheBytes, defaultIndexCache)
	return &s.kvBlocks
}

// kvRunMissing is the error of a run a checkpoint names that is not on
// the disk: it names the file, and is fs.ErrNotExist.
type kvRunMissing struct {
	path string
	err  error
}

func (e *kvRunMissing) Error() string { return fmt.Sprintf("file: kv run %s: %v", e.path, e.err) }
func (e *kvRunMissing) Unwrap() error { return e.err }

// openKvRunOf opens the runs st's checkpoint names into st, checking
// each against what the checkpoint records of it: its header (the
// checksum the checkpoint names, which covers the count of its keys with
// a value the checkpoint records) and its sparse index, not its blocks.
// A block is checked when a read takes it (rule 8 of recovery: Open does
// the tail's work); Verify reads them all (checkKvRunOf).
func (s *Store) openKvRunOf(p *effect.P, st *state) error {
	st.kvCache = s.kvCache()
	if len(st.kvRefs) == 0 {
		return nil
	}
	set, err := openRunSet(p, st.kvRefs, s.openKvRunRef)
	if err != nil {
		return err
	}
	for i := 1; i < len(set.runs); i++ {
		if a, b := set.runs[i-1], set.runs[i]; a.recN > 0 && b.recN > 0 && b.recBlocks[0].first <= a.recLast {
			_ = set.close(p)
			return corrupt(b.path, 0, "kv run history records from revision %d, not after the older run's %d", b.recBlocks[0].first, a.recLast)
		}
	}
	if h := &st.ret.hist; len(h.recs) > 0 && h.recs[0].rev <= set.recHi() {
		_ = set.close(p)
		return corrupt(set.newest().path, 0, "kv run history records up to revision %d, where the checkpoint holds them from %d", set.recHi(), h.recs[0].rev)
	}
	st.kvRuns = set
	return nil
}

// openKvRunRef opens the run ref names, checked as openKvRunOf says.
func (s *Store) openKvRunRef(p *effect.P, ref kvRunRef) (*kvRun, error) {
	path := filepath.Join(s.logDir, kvRunName(ref.gen))
	r, err := openKvRun(p, path, s.id, ref.gen, ref.hdrCRC)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &kvRunMissing{path: path, err: err}
	}
	if err != nil {
		return nil, err
	}
	if r.entries != ref.entries {
		_ = r.close(p)
		return nil, corrupt(path, 44, "kv run of %d entries where the checkpoint counts %d", r.entries, ref.entries)
	}
	if kvHeaderSum(r.hdr[:], r.idxLen, ref.live) != r.hdrCRC {
		_ = r.close(p)
		return nil, corrupt(path, 60, "kv run header checksum %08x is not that of the %d keys with a value the checkpoint counts", r.hdrCRC, ref.live)
	}
	r.live = ref.live
	return r, nil
}

// checkKvRunOf opens the runs st's checkpoint names as openKvRunOf does
// and reads each whole, in order and keeping nothing: every block's
// checksum, the key order and the counts against the checkpoint's.
func (s *Store) checkKvRunOf(p *effect.P, st *state) error {
	if err := s.openKvRunOf(p, st); err != nil || st.kvRuns == nil {
		return err
	}
	for i, r := range st.kvRuns.runs {
		err := r.verify(p, s.id)
		if err == nil && r.live != st.kvRefs[i].live {
			err = corrupt(r.path, 0, "kv run of %d keys where the checkpoint counts %d", r.live, st.kvRefs[i].live)
		}
		if err != nil {
			_ = st.kvRuns.close(p)
			st.kvRuns = nil
			return err
		}
	}
	return nil
}

// kvChanges gives v's kv changes since its runs, sorted by key, with
// their kept revisions, for writeKvRun; revsOnly reports whether some
// key has its revisions alone in memory (those of a format 7
// checkpoint's section, or trimmed to a lowered depth), whose entry the
// runs hold.
func kvChanges(v *ckptView) (changes []kvRunChange, revsOnly bool) {
	h := &v.ret.hist
	keys := slices.Sorted(maps.Keys(v.kv))
	for k := range h.keys {
		if v.kv[k] == nil {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	changes = make([]kvRunChange, len(keys))
	for i, k := range keys {
		revs, ok := h.keys[k]
		e := v.kv[k]
		if e == nil {
			changes[i] = kvRunChange{kvRunEntry: kvRunEntry{key: k, revs: revs}, revsOnly: true}
			revsOnly = true
			continue
		}
		if !ok {
			revs = []uint64{e.rev} // a history that began at the key's last change
		}
		changes[i] = kvRunChange{kvRunEntry: kvRunEntry{key: k, live: !e.del, rev: e.rev, value: e.value, revs: revs},
			drop: e.del && len(revs) == 0}
	}
	return changes, revsOnly
}

// writeKvRun writes v's kv changes as a new run, folding into it the
// newest runs of v's set that the tiering takes (kvFoldCount; all of
// them when some key's revisions alone are in memory, whose entry the
// new run must then hold whole), durable and in place once it returns,
// named by the checkpoint's LSN, and makes v name the new set: the runs
// not folded and the new one. It gives the set, whose new run is open,
// for the live state to take (nil when there were no changes and v
// names the set it had).
func (s *Store) writeKvRun(p *effect.P, v *ckptView) (*kvRunSet, error) {
	h := &v.ret.hist
	if len(v.kv) == 0 && len(h.keys) == 0 {
		return nil, nil
	}
	changes, revsOnly := kvChanges(v)
	var old []*kvRun
	if v.kvRuns != nil {
		old = v.kvRuns.runs
	}
	k := len(old)
	if !revsOnly {
		k = kvFoldCount(runSizes(old), kvChangesSize(changes)+6*int64(len(h.recs)))
	}
	kept, fold := old[:len(old)-k], old[len(old)-k:]
	gen := v.r.lsn
	path := filepath.Join(s.logDir, kvRunName(gen))
	for _, r := range old {
		if r.gen == gen {
			return nil, fmt.Errorf("file: kv run %s exists", path)
		}
	}
	var from *kvRunSet
	if len(fold) > 0 {
		from = &kvRunSet{runs: fold}
	}
	// The folded runs are read past the cache: a fold would otherwise
	// push out what the reads keep warm.
	piece := 0
	if v.beside {
		piece = ckptPieceBeside // as the checkpoint file's, v.pace between
	}
	r, err := mergeKvRunPaced(p, path+tmpSuffix, s.id, gen, v.rev, from, nil, changes, h.keep(), len(kept) == 0, h.recs, piece, v.pace)
	if err != nil {
		return nil, err
	}
	if err := s.placeRun(p, path, "kv run"); err != nil {
		return nil, err
	}
	open, err := openKvRun(p, path, s.id, gen, r.hdrCRC)
	if err != nil {
		return nil, err
	}
	open.live = r.live
	set := &kvRunSet{runs: append(slices.Clone(kept), open)}
	v.kvRuns, v.kvRefs = set, set.refs()
	v.kv, h.keys, h.recs = nil, nil, nil // the runs hold them: the checkpoint names none
	return set, nil
}

// removeOldKvRuns removes the run files before generation below that
// keep does not name: keep is the runs the kept checkpoints name (the
// newest and the one before), so that each still opens.
func (s *Store) removeOldKvRuns(p *effect.P, keep []uint64, below uint64) error {
	return s.removeOldRuns(p, isKvRunName, keep, below)
}

// removeOldRuns removes the run files (those isName takes) before
// generation below that keep does not name.
func (s *Store) removeOldRuns(p *effect.P, isName func(string) (uint64, bool), keep []uint64, below uint64) error {
	ents, err := listDir(p, s.logDir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if gen, ok := isName(e.Name); ok && gen < below && !slices.Contains(keep, gen) {
			if err := remove(p, filepath.Join(s.logDir, e.Name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// takeKvRun makes set the state's, as of kv revision rev (the caller
// holds the store's lock exclusively): the changes it holds leave
// memory; the runs of the set it replaces that the new one does not
// hold are retired, to be closed by the owner of the log (readers read a
// run under the read lock only).
//
// A state without runs drops a deleted key from its changes (apply): a
// key the runs hold that a commit after rev deleted would then read the
// runs' value, so it takes an entry of its delete here (its last kept
// revision is the delete's).
func (s *state) takeKvRun(set *kvRunSet, rev uint64) {
	first := s.kvRuns == nil
	if !first {
		for _, r := range s.kvRuns.runs {
			if !set.has(r) {
				s.kvRetired = append(s.kvRetired, r)
			}
		}
	}
	s.kvRuns, s.kvRefs = set, set.refs()
	// The changes after rev, and their history, go into maps made anew
	// rather than deleting the others from the old: a map never gives
	// back the room of what it held, so one that held a checkpoint's
	// million keys would hold their room until the store closes.
	kv := make(map[string]*kvEntry)
	for k, e := range s.kv {
		if e.rev > rev {
			kv[k] = e
		}
	}
	s.kv = kv
	s.keys, s.keysDirty = nil, true // nor does the sorted list's array
	h := &s.ret.hist
	if hi := set.recHi(); hi > 0 {
		i := sort.Search(len(h.recs), func(i int) bool { return h.recs[i].rev > hi })
		h.recs = slices.Clone(h.recs[i:]) // the runs hold the others
	}
	keys := make(map[string][]uint64)
	for k, revs := range h.keys {
		if len(revs) == 0 || revs[len(revs)-1] <= rev {
			continue // the runs hold its revisions
		}
		keys[k] = revs
		if last := revs[len(revs)-1]; first && s.kv[k] == nil {
			s.kv[k] = &kvEntry{rev: last, del: true} // deleted since rev
		}
	}
	h.keys = keys
	s.kvBytes = int64(len(h.recs)) * kvRecBytes
	for k, e := range s.kv {
		s.kvBytes += kvEntryBytes(k, e.value)
	}
}

// loadKvRunOf opens, checks whole and reads into st.kv the runs st's
// checkpoint names, for Verify to compare them with what the log holds.
func (s *Store) loadKvRunOf(p *effect.P, st *state) error {
	if err := s.checkKvRunOf(p, st); err != nil || st.kvRuns == nil {
		return err
	}
	set := st.kvRuns
	defer func() { _ = set.close(p) }()
	st.kvRuns = nil
	h := &st.ret.hist
	if h.keys == nil {
		h.keys = make(map[string][]uint64)
	}
	var recs []kvLoc
	if _, err := set.recScan(p, nil, 0, func(x kvLoc) bool { recs = append(recs, x); return true }); err != nil {
		return err
	}
	h.recs = append(recs, h.recs...)
	return set.scan(p, nil, "", func(e *kvRunEntry) bool {
		if e.live {
			st.kv[e.key] = &kvEntry{value: cloneBytes(e.value), rev: e.rev}
		}
		if _, ok := h.keys[e.key]; !ok && len(e.revs) > 0 {
			h.keys[e.key] = lastRevs(e.revs, h.keep())
		}
		return true
	})
}
