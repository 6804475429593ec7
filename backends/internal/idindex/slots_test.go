package idindex

import (
	"bytes"
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

// Slots that a lookup could not rely on are refused: an entry moved past
// an empty slot from its home, a wrong count, a position outside the
// table.
func TestSlotsMalformed(t *testing.T) {
	x, _ := slotsIndex(t, 100, 0)
	good := x.AppendSlots(nil)
	cur := x.tables[len(x.tables)-1]
	m := cur.mask()
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
}

func FuzzDecodeSlots(f *testing.F) {
	x, _ := slotsIndex(f, 20, 0)
	f.Add(x.AppendSlots(nil))
	f.Add([]byte{1, 0, 4, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		y, rest, err := DecodeSlots(b, [16]byte{4, 2})
		if err != nil {
			return
		}
		assert.Equal(t, b[:len(b)-len(rest)], y.AppendSlots(nil), "what decodes encodes to the same bytes")
	})
}
