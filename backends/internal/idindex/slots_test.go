package idindex

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func slotsIndex(t testing.TB, n int, limit uint) (*Index, []uint64) {
	x := New([16]byte{4, 2})
	if limit > 0 {
		x.limit = limit
	}
	key := x.StreamKey("s")
	hs := make([]uint64, n)
	for i := range hs {
		hs[i] = x.Hash(key, uuid.New())
		require.NoError(t, x.Add(hs[i], uint64(i+1)))
	}
	return x, hs
}

// An index read back from its slots is the index written: the same
// encoding, the same answers.
func TestSlotsRoundTrip(t *testing.T) {
	for _, limit := range []uint{0, 6} {
		x, hs := slotsIndex(t, 3000, limit)
		b := x.AppendSlots([]byte("head"))
		y, rest, err := DecodeSlots(append(b[4:], "tail"...), [16]byte{4, 2})
		require.NoError(t, err)
		assert.Equal(t, "tail", string(rest))
		want, _ := x.AppendBinary(nil)
		got, _ := y.AppendBinary(nil)
		assert.Equal(t, want, got)
		assert.Equal(t, x.Len(), y.Len())
		for i, h := range hs {
			pos, err := y.Lookup(h, func(p uint64) (bool, error) { return p == uint64(i+1), nil })
			require.NoError(t, err)
			require.Equal(t, uint64(i+1), pos)
		}
		require.NoError(t, y.Add(y.Hash(y.StreamKey("s"), uuid.New()), uint64(len(hs)+1)), "it takes more entries")
	}
}

// An index of positions far apart (its tables wide) reads back from its
// slots as it was, its position bits included.
func TestSlotsSparse(t *testing.T) {
	x := New([16]byte{4, 2})
	key := x.StreamKey("s")
	hs := make([]uint64, 2000)
	for i := range hs {
		hs[i] = x.Hash(key, uuid.New())
		require.NoError(t, x.Add(hs[i], uint64(i+1)*977))
	}
	require.Greater(t, x.current().r, x.current().k, "positions wider than the table")
	y, rest, err := DecodeSlots(x.AppendSlots(nil), [16]byte{4, 2})
	require.NoError(t, err)
	assert.Empty(t, rest)
	assert.Equal(t, x.current().r, y.current().r)
	assert.True(t, x.Same(y))
	for i, h := range hs {
		pos, err := y.Lookup(h, func(p uint64) (bool, error) { return p == uint64(i+1)*977, nil })
		require.NoError(t, err)
		require.Equal(t, uint64(i+1)*977, pos)
	}
}

// appendDenseSlots writes x in the layout before tables kept their own
// position bits (no r), which DecodeDenseSlots reads.
func appendDenseSlots(b []byte, x *Index) []byte {
	b = binary.AppendUvarint(b, uint64(len(x.tables)))
	for _, t := range x.tables {
		b = binary.AppendUvarint(b, t.base)
		b = binary.AppendUvarint(b, uint64(t.k))
		b = binary.AppendUvarint(b, uint64(t.n))
		b = binary.AppendUvarint(b, t.last)
		b = bitsAppend(b, t.slots)
	}
	return b
}

// An index of every position in the layout without position bits (r = k
// in every table) reads back as the index it was, which then takes
// entries far apart; one whose positions do not fit k bits is refused.
func TestDenseSlots(t *testing.T) {
	for _, limit := range []uint{0, 6} {
		x, hs := slotsIndex(t, 3000, limit)
		for _, tb := range x.tables {
			// The dense layout has no position bits: the index written
			// in it must be one whose tables keep r = k.
			require.Equal(t, tb.k, tb.r, "a dense index keeps r = k")
		}
		y, rest, err := DecodeDenseSlots(append(appendDenseSlots(nil, x), "tail"...), [16]byte{4, 2})
		require.NoError(t, err)
		assert.Equal(t, "tail", string(rest))
		assert.True(t, x.Same(y))
		assert.Equal(t, x.AppendSlots(nil), y.AppendSlots(nil))
		for i, h := range hs {
			pos, err := y.Lookup(h, func(p uint64) (bool, error) { return p == uint64(i+1), nil })
			require.NoError(t, err)
			require.Equal(t, uint64(i+1), pos)
		}
		require.NoError(t, y.Add(y.Hash(y.StreamKey("s"), uuid.New()), uint64(len(hs))+1<<30))
	}
	sparse := New([16]byte{4, 2})
	for i := range 50 {
		require.NoError(t, sparse.Add(uint64(i)<<40, uint64(i+1)*1000))
	}
	_, _, err := DecodeDenseSlots(appendDenseSlots(nil, sparse), [16]byte{4, 2})
	assert.ErrorIs(t, err, ErrMalformed, "positions past k bits")
}

