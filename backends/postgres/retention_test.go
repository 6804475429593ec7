package postgres_test

import (
	"time"

	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/postgres"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// TestGuessesSeeOtherProcessesDeletes has one store delete and limit
// streams that another store on the same schema has guesses for (or none
// at all): every append of the other must be decided on the stored state,
// never let through by a stale guess.
func TestGuessesSeeOtherProcessesDeletes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := mustOpen(t)
	b, err := postgres.Open(ctx, testDSN(), postgres.WithSchema(a.Schema()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	pa, pb := effect.Handle(ctx, a), effect.Handle(ctx, b)
	ev := []ops.EventData{{Type: "t"}}
	app := func(p *effect.P, stream string, e ops.Expect) (ops.AppendResult, error) {
		return effect.Perform(p, ops.Append{Stream: stream, Expect: e, Events: ev})
	}

	// a learns heads of h and s.
	for _, name := range []string{"h", "s"} {
		_, err := app(pa, name, ops.Any())
		require.NoError(t, err)
		_, err = app(pa, name, ops.Exact(1))
		require.NoError(t, err)
	}
	// b hard-deletes h, and tombstones n, which a never saw.
	_, err = effect.Perform(pb, ops.StreamDelete{Stream: "h", Expect: ops.Exact(2), Hard: true})
	require.NoError(t, err)
	_, err = effect.Perform(pb, ops.StreamDelete{Stream: "n", Expect: ops.Any(), Hard: true})
	require.NoError(t, err)
	for _, name := range []string{"h", "n"} {
		_, err = app(pa, name, ops.Any())
		var del *ops.StreamDeletedError
		require.True(t, errors.As(err, &del), "append to the hard-deleted %s: want a StreamDeletedError, got %v", name, err)
		assert.Equal(t, name, del.Stream)
	}
	// b soft-deletes s: a's guess of head 2 no longer speaks for it.
	// NoStream holds on a soft-deleted stream; Exists fails.
	_, err = effect.Perform(pb, ops.StreamDelete{Stream: "s", Expect: ops.Exact(2)})
	require.NoError(t, err)
	_, err = app(pa, "s", ops.Exists())
	var c *ops.Conflict
	require.True(t, errors.As(err, &c), "Exists on a soft-deleted stream: want a conflict, got %v", err)
	r, err := app(pa, "s", ops.NoStream())
	require.NoError(t, err)
	assert.Equal(t, uint64(3), r.FirstSeq, "numbering goes on after a soft delete")
	page, err := effect.Perform(pb, ops.Read{Stream: "s"})
	require.NoError(t, err)
	require.Len(t, page.Events, 1, "only the event after the delete shows")
	assert.Equal(t, uint64(3), page.Events[0].Seq)

	// Nothing was stored for the refused appends: the global log holds
	// the four first events and the one after the soft delete.
	all, err := effect.Perform(pa, ops.ReadAll{})
	require.NoError(t, err)
	var seen []uint64
	for _, e := range all.Events {
		seen = append(seen, e.Pos)
	}
	assert.Equal(t, []uint64{5}, seen, "h's events are hidden, s's before the delete too")
	assert.Equal(t, uint64(5), all.Head)
	assert.Positive(t, postgres.Refused(a), "a's stale guesses were refused")
}

// TestMaxCountWithGuesses appends past a max-count set by another store:
// the guessed commits keep the numbering, and reads show only the last
// events, in the stream and in the global log.
func TestMaxCountWithGuesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := mustOpen(t)
	b, err := postgres.Open(ctx, testDSN(), postgres.WithSchema(a.Schema()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	pa, pb := effect.Handle(ctx, a), effect.Handle(ctx, b)
	for i := range 3 {
		_, err := effect.Perform(pa, ops.Append{Stream: "s", Expect: ops.Exact(uint64(i)), Events: []ops.EventData{{Type: "t"}}})
		require.NoError(t, err)
	}
	_, err = effect.Perform(pb, ops.StreamMetaWrite{Stream: "s", Expect: ops.Any(), Meta: ops.StreamMeta{MaxCount: 2}})
	require.NoError(t, err)
	for i := 3; i < 6; i++ {
		_, err := effect.Perform(pa, ops.Append{Stream: "s", Expect: ops.Exact(uint64(i)), Events: []ops.EventData{{Type: "t"}}})
		require.NoError(t, err)
	}
	page, err := effect.Perform(pb, ops.Read{Stream: "s"})
	require.NoError(t, err)
	require.Len(t, page.Events, 2)
	assert.Equal(t, []uint64{5, 6}, []uint64{page.Events[0].Seq, page.Events[1].Seq})
	assert.Equal(t, uint64(6), page.Head)
	assert.Equal(t, uint64(7), page.Next)
	all, err := effect.Perform(pb, ops.ReadAll{From: 2, Limit: 1})
	require.NoError(t, err)
	require.Len(t, all.Events, 1)
	assert.Equal(t, uint64(5), all.Events[0].Pos, "a read from a hidden position goes on at the next visible one")
	assert.Equal(t, uint64(6), all.Next)
	st, err := effect.Perform(pa, ops.Stat{})
	require.NoError(t, err)
	assert.Equal(t, uint64(6), st.EventsStored)
	assert.Equal(t, uint64(2), st.EventsVisible)
	assert.Equal(t, uint64(1), st.Streams)
	// Only the first append after the metadata write was refused (the
	// generation moved); the next ones guessed right again.
	assert.Equal(t, int64(1), postgres.Refused(a))
}

// TestCompact deletes what limits and deletes hide: reads answer as
// before, the stored count drops to the visible one, positions stay, and
// another store's stale guess is refused rather than stored at a freed
// seq.
func TestCompact(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := mustOpen(t)
	b, err := postgres.Open(ctx, testDSN(), postgres.WithSchema(a.Schema()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	pa, pb := effect.Handle(ctx, a), effect.Handle(ctx, b)
	ev := []ops.EventData{{Type: "t"}}
	for i := range 4 {
		_, err := effect.Perform(pa, ops.Append{Stream: "s", Expect: ops.Exact(uint64(i)), Events: ev})
		require.NoError(t, err)
		_, err = effect.Perform(pa, ops.Append{Stream: "d", Events: ev})
		require.NoError(t, err)
	}
	// b learns s's head 4, then a limits s and hard-deletes d.
	_, err = effect.Perform(pb, ops.Append{Stream: "s", Expect: ops.Exact(4), Events: ev})
	require.NoError(t, err)
	_, err = effect.Perform(pa, ops.StreamMetaWrite{Stream: "s", Expect: ops.Any(), Meta: ops.StreamMeta{MaxCount: 2}})
	require.NoError(t, err)
	_, err = effect.Perform(pa, ops.StreamDelete{Stream: "d", Expect: ops.Any(), Hard: true})
	require.NoError(t, err)
	before, err := effect.Perform(pa, ops.ReadAll{})
	require.NoError(t, err)
	st, err := effect.Perform(pb, ops.Stat{})
	require.NoError(t, err)
	assert.True(t, st.LastCompaction.IsZero(), "never compacted: %v", st.LastCompaction)

	t0 := time.Now()
	res, err := a.Compact(ctx, false)
	require.NoError(t, err)
	assert.Equal(t, int64(7), res.Events, "s's seqs 1-3 and d's four events")
	assert.True(t, res.Vacuumed)
	after, err := effect.Perform(pa, ops.ReadAll{})
	require.NoError(t, err)
	assert.Equal(t, before.Events, after.Events, "the visible events and their positions are unchanged")
	assert.Equal(t, before.Head, after.Head)
	st, err = effect.Perform(pb, ops.Stat{})
	require.NoError(t, err)
	assert.Equal(t, uint64(2), st.EventsStored)
	assert.Equal(t, st.EventsVisible, st.EventsStored)
	assert.WithinRange(t, st.LastCompaction, t0.Add(-time.Second), time.Now().Add(time.Second), "last compaction, seen by another store")

	// a appends on (its guess moved with the compaction); b's guess of
	// head 5 is stale and names seq 6, freed by nothing, but the
	// generation moved: refused, then decided on the stored head.
	_, err = effect.Perform(pa, ops.Append{Stream: "s", Expect: ops.Exact(5), Events: ev})
	require.NoError(t, err)
	_, err = effect.Perform(pb, ops.Append{Stream: "s", Expect: ops.Exact(5), Events: ev})
	var c *ops.Conflict
	require.True(t, errors.As(err, &c), "want a conflict, got %v", err)
	assert.Equal(t, uint64(6), c.Actual)
	page, err := effect.Perform(pb, ops.Read{Stream: "s"})
	require.NoError(t, err)
	require.Len(t, page.Events, 2)
	assert.Equal(t, []uint64{5, 6}, []uint64{page.Events[0].Seq, page.Events[1].Seq})
	assert.Equal(t, uint64(10), page.Events[1].Pos, "positions go on from the log's last, not from the events left")
}

// TestCompactedTailNotReused has another store compact away the last
// positions of the log and every event of a stream: positions and seqs
// go on from the floors the compaction left, never into what it freed,
// even for a store whose guess of the last position is from before.
func TestCompactedTailNotReused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := mustOpen(t)
	b, err := postgres.Open(ctx, testDSN(), postgres.WithSchema(a.Schema()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	pa, pb := effect.Handle(ctx, a), effect.Handle(ctx, b)
	for i := range 2 {
		_, err := effect.Perform(pa, ops.Append{Stream: "x", Expect: ops.Exact(uint64(i)), Events: []ops.EventData{{Type: "t"}}})
		require.NoError(t, err)
	}
	// a's guess of the last position is 2; b writes 3-6 and hides them.
	for _, stream := range []string{"u", "v"} {
		_, err := effect.Perform(pb, ops.Append{Stream: stream, Events: []ops.EventData{{Type: "t"}, {Type: "t"}}})
		require.NoError(t, err)
	}
	_, err = effect.Perform(pb, ops.StreamDelete{Stream: "u", Expect: ops.Any(), Hard: true})
	require.NoError(t, err)
	_, err = effect.Perform(pb, ops.StreamMetaWrite{Stream: "v", Expect: ops.Any(), Meta: ops.StreamMeta{TruncateBefore: 3}})
	require.NoError(t, err)
	res, err := b.Compact(ctx, true)
	require.NoError(t, err)
	require.Equal(t, int64(4), res.Events, "positions 3-6 are deleted")

	all, err := effect.Perform(pa, ops.ReadAll{})
	require.NoError(t, err)
	assert.Len(t, all.Events, 2)
	assert.Equal(t, uint64(6), all.Head, "the log's last position outlives its events")
	page, err := effect.Perform(pa, ops.Read{Stream: "v"})
	require.NoError(t, err)
	assert.Empty(t, page.Events)
	assert.Equal(t, uint64(2), page.Head, "v's head outlives its events")

	// a's guess names position 3, which nothing refuses any more: the
	// moved generation does, and a takes 7.
	r, err := effect.Perform(pa, ops.Append{Stream: "x", Expect: ops.Exact(2), Events: []ops.EventData{{Type: "t"}}})
	require.NoError(t, err)
	assert.Equal(t, ops.AppendResult{Stream: "x", FirstSeq: 3, Head: 3, FirstPos: 7, LastPos: 7}, r)
	assert.Equal(t, int64(1), postgres.Refused(a))
	// b's own guess after its compaction: v goes on at seq 3, position 8.
	r, err = effect.Perform(pb, ops.Append{Stream: "v", Expect: ops.Exact(2), Events: []ops.EventData{{Type: "t"}}})
	require.NoError(t, err)
	assert.Equal(t, ops.AppendResult{Stream: "v", FirstSeq: 3, Head: 3, FirstPos: 8, LastPos: 8}, r)
}
