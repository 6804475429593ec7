package idindex

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var seed = [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}

// model is what an index stands for: per position its stream and ID.
type model struct {
	streams []string
	ids     []uuid.UUID
}

func (m *model) find(x *Index, stream string, id uuid.UUID) (uint64, int, error) {
	asked := 0
	pos, err := x.Lookup(x.Hash(x.StreamKey(stream), id), func(pos uint64) (bool, error) {
		asked++
		return m.streams[pos-1] == stream && m.ids[pos-1] == id, nil
	})
	return pos, asked, err
}

func fill(t *testing.T, x *Index, n int, rnd *rand.Rand) *model {
	t.Helper()
	m := &model{}
	for i := range n {
		s := fmt.Sprintf("s%d", rnd.IntN(50))
		var id uuid.UUID
		for j := range id {
			id[j] = byte(rnd.Uint32())
		}
		if i%7 == 3 { // the same ID in another stream
			id = m.ids[len(m.ids)-1]
		}
		m.streams, m.ids = append(m.streams, s), append(m.ids, id)
		require.NoError(t, x.Add(x.Hash(x.StreamKey(s), id), uint64(i+1)))
	}
	return m
}

func checkAll(t *testing.T, x *Index, m *model) {
	t.Helper()
	require.Equal(t, len(m.ids), x.Len())
	for i := range m.ids {
		pos, _, err := m.find(x, m.streams[i], m.ids[i])
		require.NoError(t, err)
		if m.ids[i] == m.ids[max(i-1, 0)] && m.streams[i] == m.streams[max(i-1, 0)] && i > 0 {
			continue // the same key twice: the first is found
		}
		require.Equal(t, uint64(i+1), pos, "position of entry %d", i)
	}
	var missing uuid.UUID
	missing[0] = 0xff
	pos, _, err := m.find(x, "s1", missing)
	require.NoError(t, err)
	assert.Zero(t, pos, "an ID never added")
}

func TestAddLookup(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	x := New(seed)
	m := fill(t, x, 20000, rnd)
	checkAll(t, x, m)
	assert.Less(t, x.Bytes(), 22*x.Len(), "bytes of slots per entry")
	assert.Len(t, x.tables, 1)
}

func TestOtherStreamIsNotAMatch(t *testing.T) {
	x := New(seed)
	id := uuid.UUID{9}
	require.NoError(t, x.Add(x.Hash(x.StreamKey("a"), id), 1))
	m := &model{streams: []string{"a"}, ids: []uuid.UUID{id}}
	pos, _, err := m.find(x, "b", id)
	require.NoError(t, err)
	assert.Zero(t, pos)
	pos, _, err = m.find(x, "a", id)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), pos)
}

func TestCollisionsAreConfirmed(t *testing.T) {
	// Every entry has the same hash: lookups offer every one, newest
	// table first, and the confirmation picks.
	x := New(seed)
	for pos := uint64(1); pos <= 10; pos++ {
		require.NoError(t, x.Add(42, pos))
	}
	var asked []uint64
	pos, err := x.Lookup(42, func(pos uint64) (bool, error) {
		asked = append(asked, pos)
		return pos == 7, nil
	})
	require.NoError(t, err)
	assert.Equal(t, uint64(7), pos)
	assert.Contains(t, asked, uint64(7))
	pos, err = x.Lookup(42, func(uint64) (bool, error) { return false, nil })
	require.NoError(t, err)
	assert.Zero(t, pos)
	_, err = x.Lookup(42, func(uint64) (bool, error) { return false, fmt.Errorf("read failed") })
	assert.EqualError(t, err, "read failed")
}

func TestPositionsMustRise(t *testing.T) {
	x := New(seed)
	require.NoError(t, x.Add(1, 5))
	assert.Error(t, x.Add(2, 5))
	assert.Error(t, x.Add(2, 3))
	assert.Equal(t, 1, x.Len())
}

func TestFrozenTables(t *testing.T) {
	// With tables limited to 2^6 slots, 1000 entries take many tables,
	// and a gap in positions starts a new one.
	rnd := rand.New(rand.NewPCG(3, 4))
	x := New(seed)
	x.limit = 6
	m := fill(t, x, 1000, rnd)
	assert.Greater(t, len(x.tables), 15)
	checkAll(t, x, m)

	b, err := x.AppendBinary(nil)
	require.NoError(t, err)
	y, rest, err := Decode(b, seed)
	require.NoError(t, err)
	assert.Empty(t, rest)
	y.limit = 6
	checkAll(t, y, &model{streams: m.streams, ids: m.ids})

	// A gap in positions wider than a table starts a new one.
	h := x.Hash(x.StreamKey("gap"), uuid.UUID{7})
	require.NoError(t, x.Add(h, 1<<40))
	got, err := x.Lookup(h, func(pos uint64) (bool, error) { return pos == 1<<40, nil })
	require.NoError(t, err)
	assert.Equal(t, uint64(1<<40), got)
	b, err = x.AppendBinary(nil)
	require.NoError(t, err)
	_, _, err = Decode(b, seed)
	require.NoError(t, err)
}

