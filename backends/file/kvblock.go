package file

import (
	"encoding/binary"
	"sync"

	"rose-ash.com/persist/effect"
)

// Entry tables (kv run format 3, see "Kv run files" in the package doc):
// an entries' block ends, before its checksum, with the offset in the
// block of each of its entries (uint16 each, in key order, the first 0)
// and their count (uint16). An entry stands alone (its key is written
// whole), so every entry is a restart point: a lookup finds a key by a
// binary search over the table, decoding the keys it compares and then
// the one entry it takes, where a block without a table (formats 1 and 2,
// and the stream runs) is walked entry by entry up to the key, which was
// most of a kv-get's time (some 25 entries of a 4 KiB block passed).

// kvTableEntry is the bytes of one entry's offset in a block's table.
const kvTableEntry = 2

// blockTableLen is the bytes of the table of a block of n entries.
func blockTableLen(n int) int { return kvTableEntry*n + 2 }

// appendBlockTable appends the table of a block whose entries begin at
// offs.
func appendBlockTable(b []byte, offs []uint16) []byte {
	for _, o := range offs {
		b = binary.LittleEndian.AppendUint16(b, o)
	}
	return binary.LittleEndian.AppendUint16(b, uint16(len(offs)))
}

// splitBlock splits b, a block with a table (its checksum left out),
// into its entries and its table; false when the count does not fit the
// block or is zero (a block holds an entry at least).
func splitBlock(b []byte) (ents, tab []byte, ok bool) {
	if len(b) < 2 {
		return nil, nil, false
	}
	n := int(binary.LittleEndian.Uint16(b[len(b)-2:]))
	end := len(b) - blockTableLen(n)
	if n == 0 || end < 0 {
		return nil, nil, false
	}
	return b[:end], b[end : len(b)-2], true
}

// tableOff is the offset the table tab gives entry i.
func tableOff(tab []byte, i int) int {
	return int(binary.LittleEndian.Uint16(tab[kvTableEntry*i:]))
}

// tableKey gives the key of entry i of the block whose entries are ents
// and whose table is tab, aliasing ents; false when the table points
// outside the entries or the key does not decode.
func tableKey(ents, tab []byte, i int) ([]byte, bool) {
	off := tableOff(tab, i)
	if off >= len(ents) {
		return nil, false
	}
	d := decoder{b: ents[off:]}
	k := d.bytes()
	return k, d.err == nil
}

