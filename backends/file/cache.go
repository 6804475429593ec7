package file

import (
	"encoding/binary"
	"runtime"
	"sync"
)

// recCache keeps the bytes of small commit records once a read has read
// and checked them, so that reading them again takes no io/read-at: a
// stream written one event per commit otherwise costs one read per event,
// however few events are wanted. Records are immutable once durable and
// segment ids are never reused, so an entry never goes stale; the cache
// holds only bytes that validated, and a read checks their frame again.
// The same type keeps segment index blocks and kv run blocks.
//
// The bytes lie in one ring of exactly the configured size, outside the
// Go heap where the platform allows (an anonymous mapping, see
// arena_unix.go), so they count neither towards the collector's heap
// goal nor its scan work. Each entry is a header (its key and length)
// and its bytes, written at the ring's head; an entry that would run
// past the ring's end starts again at its beginning. Eviction is first
// in, first out: before an entry is written, the entries at the ring's
// tail that it would overwrite are dropped from the index, walking their
// headers, so the order of entries costs no heap. What the cache holds
// depends on the reads alone, so a run on the mock platform does the
// same IO every time. The index from key to the entry's place in the
// ring is a table of its own, off the heap too (ringIndex, cacheidx.go;
// see doc.go, Memory).
//
// Every serve copies the bytes out under the lock (the whole entry, or
// the part readAt asks for), so a later put that overwrites them never
// changes what a reader holds; after release
// (Store.Close) the cache holds nothing and keeps nothing.
type recCache struct {
	once sync.Once
	max  int // bytes; 0 keeps nothing

	mu     sync.Mutex
	ring   *arena    // nil until the first put, and after release
	idx    ringIndex // entry's place: its header's offset in the ring (cacheidx.go)
	head   uint64    // bytes written since the ring was set up: the next header goes at head % max
	tail   uint64    // position of the oldest entry kept; head-tail <= max
	used   int       // bytes of the entries kept, headers included
	sink   uint64    // what warm read, kept so that its loads are not left out
	closed bool
}

const (
	defaultReadCache = 32 << 20
	// cacheRecordMax is the largest record the cache keeps: a bigger one
	// holds enough events to pay for its read.
	cacheRecordMax = 4 << 10

	// An entry's header: its key's segment and offset (uint32 each) and
	// the length of its bytes (uint32), little-endian. A length of
	// cacheWrap marks the rest of the ring, to its end, as unused.
	cacheHdr  = 12
	cacheWrap = ^uint32(0)
	// cacheRingMax bounds a ring's size, so that an offset in it is a
	// uint32.
	cacheRingMax uint64 = 1<<32 - 1
)

func (c *recCache) setup(opts Options) { c.setupSize(opts.ReadCacheBytes, defaultReadCache) }

// setupSize sets the cache up once with size bytes: def when size is 0,
// none when it is negative. The ring itself is set up by the first put.
func (c *recCache) setupSize(size, def int) {
	c.once.Do(func() {
		switch {
		case size > 0:
			c.max = size
		case size == 0:
			c.max = def
		}
		if c.max > 0 {
			c.max = int(min(uint64(c.max), cacheRingMax)) // bounds only a 64-bit int
		}
	})
}

// peek gives a copy of the entry at l, if the cache holds it.
func (c *recCache) peek(l loc) ([]byte, bool) {
	return c.get(l, func(n int) []byte { return make([]byte, n) })
}

// get copies the record at l into what alloc gives, if the cache holds
// it.
func (c *recCache) get(l loc, alloc func(n int) []byte) ([]byte, bool) {
	var b []byte
	_, ok := c.test(l, func(rec []byte) bool {
		b = alloc(len(rec))
		copy(b, rec)
		return true
	})
	return b, ok
}

// warm brings the index slots and ring headers of the entries at ls
// into the CPU cache together, before they are read one by one (see
// ringIndex.touch): a read of a stream written one event per commit
// looks up ten records or so, each a cache miss or two of its own when
// looked up alone. What the cache holds does not change.
func (c *recCache) warm(ls []loc) {
	if c.max == 0 || len(ls) < 2 {
		return
	}
	c.mu.Lock()
	if c.ring != nil {
		c.sink += c.idx.touch(ls, c.ring.b)
	}
	c.mu.Unlock()
}

// readAt copies len(dst) bytes of the entry at l, from off, into dst,
// if the cache holds the entry and it has them: a reader that wants a
// few bytes of a block takes them where they lie, with no copy of the
// block.
func (c *recCache) readAt(l loc, off int, dst []byte) bool {
	has, ok := c.test(l, func(rec []byte) bool {
		if off < 0 || off+len(dst) > len(rec) {
			return false
		}
		copy(dst, rec[off:])
		return true
	})
	return has && ok
}

