// Package idindex is a compact hash index from an event's stream and ID to
// its position, so that a backend can tell whether an ID is stored in a
// stream without scanning the stream.
//
// The index stores no IDs. A key (stream, ID) is hashed to 64 bits with a
// keyed hash; each indexed event takes one 8-byte slot in an open-addressing
// table (linear probing, at most three quarters full) holding the top bits
// of its hash (the fingerprint) and its position. A lookup answers every
// position whose fingerprint matches; the backend confirms each candidate by
// reading the stored event, so a fingerprint collision costs a read, never
// a wrong answer.
//
// # Layout of a slot
//
// A table of 2^k slots holds positions base+1 .. base+2^k-1 (each slot's
// low k bits are pos-base, 0 meaning empty) and the top 64-k bits of the
// hash above them. The slot's home is the top k bits of the hash, which the
// slot itself keeps, so growing the table (k+1) needs no rehash of the
// keys. A table grows with its entries, up to 2^32 slots; past that, or
// when a position would not fit (a backend indexing one entry per position
// never leaves such a gap), it is frozen and a new table starts after it,
// and lookups probe every table.
//
// An Index of n entries holds between 10.7n and 21.3n bytes of slots (8
// bytes a slot, the table between 3/8 and 3/4 full), and twice that for an
// instant while it grows.
//
// # Encoding
//
// [Index.AppendBinary] writes the entries (not the key, which the backend
// derives again from what it owns): the number of tables, then per table
// its base (uvarint), k (one byte), its entry count (uvarint), and per
// entry in position order the position's distance from the previous one
// (uvarint; the first from base) and the fingerprint's top 64-k bits as
// ceil((64-k)/8) little-endian bytes. [Decode] rebuilds the same index.
//
// An Index is not safe for concurrent use; backends hold it under their own
// lock.
package idindex

import (
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/google/uuid"
)

const (
	minBits = 4
	maxBits = 32
)

// Index maps hashed (stream, ID) keys to positions.
type Index struct {
	key    [4]uint64
	tables []*table // frozen tables, oldest first, then the current one
	limit  uint     // the largest k: maxBits, smaller in tests
}

var _ encoding.BinaryAppender = (*Index)(nil)

type table struct {
	base  uint64
	k     uint
	n     int
	last  uint64 // highest position added
	slots []uint64
}

// New returns an empty index whose hash is keyed by seed. The same seed
// gives the same hashes in every process, which an encoded index needs.
func New(seed [16]byte) *Index {
	a := binary.LittleEndian.Uint64(seed[:8])
	b := binary.LittleEndian.Uint64(seed[8:])
	x := &Index{limit: maxBits}
	// Spread the seed into four words (splitmix64), so that no word is
	// zero or equal to another by accident of the seed.
	s := a ^ bits.RotateLeft64(b, 32)
	for i := range x.key {
		s += 0x9e3779b97f4a7c15
		z := s
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		x.key[i] = z ^ z>>31 ^ b
	}
	return x
}

