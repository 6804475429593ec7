package file

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
)

// checkCache walks the ring from tail to head and checks that the map
// (the index) names exactly the entries it holds, each where its header says, and
// that used counts them.
func checkCache(t testing.TB, c *recCache) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ring == nil {
		require.Zero(t, c.idx.len())
		require.Zero(t, c.used)
		return
	}
	require.LessOrEqual(t, c.head-c.tail, uint64(c.max))
	ring := c.ring.b
	size := uint64(len(ring))
	seen, used := 0, 0
	for at := c.tail; at < c.head; {
		p := at % size
		if size-p < cacheHdr {
			at += size - p
			continue
		}
		n := binary.LittleEndian.Uint32(ring[p+8:])
		if n == cacheWrap {
			at += size - p
			continue
		}
		l := loc{seg: binary.LittleEndian.Uint32(ring[p:]), off: binary.LittleEndian.Uint32(ring[p+4:])}
		got, ok := c.idx.find(l, ring)
		require.True(t, ok, "entry %v at %d is not in the index", l, at)
		require.Equal(t, uint32(p), got, "entry %v", l)
		seen++
		used += cacheHdr + int(n)
		at += cacheHdr + uint64(n)
	}
	require.Equal(t, seen, c.idx.len())
	// Every slot names an entry's header: none is left of one evicted.
	slots := 0
	c.idx.each(func(at uint32) {
		slots++
		require.Less(t, int(at)+cacheHdr, len(ring)+1)
		l := loc{seg: binary.LittleEndian.Uint32(ring[at:]), off: binary.LittleEndian.Uint32(ring[at+4:])}
		got, ok := c.idx.find(l, ring)
		require.True(t, ok)
		require.Equal(t, at, got)
	})
	require.Equal(t, seen, slots)
	require.Equal(t, used, c.used)
	require.LessOrEqual(t, used, c.max)
}

func recOf(l loc, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(l.seg*31 + l.off*7 + uint32(i))
	}
	return b
}

// The ring holds what was put, in first-in-first-out order, within its
// size, across many laps and entries of every size up to the largest
// kept; what it serves is what was put.
func TestRecCacheRing(t *testing.T) {
	for _, max := range []int{cacheHdr + 1, 100, 4096 + cacheHdr, 5000, 64 << 10} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			var c recCache
			c.setupSize(max, 0)
			var order []loc
			for i := range 3000 {
				l := loc{seg: uint32(i % 7), off: uint32(i)}
				n := (i * 37) % (cacheRecordMax + 1)
				if i%3 == 0 {
					n = i % 40
				}
				c.put(l, recOf(l, n))
				if cacheHdr+n <= max {
					order = append(order, l)
				}
				if i%97 == 0 {
					checkCache(t, &c)
				}
			}
			checkCache(t, &c)
			// The entries held are the newest put, all of them from some
			// point on.
			held := 0
			for j := len(order) - 1; j >= 0; j-- {
				l := order[j]
				b, ok := c.peek(l)
				if !ok {
					break
				}
				held++
				require.Equal(t, recOf(l, len(b)), b)
			}
			assert.Equal(t, c.idx.len(), held)
			assert.Positive(t, held)
		})
	}
}

// A record too big for the cache, or for its size with the header, is
// not kept; putting a key again keeps the first bytes.
func TestRecCacheLimits(t *testing.T) {
	var c recCache
	c.setupSize(1<<20, 0)
	c.put(loc{1, 1}, make([]byte, cacheRecordMax+1))
	_, ok := c.peek(loc{1, 1})
	assert.False(t, ok)
	c.put(loc{1, 2}, []byte("first"))
	c.put(loc{1, 2}, []byte("second"))
	b, ok := c.peek(loc{1, 2})
	require.True(t, ok)
	assert.Equal(t, "first", string(b))

	var small recCache
	small.setupSize(cacheHdr+3, 0)
	small.put(loc{1, 1}, []byte("abcd"))
	_, ok = small.peek(loc{1, 1})
	assert.False(t, ok)
	small.put(loc{1, 1}, []byte("abc"))
	b, ok = small.peek(loc{1, 1})
	require.True(t, ok)
	assert.Equal(t, "abc", string(b))

	var none recCache
	none.setupSize(-1, 100)
	none.put(loc{1, 1}, []byte("x"))
	_, ok = none.peek(loc{1, 1})
	assert.False(t, ok)
	none.release()
}

