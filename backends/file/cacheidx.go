package file

import (
	"cmp"
	"encoding/binary"
)

// ringIndex is a cache's index from key to the place of its entry in the
// ring: an open-addressing table with linear probing, in memory outside
// the Go heap like the ring (an arena). Each slot is 8 bytes, so a probe
// of a few slots reads one CPU cache line: a tag (32 bits of the key's
// hash, never 0; 0 marks an empty slot) and the entry's header offset in
// the ring. The key itself is not kept: a slot whose tag matches is
// confirmed by the entry's header in the ring, which names its key and
// which the lookup reads anyway. A slot's home is its tag's low bits, so
// the table grows (doubling when three quarters full) and deletes (by
// backward shift, leaving no tombstones) from the tags alone. Its size
// follows the entries held, which the ring's size bounds (each entry is
// at least cacheHdr bytes): at most 8/0.375 = 21.3 bytes an entry, 10.7
// to 21.3 as it fills between doublings; the first table is sized to
// the ring (ringFirst), so that a small ring's is small too.
type ringIndex struct {
	tab   *arena // nil until the first insert
	slots []byte // tab's bytes: 8 a slot
	mask  uint32 // slots-1, a power of two less one
	n     int    // slots in use
	first int    // slots of the first table: ringMinSlot, or fewer (ringFirst)
}

const (
	ringSlot    = 8
	ringMinSlot = 1 << 10 // the table's first size, in slots, for a ring that holds more
)

// ringFirst gives the slots of the first table for a ring of size
// bytes: ringMinSlot, or the fewest that hold, three quarters full, all
// the entries the ring can (each at least cacheHdr bytes), so that the
// table of a small ring takes no more than twice the ring's bytes.
func ringFirst(size int) int {
	entries := size / cacheHdr
	s := 2
	for s < ringMinSlot && s*3 < entries*4 {
		s *= 2
	}
	return s
}

// ringHash gives the tag of l: the high half of a multiplicative hash of
// its segment and offset, 0 made 1 (0 marks an empty slot).
func ringHash(l loc) uint32 {
	h := (uint64(l.seg)<<32 | uint64(l.off)) * 0x9E3779B97F4A7C15
	h ^= h >> 29
	h *= 0xBF58476D1CE4E5B9
	t := uint32(h >> 32)
	if t == 0 {
		t = 1
	}
	return t
}

func (x *ringIndex) slot(i uint32) (tag, at uint32) {
	v := binary.LittleEndian.Uint64(x.slots[int(i)*ringSlot:])
	return uint32(v), uint32(v >> 32)
}

func (x *ringIndex) set(i, tag, at uint32) {
	binary.LittleEndian.PutUint64(x.slots[int(i)*ringSlot:], uint64(tag)|uint64(at)<<32)
}

// find gives the ring offset of l's entry, confirming each candidate by
// the header at its offset in ring, which names the entry's key.
func (x *ringIndex) find(l loc, ring []byte) (uint32, bool) {
	if x.n == 0 {
		return 0, false
	}
	tag := ringHash(l)
	for i := tag & x.mask; ; i = (i + 1) & x.mask {
		t, at := x.slot(i)
		if t == 0 {
			return 0, false
		}
		if t == tag && int(at)+cacheHdr <= len(ring) &&
			binary.LittleEndian.Uint32(ring[at:]) == l.seg && binary.LittleEndian.Uint32(ring[at+4:]) == l.off {
			return at, true
		}
	}
}

// insert records that l's entry (not in the table) lies at at.
func (x *ringIndex) insert(l loc, at uint32) {
	if x.tab == nil || (x.n+1)*4 > (int(x.mask)+1)*3 {
		x.grow()
	}
	x.place(ringHash(l), at)
	x.n++
}

// place sets the first empty slot from tag's home to tag and at.
func (x *ringIndex) place(tag, at uint32) {
	i := tag & x.mask
	for {
		if t, _ := x.slot(i); t == 0 {
			break
		}
		i = (i + 1) & x.mask
	}
	x.set(i, tag, at)
}

// remove drops l's entry at at, if the table holds it, shifting the
// slots after it back so that no probe run is broken.
func (x *ringIndex) remove(l loc, at uint32) {
	if x.n == 0 {
		return
	}
	tag := ringHash(l)
	i := tag & x.mask
	for {
		t, a := x.slot(i)
		if t == 0 {
			return
		}
		if t == tag && a == at {
			break
		}
		i = (i + 1) & x.mask
	}
	// Backward shift: move each later slot of the run into the hole
	// when the hole lies between its home and it.
	hole := i
	for k := (hole + 1) & x.mask; ; k = (k + 1) & x.mask {
		t, a := x.slot(k)
		if t == 0 {
			break
		}
		home := t & x.mask
		if (k-home)&x.mask >= (k-hole)&x.mask {
			x.set(hole, t, a)
			hole = k
		}
	}
	x.set(hole, 0, 0)
	x.n--
}

// grow doubles the table (or sets it up), placing every slot again by
// its tag.
func (x *ringIndex) grow() {
	size := cmp.Or(x.first, ringMinSlot)
	if x.tab != nil {
		size = (int(x.mask) + 1) * 2
	}
	old, oldSlots, oldN := x.tab, x.slots, int(x.mask)+1
	x.tab = newArena(size * ringSlot)
	x.slots, x.mask = x.tab.b, uint32(size-1)
	if old == nil {
		return
	}
	for j := range oldN {
		v := binary.LittleEndian.Uint64(oldSlots[j*ringSlot:])
		tag, at := uint32(v), uint32(v>>32)
		if tag != 0 {
			x.place(tag, at)
		}
	}
	old.free()
}

// len gives the entries held.
func (x *ringIndex) len() int { return x.n }

// each calls fn with the ring offset of every entry held.
func (x *ringIndex) each(fn func(at uint32)) {
	if x.tab == nil {
		return
	}
	for i := range x.mask + 1 {
		if t, at := x.slot(i); t != 0 {
			fn(at)
		}
	}
}

// release gives the table's memory back.
func (x *ringIndex) release() {
	if x.tab != nil {
		x.tab.free()
	}
	*x = ringIndex{}
}

// touch loads the first slot of each of ls's probe runs, and then the
// ring header of each entry found, giving the sum of what it read so
// that the loads are not left out: the loads of one pass do not depend
// on each other, so the CPU overlaps their cache misses, and the lookups
// that follow find their lines in the CPU cache. It changes nothing.
func (x *ringIndex) touch(ls []loc, ring []byte) uint64 {
	if x.n == 0 {
		return 0
	}
	var sum uint64
	for _, l := range ls {
		sum += binary.LittleEndian.Uint64(x.slots[int(ringHash(l)&x.mask)*ringSlot:])
	}
	var ats [16]uint32
	n := 0
	for _, l := range ls[:min(len(ls), len(ats))] {
		// The first slot of its tag: its entry, but for a tag shared.
		tag := ringHash(l)
		for i := tag & x.mask; ; i = (i + 1) & x.mask {
			t, at := x.slot(i)
			if t == 0 {
				break
			}
			if t == tag {
				ats[n] = at
				n++
				break
			}
		}
	}
	for _, at := range ats[:n] {
		if int(at)+cacheHdr <= len(ring) {
			sum += uint64(binary.LittleEndian.Uint32(ring[at+8:]))
		}
	}
	return sum
}