func mum(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// StreamKey hashes a stream's name; a backend computes it once per stream
// and passes it to Hash.
func (x *Index) StreamKey(name string) uint64 {
	h := x.key[0] ^ uint64(len(name))
	b := []byte(name)
	for len(b) >= 8 {
		h = mum(h^binary.LittleEndian.Uint64(b), x.key[1])
		b = b[8:]
	}
	var tail [8]byte
	copy(tail[:], b)
	return mum(h^binary.LittleEndian.Uint64(tail[:]), x.key[2])
}

// Hash is the key of event ID id in the stream whose StreamKey is stream.
func (x *Index) Hash(stream uint64, id uuid.UUID) uint64 {
	lo := binary.LittleEndian.Uint64(id[:8])
	hi := binary.LittleEndian.Uint64(id[8:])
	h := mum(lo^x.key[1], hi^x.key[3])
	return mum(h^stream, x.key[0]^x.key[2])
}

// Len is the number of entries.
func (x *Index) Len() int {
	n := 0
	for _, t := range x.tables {
		n += t.n
	}
	return n
}

// Bytes is the memory the slots take.
func (x *Index) Bytes() int {
	n := 0
	for _, t := range x.tables {
		n += 8 * len(t.slots)
	}
	return n
}

func newTable(base uint64, k uint) *table {
	return &table{base: base, k: k, last: base, slots: make([]uint64, 1<<k)}
}

func (t *table) mask() uint64 { return 1<<t.k - 1 }

// kFor is the size a table of n entries has: the smallest k (at least
// minBits) with n at most three quarters of 2^k.
func kFor(n uint64) uint {
	k := uint(minBits)
	for 4*n > 3<<k {
		k++
	}
	return k
}

// put stores a slot of hash top bits fp (low k bits zero) and relative
// position rel; the table has room.
func (t *table) put(fp, rel uint64) {
	m := t.mask()
	i := fp >> (64 - t.k)
	for t.slots[i] != 0 {
		i = (i + 1) & m
	}
	t.slots[i] = fp | rel
	t.n++
}

// grow doubles the table: each slot's home in the larger table is the top
// k+1 bits of its hash, which its fingerprint holds.
func (t *table) grow() {
	old, m := t.slots, t.mask()
	t.k++
	t.slots = make([]uint64, 1<<t.k)
	t.n = 0
	nm := t.mask()
	for _, s := range old {
		if s != 0 {
			t.put(s&^nm, s&m)
		}
	}
}

// Add indexes hash h at position pos, which must be above every position
// added before. It reports an error otherwise, and adds nothing.
func (x *Index) Add(h, pos uint64) error {
	cur := x.current()
	if pos <= cur.last {
		return fmt.Errorf("idindex: position %d added after %d", pos, cur.last)
	}
	full := 4*(cur.n+1) > 3*len(cur.slots)
	k := cur.k
	if full {
		k++
	}
	switch {
	case (full && cur.k >= x.limit) || pos-cur.base >= 1<<k:
		cur = newTable(pos-1, minBits)
		x.tables = append(x.tables, cur)
	case full:
		cur.grow()
	}
	cur.put(h&^cur.mask(), pos-cur.base)
	cur.last = pos
	return nil
}

func (x *Index) current() *table {
	if len(x.tables) == 0 {
		x.tables = append(x.tables, newTable(0, minBits))
	}
	return x.tables[len(x.tables)-1]
}

// Lookup calls confirm with each indexed position whose fingerprint matches
// h, newest table first, until confirm returns true or an error; it returns
// the confirmed position, or 0 when none was.
func (x *Index) Lookup(h uint64, confirm func(pos uint64) (bool, error)) (uint64, error) {
	for ti := len(x.tables) - 1; ti >= 0; ti-- {
		t := x.tables[ti]
		m := t.mask()
		fp := h &^ m
		for i := h >> (64 - t.k); ; i = (i + 1) & m {
			s := t.slots[i]
			if s == 0 {
				break
			}
			if s&^m != fp {
				continue
			}
			pos := t.base + s&m
			ok, err := confirm(pos)
			if err != nil {
				return 0, err
			}
			if ok {
				return pos, nil
			}
		}
	}
	return 0, nil
}

// AppendBinary appends the encoding of x (see the package doc).
func (x *Index) AppendBinary(b []byte) ([]byte, error) {
	b = binary.AppendUvarint(b, uint64(len(x.tables)))
	for _, t := range x.tables {
		b = binary.AppendUvarint(b, t.base)
		b = append(b, byte(t.k))
		b = binary.AppendUvarint(b, uint64(t.n))
		m := t.mask()
		// In position order without a sort: each slot at its relative
		// position (positions are dense, so this is about the table's size).
		byRel := make([]uint64, t.last-t.base+1)
		for _, s := range t.slots {
			if s != 0 {
				byRel[s&m] = s
			}
		}
		w := fpBytes(t.k)
		var prev uint64
		var fb [8]byte
		for _, s := range byRel {
			if s == 0 {
				continue
			}
			b = binary.AppendUvarint(b, s&m-prev)
			prev = s & m
			binary.LittleEndian.PutUint64(fb[:], s>>t.k)
			b = append(b, fb[:w]...)
		}
	}
	return b, nil
}

func fpBytes(k uint) int { return int(64-k+7) / 8 }

// ErrMalformed is an encoding that Decode can not read.
var ErrMalformed = errors.New("idindex: malformed index")

// Decode reads an index encoded by AppendBinary, keyed by seed, from the
// front of b, and returns it with the bytes after it.
func Decode(b []byte, seed [16]byte) (*Index, []byte, error) {
	x := New(seed)
	d := decoder{b: b}
	nt := d.uvarint()
	if nt > uint64(len(b)) {
		return nil, nil, ErrMalformed
	}
	var prevLast uint64
	for ti := uint64(0); ti < nt && d.err == nil; ti++ {
		base := d.uvarint()
		k := uint(d.byte())
		n := d.uvarint()
		if d.err != nil || k < minBits || k > maxBits || base < prevLast || n > uint64(len(d.b)) || k != kFor(n) {
			return nil, nil, ErrMalformed
		}
		w := fpBytes(k)
		if n > uint64(len(d.b)/(1+w)) {
			return nil, nil, ErrMalformed
		}
		t := newTable(base, k)
		m := t.mask()
		var rel uint64
		for range n {
			delta := d.uvarint()
			if delta == 0 || delta > m-rel || len(d.b) < w {
				return nil, nil, ErrMalformed
			}
			rel += delta
			var fb [8]byte
			copy(fb[:], d.b[:w])
			d.b = d.b[w:]
			fp := binary.LittleEndian.Uint64(fb[:])
			if fp>>(64-k) != 0 {
				return nil, nil, ErrMalformed
			}
			t.put(fp<<k, rel)
		}
		t.last = base + rel
		prevLast = t.last
		x.tables = append(x.tables, t)
	}
	if d.err != nil {
		return nil, nil, ErrMalformed
	}
	return x, d.b, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 || n != max(1, (bits.Len64(v)+6)/7) { // malformed, or not the shortest form
		d.err = ErrMalformed
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.err = ErrMalformed
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}
