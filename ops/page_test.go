package ops_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
)

func TestPageFillCopiesAndReuses(t *testing.T) {
	src := []ops.Event{{Stream: "s", Seq: 1, Data: []byte("one")}, {Stream: "s", Seq: 2}, {Stream: "s", Seq: 3, Data: []byte("three")}}
	var pg ops.Page
	evs := pg.Fill(src)
	require.Len(t, evs, 3)
	assert.Equal(t, "one", string(evs[0].Data))
	assert.Nil(t, evs[1].Data, "empty data stays nil")
	src[0].Data[0] = 'X'
	assert.Equal(t, "one", string(evs[0].Data), "the page holds a copy, not the source")
	assert.Equal(t, 3, pg.Len())
	assert.Positive(t, pg.Size())

	// The next fill reuses the memory: the events handed out before are
	// overwritten, as the contract says.
	first := evs[0].Data
	pg.Fill([]ops.Event{{Seq: 9, Data: []byte("ten")}})
	assert.Equal(t, "ten", string(first), "memory reused by the next fill")
	assert.Equal(t, 1, pg.Len())

	// Once grown, a page allocates nothing for pages of the same size.
	allocs := testing.AllocsPerRun(100, func() { pg.Fill(src) })
	assert.Zero(t, allocs)
}

func TestPageAllocRelease(t *testing.T) {
	var pg ops.Page
	a := pg.Alloc(10)
	require.Len(t, a, 10)
	pg.Release(4)
	b := pg.Alloc(4)
	assert.Same(t, &a[6], &b[0], "released bytes are handed out again")
	assert.Equal(t, 4, cap(b), "each piece is capped: appending to one never reaches the next")
	assert.Panics(t, func() { pg.Release(5) }, "more than the last Alloc")
	assert.Panics(t, func() { pg.Alloc(-1) })

	// A chunk too short is replaced by a larger one; what was handed out
	// stays intact.
	copy(a, "abcdef")
	big := pg.Alloc(1 << 20)
	require.Len(t, big, 1<<20)
	assert.Equal(t, "abcdef", string(a[:6]))
	assert.GreaterOrEqual(t, pg.Size(), 1<<20)
}

func TestCloneEvent(t *testing.T) {
	ev := ops.Event{Stream: "s", Seq: 1, Data: []byte("data")}
	c := ops.CloneEvent(ev)
	ev.Data[0] = 'X'
	assert.Equal(t, "data", string(c.Data))
	assert.Nil(t, ops.CloneEvent(ops.Event{Data: []byte{}}).Data)
}
