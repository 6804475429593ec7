package file

import "sync"

// recCache keeps the bytes of small commit records once a read has read
// and checked them, so that reading them again takes no io/read-at: a
// stream written one event per commit otherwise costs one read per event,
// however few events are wanted. Records are immutable once durable and
// segment ids are never reused, so an entry never goes stale; the cache
// holds only bytes that validated, and a read checks their frame again.
// Eviction is first in, first out, within Options.ReadCacheBytes; what it
// holds depends on the reads alone, so a run on the mock platform does
// the same IO every time.
type recCache struct {
	once sync.Once
	max  int // bytes; 0 keeps nothing

	mu    sync.Mutex
	m     map[loc][]byte
	order []loc // keys in insertion order, from first
	first int
	used  int
}

const (
	defaultReadCache = 32 << 20
	// cacheRecordMax is the largest record the cache keeps: a bigger one
	// holds enough events to pay for its read.
	cacheRecordMax = 4 << 10
)

func (c *recCache) setup(opts Options) { c.setupSize(opts.ReadCacheBytes, defaultReadCache) }

// setupSize sets the cache up once with size bytes: def when size is 0,
// none when it is negative.
func (c *recCache) setupSize(size, def int) {
	c.once.Do(func() {
		switch {
		case size > 0:
			c.max = size
		case size == 0:
			c.max = def
		}
		if c.max > 0 {
			c.m = make(map[loc][]byte)
		}
	})
}

// peek gives the entry at l itself, if the cache holds it: entries are
// never changed, so the caller may read it while the cache drops it.
func (c *recCache) peek(l loc) ([]byte, bool) {
	if c.max == 0 {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.m[l]
	return b, ok
}

// get copies the record at l into what alloc gives, if the cache holds
// it.
func (c *recCache) get(l loc, alloc func(n int) []byte) ([]byte, bool) {
	if c.max == 0 {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rec, ok := c.m[l]
	if !ok {
		return nil, false
	}
	b := alloc(len(rec))
	copy(b, rec)
	return b, true
}

// put keeps a copy of rec, the checked record at l, when it is small.
func (c *recCache) put(l loc, rec []byte) {
	if c.max == 0 || len(rec) > cacheRecordMax || len(rec) > c.max {
		return
	}
	cp := append([]byte(nil), rec...)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[l]; ok {
		return
	}
	for c.used+len(cp) > c.max && c.first < len(c.order) {
		old := c.order[c.first]
		c.first++
		c.used -= len(c.m[old])
		delete(c.m, old)
	}
	if c.first > len(c.order)/2 && c.first > 1024 {
		c.order = append(c.order[:0], c.order[c.first:]...)
		c.first = 0
	}
	c.m[l] = cp
	c.order = append(c.order, l)
	c.used += len(cp)
}
