package file

// A kv run that is not the oldest of its set carries a Bloom filter of
// its keys (run format 2, see "Kv run files" in the package doc), so that
// a kv-get of a key the newer runs do not hold reads one filter block of
// each, not a block of entries: 4 KiB blocks of bits, a key's bits all in
// the block its hash picks (a blocked filter: one block read a probe),
// read through the block cache like the entries'.

const (
	kvBloomBlockBits = kvRunBlockSize * 8 // bits in a filter block
	kvBloomBitsKey   = 10                 // bits a key, about 1% false positives
	kvBloomProbes    = 7
)

// kvKeyHash is the 64-bit FNV-1a hash of key: fixed, since the filter
// is on disk.
func kvKeyHash(key string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= 1099511628211
	}
	return h
}

// kvBloomBlocks is the count of filter blocks for at most n keys.
func kvBloomBlocks(n uint64) int {
	return int((n*kvBloomBitsKey + kvBloomBlockBits - 1) / kvBloomBlockBits)
}

// kvBloomBits calls fn with the block (of nb) and the bits in it that
// stand for key.
func kvBloomBits(key string, nb int, fn func(blk int, bit uint32) bool) bool {
	h := kvKeyHash(key)
	blk := bloomBlockOfHash(h, nb)
	a, b := uint32(h), uint32(h>>32)|1
	for i := range uint32(kvBloomProbes) {
		if !fn(blk, (a+i*b)%kvBloomBlockBits) {
			return false
		}
	}
	return true
}

// bloomHasHash is bloomHas of the key whose hash (kvKeyHash) is h: a
// lookup hashes its key once for the filters of every run of a set, and
// tests the bits where they lie, with no call a bit.
func bloomHasHash(b []byte, h uint64) bool {
	if len(b) < kvRunBlockSize {
		return true // not a filter block (a read checks its size): no answer
	}
	b = b[:kvRunBlockSize]
	a, step := uint32(h), uint32(h>>32)|1
	for i := range uint32(kvBloomProbes) {
		bit := (a + i*step) % kvBloomBlockBits
		if b[bit/8]&(1<<(bit%8)) == 0 {
			return false
		}
	}
	return true
}

// bloomBlockOfHash is the filter block (of nb) that stands for the key
// whose hash is h.
func bloomBlockOfHash(h uint64, nb int) int {
	return int((h >> 32) % uint64(nb))
}

// bloomAdd sets key's bits in filter, nb blocks of kvRunBlockSize bytes.
func bloomAdd(filter []byte, nb int, key string) {
	kvBloomBits(key, nb, func(blk int, bit uint32) bool {
		filter[blk*kvRunBlockSize+int(bit/8)] |= 1 << (bit % 8)
		return true
	})
}

// bloomHas reports whether block blk of a filter (b, kvRunBlockSize
// bytes) may hold key: false means the run does not.
func bloomHas(b []byte, key string, nb int) bool {
	return kvBloomBits(key, nb, func(_ int, bit uint32) bool {
		return b[bit/8]&(1<<(bit%8)) != 0
	})
}

// bloomBlockOf is the filter block that stands for key.
func bloomBlockOf(key string, nb int) int {
	return bloomBlockOfHash(kvKeyHash(key), nb)
}