// searchBlock finds key in b, a block with a table (its checksum left
// out), by a binary search over the table, and gives the bytes of its
// entry: from its offset to the next entry's (or the table). nil when
// the block does not hold key; false when the table is malformed (an
// offset outside the entries or before the entry before, or a key that
// does not decode).
func searchBlock(b []byte, key string) ([]byte, bool) {
	ents, tab, ok := splitBlock(b)
	if !ok {
		return nil, false
	}
	n := len(tab) / kvTableEntry
	lo, hi := 0, n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		k, ok := tableKey(ents, tab, m)
		if !ok {
			return nil, false
		}
		if string(k) < key {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == n {
		return nil, true
	}
	k, ok := tableKey(ents, tab, lo)
	if !ok {
		return nil, false
	}
	if string(k) != key {
		return nil, true
	}
	start, end := tableOff(tab, lo), len(ents)
	if lo+1 < n {
		end = tableOff(tab, lo+1)
	}
	if end <= start || end > len(ents) {
		return nil, false
	}
	return ents[start:end], true
}

// decodeKvFound decodes the entry of key at the start of d, checking it
// as decodeKvEntry does, with key as its key (the caller's string: no
// copy) and its value aliasing d's bytes; its kept revisions are decoded
// into a new slice only with revs set (else walked over and checked), so
// that a lookup of the value alone allocates nothing.
func decodeKvFound(d *decoder, key string, revs bool) kvRunEntry {
	e := kvRunEntry{key: key}
	d.bytes()
	if len(d.b) == 0 || d.b[0] > 1 {
		d.fail()
		return e
	}
	e.live = d.b[0] == 1
	d.b = d.b[1:]
	e.rev = d.uvarint()
	if e.live {
		e.value = d.bytes()
	}
	n := d.count(1)
	if revs && n > 0 {
		e.revs = make([]uint64, n)
	}
	var prev uint64
	for i := range n {
		delta := d.uvarint()
		if i > 0 && delta == 0 || prev+delta < prev {
			d.fail()
			return e
		}
		prev += delta
		if revs {
			e.revs[i] = prev
		}
	}
	if d.err == nil && (e.rev == 0 || n > 0 && prev > e.rev) {
		d.fail()
	}
	return e
}

// getIn finds key, whose hash (kvKeyHash) is h, in the run: the sparse
// index, the filter (a run without one may hold any key), then one block
// of entries, searched where it lies when the cache holds it. fn is
// called with the entry found, its key being key and its value aliasing
// the block (under the cache's lock: fn copies what it keeps and calls
// nothing of the cache); its kept revisions only with revs set. The
// entry is passed by value: a pointer to it escapes through fn, an
// allocation a get. It reports whether the run holds key (a tombstone
// included).
func (r *kvRun) getIn(p *effect.P, cache *recCache, key string, h uint64, revs bool, fn func(e kvRunEntry)) (bool, error) {
	i := r.blockFor(key)
	if i < 0 {
		return false, nil
	}
	if ok, err := r.mayHoldHash(p, cache, h); err != nil || !ok {
		return false, err
	}
	var found bool
	var err error
	if cache != nil {
		if _, ok := cache.test(loc{seg: r.cacheID, off: uint32(i)}, func(b []byte) bool {
			found, err = r.find(b, i, key, revs, fn)
			return true
		}); ok {
			return found, err
		}
	}
	bl := r.blocks[i]
	buf := getBlockBuf(bl.n)
	defer putBlockBuf(buf)
	b, err := r.readBlockInto(p, cache, i, bl.off, bl.n, bl.sum, *buf)
	if err != nil {
		return false, err
	}
	return r.find(b, i, key, revs, fn)
}

// blockBufs holds buffers of a block for the reads of a lookup, whose
// block the cache copies and fn copies from: nothing keeps the buffer,
// and a read of a block not in the cache allocates no 4 KiB of its own.
var blockBufs = sync.Pool{New: func() any {
	b := make([]byte, kvRunBlockSize+4)
	return &b
}}

// getBlockBuf gives a buffer of n bytes at least, from blockBufs when a
// block of n bytes fits its buffers.
func getBlockBuf(n uint32) *[]byte {
	if n > kvRunBlockSize+4 {
		b := make([]byte, n)
		return &b
	}
	return blockBufs.Get().(*[]byte)
}

// putBlockBuf gives a buffer of getBlockBuf back.
func putBlockBuf(b *[]byte) {
	if cap(*b) == kvRunBlockSize+4 {
		blockBufs.Put(b)
	}
}

// find finds key in b, block i of the run (its checksum left out): by
// its table in a run of format 3, else entry by entry up to the key. It
// calls fn with the entry found, as getIn says.
func (r *kvRun) find(b []byte, i int, key string, revs bool, fn func(e kvRunEntry)) (bool, error) {
	bad := func() error {
		return corrupt(r.path, r.blocks[i].off, "malformed %s block %d", r.noun(), i)
	}
	var at []byte
	if r.table {
		ent, ok := searchBlock(b, key)
		if !ok {
			return false, bad()
		}
		if ent == nil {
			return false, nil
		}
		at = ent
	} else {
		d := decoder{b: b}
		for len(d.b) > 0 && at == nil {
			here := d.b
			k, _, _, ok := skipKvEntry(&d)
			if !ok {
				return false, bad()
			}
			if string(k) == key {
				at = here
			} else if string(k) > key {
				return false, nil
			}
		}
		if at == nil {
			return false, nil
		}
	}
	d := decoder{b: at}
	e := decodeKvFound(&d, key, revs)
	if d.err != nil || r.table && len(d.b) != 0 {
		return false, bad()
	}
	fn(e)
	return true, nil
}

// mayHoldHash is mayHold of the key whose hash is h.
func (r *kvRun) mayHoldHash(p *effect.P, cache *recCache, h uint64) (bool, error) {
	nb := len(r.bloomSums)
	if nb == 0 {
		return true, nil
	}
	i := bloomBlockOfHash(h, nb)
	if cache != nil {
		l := loc{seg: r.cacheID, off: uint32(len(r.blocks) + len(r.recBlocks) + i)}
		if may, ok := cache.test(l, func(b []byte) bool { return bloomHasHash(b, h) }); ok {
			return may, nil
		}
	}
	buf := getBlockBuf(kvRunBlockSize + 4)
	defer putBlockBuf(buf)
	b, err := r.readBlockInto(p, cache, len(r.blocks)+len(r.recBlocks)+i, r.bloomOff+int64(i)*(kvRunBlockSize+4), kvRunBlockSize+4, r.bloomSums[i], *buf)
	if err != nil {
		return false, err
	}
	return bloomHasHash(b, h), nil
}

// getFn finds key's newest entry in the set as get does, hashing the key
// once for the filters of all its runs, and calls fn with it as
// kvRun.getIn says (its kept revisions only with revs set). It reports
// whether a run holds key (a tombstone included).
func (rs *kvRunSet) getFn(p *effect.P, cache *recCache, key string, revs bool, fn func(e kvRunEntry)) (bool, error) {
	h := kvKeyHash(key)
	for i := len(rs.runs) - 1; i >= 0; i-- {
		found, err := rs.runs[i].getIn(p, cache, key, h, revs, fn)
		if err != nil || found {
			return found, err
		}
	}
	return false, nil
}

// blockFrom gives block i's entries (as block does) from the first whose
// key is at least from: found by the table's binary search in a run of
// format 3, else by a walk over the entries before it that decodes their
// keys alone.
func (r *kvRun) blockFrom(p *effect.P, cache *recCache, i int, from string) ([]byte, error) {
	bl := r.blocks[i]
	b, err := r.readBlock(p, cache, i, bl.off, bl.n, bl.sum)
	if err != nil {
		return nil, err
	}
	bad := func() error {
		return corrupt(r.path, bl.off, "malformed %s block %d", r.noun(), i)
	}
	if !r.table {
		d := decoder{b: b}
		for len(d.b) > 0 {
			at := d.b
			k, _, _, ok := skipKvEntry(&d)
			if !ok {
				return nil, bad()
			}
			if string(k) >= from {
				return at, nil
			}
		}
		return d.b, nil
	}
	ents, tab, ok := splitBlock(b)
	if !ok {
		return nil, corrupt(r.path, bl.off, "malformed %s block %d: its entry table", r.noun(), i)
	}
	n := len(tab) / kvTableEntry
	lo, hi := 0, n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		k, ok := tableKey(ents, tab, m)
		if !ok {
			return nil, bad()
		}
		if string(k) < from {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == n {
		return ents[len(ents):], nil
	}
	if off := tableOff(tab, lo); off < len(ents) {
		return ents[off:], nil
	}
	return nil, bad()
}