// test calls fn with the bytes of the entry at l, in place and under
// the cache's lock, if the cache holds it, and gives what fn gives: a
// reader that tests a few bits of a block (a filter probe) takes no copy
// at all. fn must not keep the bytes nor call the cache.
func (c *recCache) test(l loc, fn func([]byte) bool) (has, ok bool) {
	if c.max == 0 {
		return false, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ring == nil {
		return false, false
	}
	at, found := c.idx.find(l, c.ring.b)
	if !found {
		return false, false
	}
	rec := c.entry(at, l)
	if rec == nil {
		return false, false
	}
	return fn(rec), true
}

// entry gives the bytes of the entry whose header is at offset at in the
// ring; nil if its header does not name l (which would be a fault of
// the cache's own: the lookup then misses, and the record is read).
func (c *recCache) entry(at uint32, l loc) []byte {
	ring := c.ring.b
	p := int(at)
	h := ring[p : p+cacheHdr]
	n := binary.LittleEndian.Uint32(h[8:])
	if binary.LittleEndian.Uint32(h) != l.seg || binary.LittleEndian.Uint32(h[4:]) != l.off ||
		n == cacheWrap || p+cacheHdr+int(n) > len(ring) {
		return nil
	}
	return ring[p+cacheHdr : p+cacheHdr+int(n)]
}

// put keeps a copy of rec, the checked record at l, when it is small.
func (c *recCache) put(l loc, rec []byte) {
	n := cacheHdr + len(rec)
	if c.max == 0 || len(rec) > cacheRecordMax || n > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if c.ring == nil {
		c.ring = newArena(c.max)
		c.idx.first = ringFirst(c.max)
	}
	if _, ok := c.idx.find(l, c.ring.b); ok {
		return
	}
	size := uint64(c.max)
	at := c.head
	if p := at % size; p+uint64(n) > size {
		at += size - p // the rest of the ring is left unused
	}
	end := at + uint64(n)
	for end-c.tail > size && c.tail < c.head {
		c.evict()
	}
	if end-c.tail > size { // the ring is empty: start it again at its beginning
		c.head = (c.head + size - 1) / size * size
		c.tail, at, end = c.head, c.head, c.head+uint64(n)
	}
	ring := c.ring.b
	if at != c.head {
		if p := int(c.head % size); len(ring)-p >= cacheHdr {
			binary.LittleEndian.PutUint32(ring[p+8:], cacheWrap)
		}
	}
	p := int(at % size)
	binary.LittleEndian.PutUint32(ring[p:], l.seg)
	binary.LittleEndian.PutUint32(ring[p+4:], l.off)
	binary.LittleEndian.PutUint32(ring[p+8:], uint32(len(rec)))
	copy(ring[p+cacheHdr:], rec)
	c.idx.insert(l, uint32(p))
	c.head = end
	c.used += n
}

// evict drops the entry at the ring's tail, or skips the unused end of
// the ring the tail is at.
func (c *recCache) evict() {
	ring := c.ring.b
	size := uint64(len(ring))
	p := c.tail % size
	if size-p < cacheHdr {
		c.tail += size - p
		return
	}
	h := ring[p : p+cacheHdr]
	n := binary.LittleEndian.Uint32(h[8:])
	if n == cacheWrap {
		c.tail += size - p
		return
	}
	l := loc{seg: binary.LittleEndian.Uint32(h), off: binary.LittleEndian.Uint32(h[4:])}
	c.idx.remove(l, uint32(p))
	c.tail += cacheHdr + uint64(n)
	c.used -= cacheHdr + int(n)
}

// release gives the ring's memory back; the cache keeps nothing after.
func (c *recCache) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.ring != nil {
		c.ring.free()
		c.ring = nil
	}
	c.idx.release()
	c.used = 0
}

// arena is the ring's memory: an anonymous mapping where the platform
// has one (mapBytes), else a heap slice. A ring that is never released
// (a store dropped without Close) is given back when it is collected.
type arena struct {
	b      []byte
	mapped bool
	clean  runtime.Cleanup
}

func newArena(size int) *arena {
	a := &arena{}
	if b, err := mapBytes(size); err == nil {
		a.b, a.mapped = b, true
		a.clean = runtime.AddCleanup(a, func(b []byte) { _ = unmapBytes(b) }, b)
	} else {
		a.b = make([]byte, size)
	}
	return a
}

func (a *arena) free() {
	if a.mapped {
		a.clean.Stop()
		_ = unmapBytes(a.b)
	}
	a.b, a.mapped = nil, false
}
