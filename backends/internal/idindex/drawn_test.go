package idindex

import (
	"math/rand/v2"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDrawnInverts(t *testing.T) {
	x := New(seed)
	rnd := rand.New(rand.NewPCG(7, 8))
	seen := map[uuid.UUID]bool{}
	for i := range 20000 {
		nonce := rnd.Uint64() & (1<<NonceBits - 1)
		pos := uint64(i + 1)
		switch i % 4 {
		case 1:
			pos = rnd.Uint64() | 1
		case 2:
			pos = 1<<64 - 1 - uint64(i)
		}
		id := x.Drawn(nonce, pos)
		require.Equal(t, uuid.Version(4), id.Version(), "drawn %d", i)
		require.Equal(t, uuid.RFC4122, id.Variant(), "drawn %d", i)
		require.False(t, seen[id], "drawn %d repeats an ID", i)
		seen[id] = true
		n, p, ok := x.DrawnPos(id)
		require.True(t, ok)
		require.Equal(t, pos, p, "position of drawn %d", i)
		require.Equal(t, nonce, n, "nonce of drawn %d", i)
	}
	// Only the low NonceBits of a nonce count.
	assert.Equal(t, x.Drawn(5, 9), x.Drawn(5|1<<NonceBits, 9))
}

func TestDrawnDependsOnSeedNonceAndPosition(t *testing.T) {
	x, y := New(seed), New([16]byte{1})
	a := x.Drawn(1, 1)
	assert.NotEqual(t, a, y.Drawn(1, 1), "another seed")
	assert.NotEqual(t, a, x.Drawn(2, 1), "another nonce")
	assert.NotEqual(t, a, x.Drawn(1, 2), "another position")
	// Under another seed, the ID names some other position, or none.
	if _, p, ok := y.DrawnPos(a); ok {
		assert.NotEqual(t, uint64(1), p)
	}
	// Consecutive positions give IDs that share no obvious structure:
	// about half their bits differ.
	diff := 0
	for i := range uint64(1000) {
		u, v := x.Drawn(3, i+1), x.Drawn(3, i+2)
		for j := range u {
			diff += bitCount(u[j] ^ v[j])
		}
	}
	assert.InDelta(t, 61.0, float64(diff)/1000, 3, "mean differing bits of neighbours")
}

func bitCount(b byte) int {
	n := 0
	for ; b != 0; b &= b - 1 {
		n++
	}
	return n
}

func TestDrawnPosRefuses(t *testing.T) {
	x := New(seed)
	for _, id := range []uuid.UUID{
		uuid.Nil,
		uuid.MustParse("6ba7b810-9dad-11d1-80b4-00c04fd430c8"), // version 1
		uuid.MustParse("00000000-0000-4000-c000-000000000001"), // another variant
	} {
		_, _, ok := x.DrawnPos(id)
		assert.False(t, ok, "%s", id)
	}
	// The ID that would name position 0 is no drawn ID.
	_, _, ok := x.DrawnPos(x.Drawn(0, 0))
	assert.False(t, ok)
}

func TestSparsePositions(t *testing.T) {
	// Entries at every 1000th position, and then a run of dense ones,
	// stay in one table: its position bits widen.
	x := New(seed)
	m := &model{}
	rnd := rand.New(rand.NewPCG(9, 10))
	add := func(pos uint64) {
		var id uuid.UUID
		for j := range id {
			id[j] = byte(rnd.Uint32())
		}
		for uint64(len(m.ids)) < pos {
			m.ids, m.streams = append(m.ids, uuid.Nil), append(m.streams, "")
		}
		m.ids[pos-1], m.streams[pos-1] = id, "s"
		require.NoError(t, x.Add(x.Hash(x.StreamKey("s"), id), pos))
	}
	var pos uint64
	for range 3000 {
		pos += 1 + uint64(rnd.IntN(2000))
		add(pos)
	}
	for range 3000 {
		pos++
		add(pos)
	}
	assert.Len(t, x.tables, 1)
	assert.Equal(t, 6000, x.Len())
	assert.Less(t, x.Bytes(), 22*x.Len())
	check := func(x *Index) {
		for i, id := range m.ids {
			if id == uuid.Nil {
				continue
			}
			got, _, err := m.find(x, "s", id)
			require.NoError(t, err)
			require.Equal(t, uint64(i+1), got)
		}
	}
	check(x)
	b, err := x.AppendBinary(nil)
	require.NoError(t, err)
	y, rest, err := Decode(b, seed)
	require.NoError(t, err)
	assert.Empty(t, rest)
	check(y)
	again, err := y.AppendBinary(nil)
	require.NoError(t, err)
	assert.Equal(t, b, again)
}

func BenchmarkDrawn(b *testing.B) {
	x := New(seed)
	var pos uint64
	for b.Loop() {
		pos++
		id := x.Drawn(12345, pos)
		if _, p, _ := x.DrawnPos(id); p != pos {
			b.Fatal("no inverse")
		}
	}
}

// Every ID DrawnPos accepts is the drawn ID of what it names, and every
// drawn ID is accepted.
func FuzzDrawnPos(f *testing.F) {
	x := New(seed)
	first := x.Drawn(1, 1)
	f.Add(first[:], uint64(0), uint64(0))
	f.Add(uuid.Nil[:], uint64(1<<NonceBits-1), uint64(1<<64-1))
	f.Add([]byte("0123456789abcdef"), uint64(42), uint64(7))
	f.Fuzz(func(t *testing.T, b []byte, nonce, pos uint64) {
		if len(b) == 16 {
			id := uuid.UUID(b)
			if n, p, ok := x.DrawnPos(id); ok {
				require.NotZero(t, p)
				require.Less(t, n, uint64(1)<<NonceBits)
				require.Equal(t, id, x.Drawn(n, p))
			}
		}
		if pos == 0 {
			return
		}
		id := x.Drawn(nonce, pos)
		n, p, ok := x.DrawnPos(id)
		require.True(t, ok)
		require.Equal(t, pos, p)
		require.Equal(t, nonce&(1<<NonceBits-1), n)
	})
}
