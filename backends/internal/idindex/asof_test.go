package idindex

import (
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// CopyAsOf gives the index as it was at the mark, whatever was added
// since: into the same table, into a table that grew, into new tables.
func TestCopyAsOf(t *testing.T) {
	for _, tc := range []struct {
		name          string
		before, after int
		limit         uint
		gap           uint64 // between the positions added after the mark
	}{
		{"same table", 1000, 20, 0, 1}, // 1020 positions: no wider position bits
		{"table grew", 1000, 3000, 0, 1},
		{"new tables", 1000, 3000, 8, 1},
		{"empty", 0, 100, 0, 1},
		{"table widened", 1000, 50, 0, 1 << 20},
		{"table widened and grew", 1000, 3000, 0, 1 << 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := New([16]byte{3})
			if tc.limit > 0 {
				x.limit = tc.limit
			}
			key := x.StreamKey("s")
			hs := make([]uint64, tc.before+tc.after)
			for i := range hs {
				hs[i] = x.Hash(key, uuid.New())
			}
			for i := range tc.before {
				require.NoError(t, x.Add(hs[i], uint64(i+1)))
			}
			m := x.Mark()
			want, _ := x.Clone().AppendBinary(nil)
			posOf := func(i int) uint64 {
				if i < tc.before {
					return uint64(i + 1)
				}
				return uint64(tc.before) + uint64(i-tc.before+1)*tc.gap
			}
			r := x.current().r
			for i := tc.before; i < len(hs); i++ {
				require.NoError(t, x.Add(hs[i], posOf(i)))
			}
			if tc.gap > 1 {
				require.Greater(t, x.current().r, r, "the table widened")
			}
			var mu sync.Mutex
			c := x.CopyAsOf(m, func() func() { mu.Lock(); return mu.Unlock })
			assert.Equal(t, tc.before, c.Len())
			for i, h := range hs {
				pos, err := c.Lookup(h, func(p uint64) (bool, error) { return p == posOf(i), nil })
				require.NoError(t, err)
				if i < tc.before {
					require.Equal(t, uint64(i+1), pos, "entry %d of the mark", i)
				} else {
					require.Zero(t, pos, "entry %d added after the mark", i)
				}
			}
			if tc.name == "same table" {
				got, _ := c.AppendBinary(nil)
				assert.Equal(t, want, got)
			}
			before := New([16]byte{3})
			for i := range tc.before {
				require.NoError(t, before.Add(hs[i], uint64(i+1)))
			}
			assert.True(t, c.Same(before), "the same entries as an index built of them")
			assert.True(t, before.Same(c))
			if tc.after > 0 {
				assert.False(t, x.Same(c), "not those added after the mark")
			}
			// It encodes and decodes as an index of its own.
			y, _, err := DecodeSlots(c.AppendSlots(nil), [16]byte{3})
			require.NoError(t, err)
			assert.Equal(t, tc.before, y.Len())
		})
	}
}

// CopyAsOf beside a writer that adds under the same lock.
func TestCopyAsOfBesideAdds(t *testing.T) {
	x := New([16]byte{5})
	key := x.StreamKey("s")
	var mu sync.Mutex
	hs := make([]uint64, 5000)
	for i := range hs {
		hs[i] = x.Hash(key, uuid.New())
		require.NoError(t, x.Add(hs[i], uint64(i+1)))
	}
	m := x.Mark()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 5000; i < 60000; i++ {
			mu.Lock()
			_ = x.Add(x.Hash(key, uuid.New()), uint64(i+1))
			mu.Unlock()
		}
	}()
	c := x.CopyAsOf(m, func() func() { mu.Lock(); return mu.Unlock })
	<-done
	assert.Equal(t, 5000, c.Len())
	for i, h := range hs {
		pos, err := c.Lookup(h, func(p uint64) (bool, error) { return p == uint64(i+1), nil })
		require.NoError(t, err)
		require.Equal(t, uint64(i+1), pos)
	}
	y, _, err := DecodeSlots(c.AppendSlots(nil), [16]byte{5})
	require.NoError(t, err)
	assert.Equal(t, 5000, y.Len())
}