func TestEncodeDecode(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	x := New(seed)
	m := fill(t, x, 5000, rnd)
	b, err := x.AppendBinary([]byte("head"))
	require.NoError(t, err)
	b = append(b, "tail"...)
	y, rest, err := Decode(b[4:], seed)
	require.NoError(t, err)
	assert.Equal(t, "tail", string(rest))
	checkAll(t, y, m)
	assert.Equal(t, x.Bytes(), y.Bytes())
	// Adding goes on where it stopped.
	require.NoError(t, y.Add(y.Hash(y.StreamKey("s1"), uuid.UUID{1}), 5001))
	assert.Error(t, y.Add(1, 5000))

	// Another seed gives other hashes: nothing is found.
	z, _, err := Decode(b[4:], [16]byte{})
	require.NoError(t, err)
	found := 0
	for i := range 100 {
		if pos, _, _ := m.find(z, m.streams[i], m.ids[i]); pos != 0 {
			found++
		}
	}
	assert.Less(t, found, 3)

	empty, err := New(seed).AppendBinary(nil)
	require.NoError(t, err)
	e, rest, err := Decode(empty, seed)
	require.NoError(t, err)
	assert.Empty(t, rest)
	assert.Zero(t, e.Len())
}

func TestDecodeRefuses(t *testing.T) {
	x := New(seed)
	for pos := uint64(1); pos <= 20; pos++ {
		require.NoError(t, x.Add(x.Hash(1, uuid.UUID{byte(pos)}), pos))
	}
	good, err := x.AppendBinary(nil)
	require.NoError(t, err)
	for n := range len(good) {
		_, _, err := Decode(good[:n], seed)
		assert.ErrorIs(t, err, ErrMalformed, "cut at %d", n)
	}
	bad := append([]byte(nil), good...)
	bad[2] = 40 // k beyond the limit
	_, _, err = Decode(bad, seed)
	assert.ErrorIs(t, err, ErrMalformed)
}

func FuzzDecode(f *testing.F) {
	x := New(seed)
	for pos := uint64(1); pos <= 40; pos++ {
		_ = x.Add(x.Hash(3, uuid.UUID{byte(pos)}), pos)
	}
	good, _ := x.AppendBinary(nil)
	f.Add(good)
	f.Add([]byte{1, 0, 4, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		y, rest, err := Decode(b, seed)
		if err != nil {
			return
		}
		// What decodes encodes back to the bytes it came from, and every
		// entry is found again.
		out, err := y.AppendBinary(nil)
		require.NoError(t, err)
		require.Equal(t, b[:len(b)-len(rest)], out)
		for _, tb := range y.tables {
			for _, s := range tb.slots {
				if s == 0 {
					continue
				}
				want := tb.base + s&tb.mask()
				h := s &^ tb.mask()
				got, err := y.Lookup(h, func(pos uint64) (bool, error) { return pos == want, nil })
				require.NoError(t, err)
				require.Equal(t, want, got)
			}
		}
	})
}

func BenchmarkAdd(b *testing.B) {
	x := New(seed)
	k := x.StreamKey("stream")
	var pos uint64
	for b.Loop() {
		pos++
		_ = x.Add(x.Hash(k, uuid.UUID{byte(pos), byte(pos >> 8), byte(pos >> 16), byte(pos >> 24)}), pos)
	}
	b.ReportMetric(float64(x.Bytes())/float64(x.Len()), "bytes/entry")
}

func BenchmarkLookupMiss(b *testing.B) {
	x := New(seed)
	k := x.StreamKey("stream")
	for pos := uint64(1); pos <= 1<<20; pos++ {
		_ = x.Add(x.Hash(k, uuid.UUID{byte(pos), byte(pos >> 8), byte(pos >> 16)}), pos)
	}
	var n uint64
	for b.Loop() {
		n++
		_, _ = x.Lookup(x.Hash(k, uuid.UUID{0xff, byte(n), byte(n >> 8)}), func(uint64) (bool, error) { return false, nil })
	}
}

// A clone keeps the entries of its index at the time of the clone while
// the index takes more, and answers lookups as the index did then.
func TestCloneIsIndependent(t *testing.T) {
	x := New([16]byte{9})
	x.limit = 8 // frozen tables, shared by the clone
	key := x.StreamKey("s")
	ids := make([]uuid.UUID, 2000)
	for i := range ids {
		ids[i] = uuid.New()
	}
	for i := range 1000 {
		require.NoError(t, x.Add(x.Hash(key, ids[i]), uint64(i+1)))
	}
	want, _ := x.AppendBinary(nil)
	c := x.Clone()
	for i := 1000; i < len(ids); i++ {
		require.NoError(t, x.Add(x.Hash(key, ids[i]), uint64(i+1)))
	}
	got, _ := c.AppendBinary(nil)
	assert.Equal(t, want, got, "the clone holds what the index held")
	assert.Equal(t, 1000, c.Len())
	pos, err := c.Lookup(c.Hash(key, ids[1500]), func(uint64) (bool, error) { return true, nil })
	require.NoError(t, err)
	assert.Zero(t, pos, "an entry added after the clone is not in it")
	pos, err = c.Lookup(c.Hash(key, ids[500]), func(p uint64) (bool, error) { return p == 501, nil })
	require.NoError(t, err)
	assert.Equal(t, uint64(501), pos)
}
