package programs_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/programs"
)

func TestEventsPagesAndStops(t *testing.T) {
	store := newStore(t)
	p := handle(t, store)
	n := ops.DefaultPage*2 + 5
	evs := make([]ops.EventData, n)
	for i := range evs {
		evs[i] = programs.Event("e", fmt.Appendf(nil, "%d", i+1))
	}
	_, err := programs.Append(p, "s", ops.NoStream(), evs...)
	require.NoError(t, err)
	_, err = programs.Append(p, "other", ops.NoStream(), programs.Event("x", nil))
	require.NoError(t, err)

	var seqs []uint64
	for ev, err := range programs.Events(p, "s", 3) {
		require.NoError(t, err)
		seqs = append(seqs, ev.Seq)
	}
	require.Len(t, seqs, n-2)
	for i, s := range seqs {
		require.Equal(t, uint64(i+3), s)
	}

	// Stopping early stops the reads.
	var count int
	for range programs.Events(p, "s", 1) {
		count++
		if count == 10 {
			break
		}
	}
	assert.Equal(t, 10, count)

	var pos []uint64
	for ev, err := range programs.AllEvents(p, 0) {
		require.NoError(t, err)
		pos = append(pos, ev.Pos)
	}
	require.Len(t, pos, n+1)
	assert.Equal(t, uint64(n+1), pos[n])
	assert.Equal(t, "other", func() string {
		for ev := range programs.AllEvents(p, uint64(n+1)) {
			return ev.Stream
		}
		return ""
	}())
}

func TestIteratorErrors(t *testing.T) {
	p := handle(t, newStore(t))
	var inv *ops.InvalidError
	for ev, err := range programs.Events(p, "", 1) {
		require.ErrorAs(t, err, &inv)
		assert.Equal(t, "stream", inv.Field)
		assert.Zero(t, ev)
	}
	got := 0
	for _, err := range programs.Entries(p, "k") {
		require.NoError(t, err)
		got++
	}
	assert.Zero(t, got, "no entries")

	store := newStore(t)
	p = handle(t, store)
	require.NoError(t, store.Close())
	for _, err := range programs.Streams(p, "") {
		assert.ErrorIs(t, err, ops.ErrClosed)
	}
	for _, err := range programs.AllEvents(p, 1) {
		assert.ErrorIs(t, err, ops.ErrClosed)
	}
}

func TestStreamsAndEntriesPage(t *testing.T) {
	p := handle(t, newStore(t))
	n := ops.DefaultPage + 3
	for i := range n {
		_, err := programs.Append(p, fmt.Sprintf("s-%05d", i), ops.Any(), programs.Event("e", nil))
		require.NoError(t, err)
		_, err = programs.Put(p, fmt.Sprintf("k/%05d", i), []byte("v"))
		require.NoError(t, err)
	}
	var names []string
	for s, err := range programs.Streams(p, "s-") {
		require.NoError(t, err)
		names = append(names, s.Name)
	}
	require.Len(t, names, n)
	assert.Equal(t, "s-00000", names[0])
	assert.Equal(t, fmt.Sprintf("s-%05d", n-1), names[n-1])
	var keys []string
	for e, err := range programs.Entries(p, "k/") {
		require.NoError(t, err)
		keys = append(keys, e.Key)
	}
	require.Len(t, keys, n)
	assert.IsIncreasing(t, keys)
}

func TestNilCallbacks(t *testing.T) {
	p := handle(t, newStore(t))
	var inv *ops.InvalidError
	_, err := programs.AppendRetry(p, "s", 3, nil)
	require.ErrorAs(t, err, &inv)
	assert.Equal(t, "decide", inv.Field)
	_, err = programs.Update(p, "k", 3, nil)
	require.ErrorAs(t, err, &inv)
	assert.Equal(t, "f", inv.Field)
}
