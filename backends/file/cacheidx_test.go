package file

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// ringModel drives a ringIndex beside a map, over a fake ring whose
// headers name the keys: after every step the table finds exactly the
// keys the map holds, at their offsets, through growth and backward-shift
// deletions in long probe runs.
func ringModel(t *testing.T, steps []byte) {
	const slots = 4096
	ring := make([]byte, slots*cacheHdr)
	var x ringIndex
	defer x.release()
	want := map[loc]uint32{}
	at := func(i int) uint32 { return uint32(i * cacheHdr) }
	for k, s := range steps {
		// Few segments and offsets, so that keys come and go again.
		i := int(s) % 300
		l := loc{seg: uint32(i % 3), off: uint32(i / 3)}
		if o, ok := want[l]; ok {
			x.remove(l, o)
			delete(want, l)
		} else {
			p := at(i)
			binary.LittleEndian.PutUint32(ring[p:], l.seg)
			binary.LittleEndian.PutUint32(ring[p+4:], l.off)
			x.insert(l, p)
			want[l] = p
		}
		if k%17 == 0 || k == len(steps)-1 {
			require.Equal(t, len(want), x.len())
			for l, o := range want {
				got, ok := x.find(l, ring)
				require.True(t, ok, "%v", l)
				require.Equal(t, o, got)
			}
			n := 0
			x.each(func(uint32) { n++ })
			require.Equal(t, len(want), n)
		}
	}
	for l := range want {
		x.remove(l, want[l])
	}
	require.Zero(t, x.len())
	for i := range 300 {
		_, ok := x.find(loc{seg: uint32(i % 3), off: uint32(i / 3)}, ring)
		require.False(t, ok)
	}
}

// The table agrees with a map across thousands of random inserts and
// deletes, and across growth from its first size.
func TestRingIndexModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	steps := make([]byte, 20000)
	for i := range steps {
		steps[i] = byte(rng.IntN(256))
	}
	ringModel(t, steps)
}

// Keys whose tags share a home make one long probe run: a deletion in
// its middle keeps every later key findable.
func TestRingIndexCollisions(t *testing.T) {
	var x ringIndex
	defer x.release()
	ring := make([]byte, 1<<20)
	var keys []loc
	home := uint32(7)
	for off := uint32(0); len(keys) < 40; off++ {
		l := loc{seg: 1, off: off}
		if ringHash(l)&(ringMinSlot-1) == home || ringHash(l)&(ringMinSlot-1) == home+1 {
			p := uint32(len(keys) * cacheHdr)
			binary.LittleEndian.PutUint32(ring[p:], l.seg)
			binary.LittleEndian.PutUint32(ring[p+4:], l.off)
			x.insert(l, p)
			keys = append(keys, l)
		}
	}
	for i := 0; i < len(keys); i += 3 {
		x.remove(keys[i], uint32(i*cacheHdr))
		for j, l := range keys {
			got, ok := x.find(l, ring)
			if j <= i && j%3 == 0 {
				require.False(t, ok, "%v removed", l)
				continue
			}
			require.True(t, ok, "%v after removing %v", l, keys[i])
			require.Equal(t, uint32(j*cacheHdr), got)
		}
	}
}

// FuzzRingIndex runs the model over any sequence of keys.
func FuzzRingIndex(f *testing.F) {
	f.Add([]byte{1, 2, 3, 1, 2, 3})
	f.Add([]byte{0, 3, 6, 9, 12, 3, 0})
	f.Fuzz(func(t *testing.T, steps []byte) { ringModel(t, steps) })
}

// Warming a cache for keys held, keys not held and more keys than it
// takes at once changes nothing it holds or serves.
func TestRecCacheWarmChangesNothing(t *testing.T) {
	var c recCache
	c.setupSize(4096, 0)
	defer c.release()
	c.warm([]loc{{1, 1}, {1, 2}}) // before the ring is set up
	for i := range 100 {
		l := loc{seg: 1, off: uint32(i)}
		c.put(l, recOf(l, 10+i%50))
	}
	checkCache(t, &c)
	var held []loc
	for i := range 100 {
		if _, ok := c.peek(loc{seg: 1, off: uint32(i)}); ok {
			held = append(held, loc{seg: 1, off: uint32(i)})
		}
	}
	require.NotEmpty(t, held)
	var ls []loc
	for i := range 40 {
		ls = append(ls, loc{seg: 1, off: uint32(i * 3)}, loc{seg: 9, off: uint32(i)})
	}
	c.warm(ls)
	c.warm(held)
	checkCache(t, &c)
	for _, l := range held {
		b, ok := c.peek(l)
		require.True(t, ok)
		require.Equal(t, recOf(l, len(b)), b)
	}
}
