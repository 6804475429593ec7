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
// A table of 2^k slots with r position bits holds positions base+1 ..
// base+2^r-1: each slot's low r bits are pos-base (0 meaning empty), and
// the top 64-r bits of the hash sit above them. The slot's home is the top
// k bits of the hash, which the slot itself keeps (r is at most 64-k), so
// growing the table (k+1) needs no rehash of the keys. r starts at 4 and
// widens as positions need it (the low bits of the kept hash give way to
// position bits), so a backend that indexes only some of its positions
// leaves gaps between them at no cost in slots; r stays at most
// max(k, 48-k), so that at least 16 bits of the kept hash tell entries of
// one home apart, unless the positions are dense. A table grows with its
// entries, up to 2^32 slots; past that, or when a position would not fit
// in r bits, it is frozen and a new table starts after it, and lookups
// probe every table.
//
// An Index of n entries holds between 10.7n and 21.3n bytes of slots (8
// bytes a slot, the table between 3/8 and 3/4 full), and twice that for an
// instant while it grows.
//
// # Drawn IDs
//
// [Index.Drawn] gives the ID a backend draws for an event that comes
// without one, from the event's position and a 58-bit nonce the backend
// draws at random (once per run, say): a keyed permutation of the 122
// bits a version-4 UUID leaves free (a Feistel network of eight rounds
// over two 61-bit halves, keyed by the seed), applied to the nonce and the
// position. The permutation makes drawn IDs distinct from each other for
// distinct (nonce, position), and without the seed they look as random
// as any version-4 UUID. [Index.DrawnPos] inverts it: the position an ID
// would have been drawn for. So a backend need not index the events whose
// IDs it drew: such an event's ID names its own position, and a lookup of
// the ID reads the event there to confirm it. Only IDs that callers chose
// (and drawn IDs that do not name their own position) need slots.
//
// # Encoding
//
// [Index.AppendBinary] writes the entries (not the key, which the backend
// derives again from what it owns): the number of tables, then per table
// its base (uvarint), k (one byte), r (one byte), its entry count
// (uvarint), and per entry in position order the position's distance from
// the previous one (uvarint; the first from base) and the kept hash bits,
// the top 64-r, as ceil((64-r)/8) little-endian bytes. [Decode] rebuilds
// the same index.
//
// [Index.DropRange] takes the entries of a range of positions out, for a
// backend that keeps them in files of its own once they are old; the
// tables it touches are rebuilt at the size of what they keep.
//
// An Index is not safe for concurrent use; backends hold it under their own
// lock.
package idindex

import (
	"cmp"
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"

	"github.com/google/uuid"
)

const (
	minBits = 4
	maxBits = 32
	rounds  = 8 // of the drawn-ID permutation
)

// Index maps hashed (stream, ID) keys to positions.
type Index struct {
	key    [4]uint64
	round  [2 * rounds]uint64 // the permutation's round keys
	tables []*table           // frozen tables, oldest first, then the current one
	limit  uint               // the largest k: maxBits, smaller in tests
}

var _ encoding.BinaryAppender = (*Index)(nil)