// What a reader was served is its own: later puts that overwrite the
// ring's bytes do not change it.
func TestRecCacheServesCopies(t *testing.T) {
	var c recCache
	c.setupSize(64, 0)
	c.put(loc{1, 1}, []byte("0123456789"))
	b, ok := c.peek(loc{1, 1})
	require.True(t, ok)
	for i := range 20 {
		c.put(loc{2, uint32(i)}, bytes.Repeat([]byte{'x'}, 20))
	}
	_, ok = c.peek(loc{1, 1})
	assert.False(t, ok, "evicted")
	assert.Equal(t, "0123456789", string(b))
}

// After release the cache serves and keeps nothing, and its memory is
// given back; release twice is harmless.
func TestRecCacheRelease(t *testing.T) {
	var c recCache
	c.setupSize(1<<20, 0)
	c.put(loc{1, 1}, []byte("abc"))
	c.release()
	_, ok := c.peek(loc{1, 1})
	assert.False(t, ok)
	_, ok = c.get(loc{1, 1}, func(n int) []byte { return make([]byte, n) })
	assert.False(t, ok)
	c.put(loc{1, 2}, []byte("abc"))
	_, ok = c.peek(loc{1, 2})
	assert.False(t, ok)
	assert.Nil(t, c.ring)
	c.release()
}

// Readers and writers from many goroutines: every serve gives the bytes
// put under its key, never bytes a later put wrote over them.
func TestRecCacheConcurrent(t *testing.T) {
	var c recCache
	c.setupSize(8<<10, 0)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 3000 {
				l := loc{seg: uint32(g), off: uint32(i % 500)}
				if b, ok := c.peek(l); ok {
					if !bytes.Equal(b, recOf(l, len(b))) {
						t.Errorf("%v served wrong bytes", l)
						return
					}
				} else {
					c.put(l, recOf(l, 10+i%300))
				}
			}
		})
	}
	wg.Go(func() {
		for range 200 {
			checkCache(t, &c)
		}
	})
	wg.Wait()
	checkCache(t, &c)
	c.release()
}

// FuzzRecCache puts and looks up entries of any size in a ring of any
// size: the ring stays consistent with its map and serves only what was
// put.
func FuzzRecCache(f *testing.F) {
	f.Add(uint16(100), []byte{1, 2, 3, 200, 5, 6, 7, 255, 0, 9})
	f.Add(uint16(13), []byte{0, 1, 2, 3})
	f.Add(uint16(5000), bytes.Repeat([]byte{250, 17, 3}, 50))
	f.Fuzz(func(t *testing.T, max uint16, ops []byte) {
		var c recCache
		c.setupSize(int(max)+1, 0)
		defer c.release()
		for i := 0; i+1 < len(ops); i += 2 {
			l := loc{seg: uint32(ops[i] % 5), off: uint32(ops[i] / 5)}
			n := int(ops[i+1]) * 17
			if b, ok := c.peek(l); ok {
				require.Equal(t, recOf(l, len(b)), b)
				continue
			}
			c.put(l, recOf(l, n))
		}
		checkCache(t, &c)
	})
}

// A store whose caches are far smaller than what it reads: every answer,
// lent page or not, kv value or event, keeps its bytes after later reads
// have overwritten the rings many times over.
func TestCacheAnswersOutliveOverwrites(t *testing.T) {
	opts := Options{ReadCacheBytes: 600, IndexCacheBytes: 5000, SegmentSize: 64 << 10, CheckpointBytes: 8 << 10}
	e := newEnv(t, opts)
	const streams, rounds = 40, 20
	for i := range rounds {
		for s := range streams {
			must(t, e, ops.Append{Stream: fmt.Sprint("s", s), Events: evs(fmt.Sprintf("s%d-%d", s, i))})
			must(t, e, ops.Commit{Kv: []ops.KvChange{{Key: fmt.Sprint("k", s), Value: []byte(fmt.Sprintf("v%d-%d", s, i))}}})
		}
	}
	e.reopen(opts)
	type kept struct {
		r    ops.ReadResult
		want ops.ReadResult
		kv   *ops.KvEntry
		kvv  []byte
	}
	var all []kept
	pages := make([]ops.Page, streams)
	for s := range streams {
		r := must(t, e, ops.Read{Stream: fmt.Sprint("s", s), Page: &pages[s]})
		want := must(t, e, ops.Read{Stream: fmt.Sprint("s", s)})
		kv := must(t, e, ops.KvGet{Key: fmt.Sprint("k", s)})
		require.NotNil(t, kv)
		all = append(all, kept{r: r, want: deepCopyRead(want), kv: kv, kvv: bytes.Clone(kv.Value)})
		for o := range streams { // fill the rings past their size
			must(t, e, ops.Read{Stream: fmt.Sprint("s", (s+o)%streams)})
			must(t, e, ops.KvGet{Key: fmt.Sprint("k", (s+o)%streams)})
		}
	}
	for s, k := range all {
		require.Len(t, k.r.Events, rounds, "stream %d", s)
		assert.Equal(t, k.want, k.r, "stream %d read into a lent page", s)
		assert.Equal(t, k.kvv, k.kv.Value, "key %d", s)
		assert.Equal(t, fmt.Sprintf("v%d-%d", s, rounds-1), string(k.kv.Value))
	}
	for _, c := range []*recCache{&e.s.cache, &e.s.idx.cache, &e.s.kvBlocks} {
		checkCache(t, c)
		assert.Greater(t, c.head, 3*uint64(c.max), "the ring went round")
	}
}