// Slots that a lookup could not rely on are refused: an entry moved past
// an empty slot from its home, a wrong count, a position outside the
// table.
func TestSlotsMalformed(t *testing.T) {
	x, _ := slotsIndex(t, 100, 0)
	good := x.AppendSlots(nil)
	cur := x.tables[len(x.tables)-1]
	m := uint64(len(cur.slots) - 1)
	hdr := len(good) - 8*len(cur.slots)
	slot := func(b []byte, i uint64) []byte { return b[hdr+8*int(i):] }
	// An entry and an empty slot shortly before its home: moved there,
	// a lookup would never find it.
	var from, to uint64
	found := false
	for i, s := range cur.slots {
		if s == 0 {
			continue
		}
		home := s >> (64 - cur.k)
		for j := uint64(1); j < 8; j++ {
			e := (home - j) & m
			if cur.slots[e] == 0 {
				from, to, found = uint64(i), e, true
				break
			}
		}
		if found {
			break
		}
	}
	require.True(t, found)
	moved := bytes.Clone(good)
	copy(slot(moved, to), slot(good, from)[:8])
	copy(slot(moved, from), make([]byte, 8))
	_, _, err := DecodeSlots(moved, [16]byte{4, 2})
	assert.ErrorIs(t, err, ErrMalformed, "an entry before its home")

	bad := bytes.Clone(good)
	slot(bad, to)[0] = 1 // an extra entry: the count is wrong
	_, _, err = DecodeSlots(bad, [16]byte{4, 2})
	assert.ErrorIs(t, err, ErrMalformed, "a count that does not match")

	_, _, err = DecodeSlots(good[:len(good)-1], [16]byte{4, 2})
	assert.ErrorIs(t, err, ErrMalformed, "cut short")

	// Position bits too few for the table's highest position, or more
	// than a table of its size keeps.
	for _, r := range []uint64{minBits - 1, 5, uint64(maxRel(cur.k)) + 1} {
		x.tables[0].r, cur.r = uint(r), uint(r)
		_, _, err = DecodeSlots(x.AppendSlots(nil), [16]byte{4, 2})
		assert.ErrorIs(t, err, ErrMalformed, "%d position bits", r)
	}
}

func FuzzDecodeSlots(f *testing.F) {
	x, _ := slotsIndex(f, 20, 0)
	f.Add(x.AppendSlots(nil))
	f.Add(appendDenseSlots(nil, x))
	f.Add([]byte{1, 0, 4, 4, 0, 0})
	sparse := New([16]byte{4, 2})
	for i := range 10 {
		require.NoError(f, sparse.Add(uint64(i)*0x9e3779b97f4a7c15, uint64(i+1)*1000))
	}
	f.Add(sparse.AppendSlots(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		if y, rest, err := DecodeDenseSlots(b, [16]byte{4, 2}); err == nil {
			assert.Equal(t, b[:len(b)-len(rest)], appendDenseSlots(nil, y), "what decodes densely encodes to the same bytes")
			for _, tb := range y.tables {
				assert.Equal(t, tb.k, tb.r)
			}
		}
		y, rest, err := DecodeSlots(b, [16]byte{4, 2})
		if err != nil {
			return
		}
		assert.Equal(t, b[:len(b)-len(rest)], y.AppendSlots(nil), "what decodes encodes to the same bytes")
		// It takes more entries, above its last, as an index does.
		assert.NoError(t, y.Add(0x5555, y.Last()+1))
	})
}