type table struct {
	base  uint64
	k     uint // 2^k slots
	r     uint // position bits: the low r bits of a slot are pos-base
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
	for i := range x.round {
		s += 0x9e3779b97f4a7c15
		z := s
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		x.round[i] = z ^ z>>31 ^ a
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

// Last is the highest position added, 0 when none was.
func (x *Index) Last() uint64 {
	if len(x.tables) == 0 {
		return 0
	}
	return x.tables[len(x.tables)-1].last
}

// Bytes is the memory the slots take.
func (x *Index) Bytes() int {
	n := 0
	for _, t := range x.tables {
		n += 8 * len(t.slots)
	}
	return n
}

func newTable(base uint64, k, r uint) *table {
	return &table{base: base, k: k, r: r, last: base, slots: make([]uint64, 1<<k)}
}

// mask selects a slot's position bits.
func (t *table) mask() uint64 { return 1<<t.r - 1 }

// maxRel is the most position bits a table of 2^k slots takes.
func maxRel(k uint) uint { return max(k, 48-k) }

// kFor is the size a table of n entries has: the smallest k (at least
// minBits) with n at most three quarters of 2^k.
func kFor(n uint64) uint {
	k := uint(minBits)
	for 4*n > 3<<k {
		k++
	}
	return k
}

// put stores a slot of hash top bits fp (low r bits zero) and relative
// position rel; the table has room.
func (t *table) put(fp, rel uint64) {
	m := uint64(len(t.slots) - 1)
	i := fp >> (64 - t.k)
	for t.slots[i] != 0 {
		i = (i + 1) & m
	}
	t.slots[i] = fp | rel
	t.n++
}

// grow doubles the table: each slot's home in the larger table is the top
// k+1 bits of its hash, which the slot keeps (r <= 64-(k+1)).
func (t *table) grow() {
	old, m := t.slots, t.mask()
	t.k++
	t.slots = make([]uint64, 1<<t.k)
	t.n = 0
	for _, s := range old {
		if s != 0 {
			t.put(s&^m, s&m)
		}
	}
}

// widen makes the table keep r position bits (r > t.r, r <= 64-k): the low
// bits of each kept hash give way. Homes do not move.
func (t *table) widen(r uint) {
	old, nm := t.mask(), uint64(1)<<r-1
	for i, s := range t.slots {
		if s != 0 {
			t.slots[i] = s&^nm | s&old
		}
	}
	t.r = r
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
	r := max(cur.r, uint(bits.Len64(pos-cur.base)))
	if k > x.limit || r > maxRel(k) {
		cur = newTable(pos-1, minBits, minBits)
		x.tables = append(x.tables, cur)
	} else {
		if r > cur.r {
			cur.widen(r)
		}
		if full {
			cur.grow()
		}
	}
	cur.put(h&^cur.mask(), pos-cur.base)
	cur.last = pos
	return nil
}

func (x *Index) current() *table {
	if len(x.tables) == 0 {
		x.tables = append(x.tables, newTable(0, minBits, minBits))
	}
	return x.tables[len(x.tables)-1]
}

// Lookup calls confirm with each indexed position whose fingerprint matches
// h, newest table first, until confirm returns true or an error; it returns
// the confirmed position, or 0 when none was.
func (x *Index) Lookup(h uint64, confirm func(pos uint64) (bool, error)) (uint64, error) {
	for ti := len(x.tables) - 1; ti >= 0; ti-- {
		t := x.tables[ti]
		m, sm := t.mask(), uint64(len(t.slots)-1)
		fp := h &^ m
		for i := h >> (64 - t.k); ; i = (i + 1) & sm {
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
		b = append(b, byte(t.k), byte(t.r))
		b = binary.AppendUvarint(b, uint64(t.n))
		m := t.mask()
		var byRel []uint64
		if span := t.last - t.base + 1; span <= 2*uint64(len(t.slots)) {
			// Dense positions: each slot at its relative position, in
			// order without a sort.
			byRel = make([]uint64, span)
			for _, s := range t.slots {
				if s != 0 {
					byRel[s&m] = s
				}
			}
		} else {
			byRel = make([]uint64, 0, t.n)
			for _, s := range t.slots {
				if s != 0 {
					byRel = append(byRel, s)
				}
			}
			slices.SortFunc(byRel, func(a, b uint64) int { return cmp.Compare(a&m, b&m) })
		}
		w := fpBytes(t.r)
		var prev uint64
		var fb [8]byte
		for _, s := range byRel {
			if s == 0 {
				continue
			}
			b = binary.AppendUvarint(b, s&m-prev)
			prev = s & m
			binary.LittleEndian.PutUint64(fb[:], s>>t.r)
			b = append(b, fb[:w]...)
		}
	}
	return b, nil
}

func fpBytes(r uint) int { return int(64-r+7) / 8 }

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
		r := uint(d.byte())
		n := d.uvarint()
		if d.err != nil || k < minBits || k > maxBits || r < minBits || r > maxRel(k) ||
			base < prevLast || n > uint64(len(d.b)) || k != kFor(n) {
			return nil, nil, ErrMalformed
		}
		w := fpBytes(r)
		if n > uint64(len(d.b)/(1+w)) {
			return nil, nil, ErrMalformed
		}
		t := newTable(base, k, r)
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
			if fp>>(64-r) != 0 {
				return nil, nil, ErrMalformed
			}
			t.put(fp<<r, rel)
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