func deepCopyRead(r ops.ReadResult) ops.ReadResult {
	out := r
	out.Events = make([]ops.Event, len(r.Events))
	for i, ev := range r.Events {
		ev.Data = bytes.Clone(ev.Data)
		out.Events[i] = ev
	}
	return out
}

// An index entry looked up in a cached block is read out of the ring
// where it lies: a binary search over a segment's index probes many
// entries, and copying a whole block out for each of its 12 bytes put
// 4 KiB on the heap a probe, the garbage the ring is there to spare.
func TestIndexProbeOfCachedBlockAllocatesNothing(t *testing.T) {
	opts := Options{SegmentSize: 64 << 10}
	e := newEnv(t, opts)
	for i := range 2000 {
		must(t, e, ops.Append{Stream: fmt.Sprint("s", i%50), Events: evs(fmt.Sprint("e", i))})
	}
	e.reopen(opts)
	require.NotEmpty(t, e.s.st.indexed, "sealed segments are indexed")
	ix := e.s.st.indexed[0]
	require.Positive(t, ix.nPos)
	p := e.p()
	k0, o0, err := e.s.idxAt(p, &ix, 0)
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(50, func() {
		k, o, err := e.s.idxAt(p, &ix, 0)
		if err != nil || k != k0 || o != o0 {
			t.Fatalf("idxAt: %d %d %v, first %d %d", k, o, err, k0, o0)
		}
	})
	assert.Zero(t, allocs, "allocations of a probe of a cached block")
}

// readAt gives a part of an entry, and nothing for a part past its end,
// a key not held or a released cache.
func TestRecCacheReadAt(t *testing.T) {
	var c recCache
	c.setupSize(100, 0)
	c.put(loc{1, 1}, []byte("0123456789"))
	var b [4]byte
	require.True(t, c.readAt(loc{1, 1}, 6, b[:]))
	assert.Equal(t, "6789", string(b[:]))
	assert.False(t, c.readAt(loc{1, 1}, 7, b[:]), "past the end")
	assert.False(t, c.readAt(loc{1, 1}, -1, b[:]))
	assert.False(t, c.readAt(loc{1, 2}, 0, b[:]))
	for i := range 10 { // overwrite it
		c.put(loc{2, uint32(i)}, []byte("xxxxxxxxxxxxxxxxxxxx"))
	}
	assert.False(t, c.readAt(loc{1, 1}, 0, b[:]), "evicted")
	c.release()
	assert.False(t, c.readAt(loc{2, 9}, 0, b[:]), "released")
}

// A walk over a run of index entries in cached blocks reads them where
// they lie, as a probe does.
func TestIndexWalkOfCachedBlocksAllocatesNothing(t *testing.T) {
	opts := Options{SegmentSize: 64 << 10}
	e := newEnv(t, opts)
	for i := range 2000 {
		must(t, e, ops.Append{Stream: fmt.Sprint("s", i%50), Events: evs(fmt.Sprint("e", i))})
	}
	e.reopen(opts)
	require.NotEmpty(t, e.s.st.indexed, "sealed segments are indexed")
	ix := e.s.st.indexed[0]
	r := idxRef{e: ix, seg: e.s.segs[uint64(ix.seg)], n: ix.nPos}
	p := e.p()
	first, err := e.s.resolve(p, r, 0, ^uint64(0), nil)
	require.NoError(t, err)
	require.Len(t, first, int(ix.nPos))
	refs := make([]chunkRef, 0, len(first))
	allocs := testing.AllocsPerRun(20, func() {
		got, err := e.s.resolve(p, r, 0, ^uint64(0), refs[:0])
		if err != nil || len(got) != len(first) || got[len(got)-1] != first[len(first)-1] {
			t.Fatalf("resolve: %d refs, %v", len(got), err)
		}
	})
	assert.Zero(t, allocs, "allocations of a walk over cached blocks")
}
