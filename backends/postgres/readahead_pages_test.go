package postgres_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/postgres"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// TestReadaheadTwoLentPages alternates two lent pages and keeps each
// answer uncopied until its page is lent again: readahead swaps page
// memory, and must never hand out memory an answer still lives in.
func TestReadaheadTwoLentPages(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t)
	p := effect.Handle(ctx, s)
	appendSpread(t, p, 12_000)
	want := replayAll(t, withoutReadahead(t, s), 1000, nil)
	var pages [2]ops.Page
	var prev []ops.Event
	var prevWant ops.ReadAllResult
	for i, from := 0, uint64(1); ; i++ {
		res, err := effect.Perform(p, ops.ReadAll{From: from, Limit: 1000, Page: &pages[i%2]})
		require.NoError(t, err)
		for j, e := range prev {
			require.Equal(t, prevWant.Events[j], ops.CloneEvent(e), "page %d, event %d changed under its reader", i-1, j)
		}
		if len(res.Events) == 0 {
			break
		}
		prev, prevWant = res.Events, want[i]
		from = res.Next
	}
	_, used := postgres.ReadaheadStats(s)
	assert.Positive(t, used, "reads were answered from pages read ahead")
}

// TestReadaheadDeleteAndCompact deletes a stream (and then compacts)
// after pages were read ahead: the pages after it never show its events.
func TestReadaheadDeleteAndCompact(t *testing.T) {
	for _, compact := range []bool{false, true} {
		ctx := context.Background()
		s := mustOpen(t)
		p := effect.Handle(ctx, s)
		plain := withoutReadahead(t, s)
		appendSpread(t, p, 3000)
		readPage(t, p, 1, 1000, nil)
		waitIdle(t, s)
		started, used := postgres.ReadaheadStats(s)
		require.Positive(t, started, "pages 2 and 3 were read ahead")
		_, err := effect.Perform(plain, ops.StreamDelete{Stream: "s-1", Expect: ops.Any()})
		require.NoError(t, err)
		if compact {
			_, err = s.Compact(ctx, true)
			require.NoError(t, err)
		}
		var page ops.Page
		for from := uint64(1001); ; {
			got := readPage(t, p, from, 1000, &page)
			assert.Equal(t, readPage(t, plain, from, 1000, nil), got, "compact %v, from %d", compact, from)
			for _, e := range got.Events {
				require.NotEqual(t, "s-1", e.Stream, "compact %v: a deleted event at %d", compact, e.Pos)
			}
			if len(got.Events) == 0 {
				break
			}
			from = got.Next
		}
		_, used2 := postgres.ReadaheadStats(s)
		assert.Equal(t, used, used2, "compact %v: no answer from a page read ahead before the delete", compact)
	}
}
