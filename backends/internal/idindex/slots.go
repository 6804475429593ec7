package idindex

import (
	"encoding/binary"
	"math/bits"
)

// AppendSlots appends x as it lies in memory, for a reader that wants it
// back at the cost of a copy rather than of one insertion per entry: the
// number of tables (uvarint), then per table its base, k, position bits
// r, entry count and highest position (uvarints) and its 2^k slots (8
// bytes each, little-endian; the layout of a slot is in the package doc).
// It takes 8 bytes a slot, 10.7 to 21.3 bytes an entry, where
// AppendBinary takes about 7; [DecodeSlots] reads it.
func (x *Index) AppendSlots(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(x.tables)))
	for _, t := range x.tables {
		b = binary.AppendUvarint(b, t.base)
		b = binary.AppendUvarint(b, uint64(t.k))
		b = binary.AppendUvarint(b, uint64(t.r))
		b = binary.AppendUvarint(b, uint64(t.n))
		b = binary.AppendUvarint(b, t.last)
		b = bitsAppend(b, t.slots)
	}
	return b
}

func bitsAppend(b []byte, slots []uint64) []byte {
	start := len(b)
	b = append(b, make([]byte, 8*len(slots))...)
	out := b[start:]
	for i, s := range slots {
		binary.LittleEndian.PutUint64(out[8*i:], s)
	}
	return b
}

// DecodeSlots reads an index that AppendSlots wrote from the start of b,
// keyed by seed, and returns it and the bytes after it. It checks what a
// lookup relies on, in one pass over the slots: every table's size fits
// its entries, its position bits lie between 4 and max(k, 48-k) and hold
// its highest position, every slot's position lies within its table, the
// count of slots in use is the entry count, and every entry can be found
// from its home slot (no empty slot between), so the index answers as the
// one encoded did; anything else is ErrMalformed.
func DecodeSlots(b []byte, seed [16]byte) (*Index, []byte, error) {
	return decodeSlots(b, seed, true)
}

// DecodeDenseSlots reads an index in the layout AppendSlots wrote before a
// table kept its own position bits: no r in a table's header, and r equal
// to k in every table (the low k bits of a slot its position), as an index
// that took an entry for every position has. It checks what DecodeSlots
// checks and returns an index that takes entries as any other.
func DecodeDenseSlots(b []byte, seed [16]byte) (*Index, []byte, error) {
	return decodeSlots(b, seed, false)
}

func decodeSlots(b []byte, seed [16]byte, withR bool) (*Index, []byte, error) {
	x := New(seed)
	d := decoder{b: b}
	nt := d.uvarint()
	if nt > uint64(len(b)) {
		return nil, nil, ErrMalformed
	}
	var prevLast uint64
	for ti := uint64(0); ti < nt && d.err == nil; ti++ {
		base := d.uvarint()
		k := d.uvarint()
		r := k
		if withR {
			r = d.uvarint()
		}
		n := d.uvarint()
		last := d.uvarint()
		if d.err != nil || k < minBits || k > maxBits || r < minBits || r > uint64(maxRel(uint(k))) ||
			base < prevLast || last < base || uint(bits.Len64(last-base)) > uint(r) || n > 1<<k || kFor(n) > uint(k) {
			return nil, nil, ErrMalformed
		}
		size := uint64(1) << k
		if size > uint64(len(d.b))/8 {
			return nil, nil, ErrMalformed
		}
		t := &table{base: base, k: uint(k), r: uint(r), last: last, slots: make([]uint64, size)}
		for i := range t.slots {
			t.slots[i] = binary.LittleEndian.Uint64(d.b[8*i:])
		}
		d.b = d.b[8*size:]
		if !t.check(n) {
			return nil, nil, ErrMalformed
		}
		t.n = int(n)
		prevLast = last
		x.tables = append(x.tables, t)
	}
	if d.err != nil {
		return nil, nil, ErrMalformed
	}
	return x, d.b, nil
}

// check reports whether t's slots hold n entries, each at a position
// within t and reachable from its home slot by linear probing.
func (t *table) check(n uint64) bool {
	m, sm := t.mask(), uint64(len(t.slots)-1)
	size := uint64(len(t.slots))
	span := t.last - t.base
	// Start after an empty slot, so that every run of slots in use is
	// seen whole; a table at most three quarters full has one.
	start := uint64(0)
	for start < size && t.slots[start] != 0 {
		start++
	}
	if start == size {
		return false
	}
	var used uint64
	runStart := start + 1
	for j := uint64(1); j <= size; j++ {
		i := (start + j) & sm
		s := t.slots[i]
		if s == 0 {
			runStart = i + 1
			continue
		}
		used++
		rel := s & m
		if rel == 0 || rel > span {
			return false
		}
		home := s >> (64 - t.k)
		// home must lie in the run from runStart to i, cyclically.
		if (i-home)&sm > (i-(runStart&sm))&sm {
			return false
		}
	}
	return used == n
}
