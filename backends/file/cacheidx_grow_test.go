package file

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// putHdr writes a ring header naming l at p, as put does.
func putHdr(ring []byte, l loc, p uint32) {
	binary.LittleEndian.PutUint32(ring[p:], l.seg)
	binary.LittleEndian.PutUint32(ring[p+4:], l.off)
}

// Keys whose homes lie at the table's end make probe runs that wrap to
// its start; the table doubles twice under them, and deletions in random
// order, each shifting back across the wrap, keep every other key found
// at its offset, offset 0 included.
func TestRingIndexGrowWrap(t *testing.T) {
	var x ringIndex
	defer x.release()
	const n = 3000 // past 768 and 1536 slots in use: two doublings
	ring := make([]byte, n*cacheHdr)
	var keys []loc
	homeEnd := 0
	for off := uint32(0); len(keys) < n; off++ {
		l := loc{seg: 2, off: off}
		// Half of the keys have homes in the last 8 slots of the first
		// table and of the ones it doubles to.
		end := ringHash(l)&(ringMinSlot-1) >= ringMinSlot-8
		if end || len(keys)%2 == 1 {
			if end {
				homeEnd++
			}
			p := uint32(len(keys) * cacheHdr)
			putHdr(ring, l, p)
			x.insert(l, p)
			keys = append(keys, l)
		}
	}
	require.Greater(t, homeEnd, n/3)
	require.Equal(t, uint32(4*ringMinSlot-1), x.mask, "two doublings")
	wrapped := false
	for i := range x.mask + 1 {
		if t, _ := x.slot(i); t != 0 && t&x.mask > i {
			wrapped = true
		}
	}
	require.True(t, wrapped, "a probe run wraps past the table's end")
	check := func(gone map[int]bool) {
		for j, l := range keys {
			got, ok := x.find(l, ring)
			if gone[j] {
				require.False(t, ok, "%v removed", l)
				continue
			}
			require.True(t, ok, "%v", l)
			require.Equal(t, uint32(j*cacheHdr), got)
		}
	}
	check(nil)
	gone := map[int]bool{}
	rng := rand.New(rand.NewPCG(5, 6))
	for k, j := range rng.Perm(n) {
		x.remove(keys[j], uint32(j*cacheHdr))
		gone[j] = true
		if k%97 == 0 {
			check(gone)
		}
	}
	check(gone)
	require.Zero(t, x.len())
}

// Two keys of one tag: a lookup of one whose slot is the other's finds
// the other's header and misses, never giving the other's offset; with
// both held each is found at its own, and removing one keeps the other.
func TestRingIndexTagShared(t *testing.T) {
	seen := map[uint32]loc{}
	var a, b loc
	for off := uint32(0); ; off++ {
		l := loc{seg: 3, off: off}
		if o, ok := seen[ringHash(l)]; ok {
			a, b = o, l
			break
		}
		seen[ringHash(l)] = l
	}
	ring := make([]byte, 64)
	var x ringIndex
	defer x.release()
	putHdr(ring, a, 0)
	x.insert(a, 0)
	_, ok := x.find(b, ring)
	require.False(t, ok, "%v shares %v's tag and must miss", b, a)
	putHdr(ring, b, 24)
	x.insert(b, 24)
	got, ok := x.find(a, ring)
	require.True(t, ok)
	require.Equal(t, uint32(0), got)
	got, ok = x.find(b, ring)
	require.True(t, ok)
	require.Equal(t, uint32(24), got)
	x.remove(a, 0)
	_, ok = x.find(a, ring)
	require.False(t, ok)
	got, ok = x.find(b, ring)
	require.True(t, ok)
	require.Equal(t, uint32(24), got)
	// A remove naming the right key at a wrong offset removes nothing.
	x.remove(b, 0)
	require.Equal(t, 1, x.len())
}

// A cache's table is bounded by its ring: a small ring's entries fit a
// table smaller than the first size a large one starts at, so the table
// never takes more than twice the ring's bytes (doc.go, Memory: the
// entries, and with them the table, are bounded by the ring's size).
func TestRingIndexBoundedByRing(t *testing.T) {
	for _, size := range []int{13, 100, 600, 4096, 20000, 1 << 20} {
		var c recCache
		c.setupSize(size, 0)
		for i := range 3 * size / cacheHdr {
			l := loc{seg: 1, off: uint32(i)}
			c.put(l, recOf(l, i%3))
			if n := len(c.idx.slots); n > 2*size {
				c.release()
				t.Fatalf("a ring of %d bytes has a table of %d bytes", size, n)
			}
		}
		checkCache(t, &c)
		c.release()
	}
}
