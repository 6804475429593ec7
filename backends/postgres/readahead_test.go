package postgres_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/postgres"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// The readahead tests compare a store that reads ahead (the default pool
// of 8 connections reads two pages ahead) with one on the same schema
// that does not: readahead may change only how fast a read is answered.

// appendSpread appends n events to the global log, in batches over
// three streams, each with data naming its place.
func appendSpread(t testing.TB, p *effect.P, n int) {
	t.Helper()
	for done := 0; done < n; {
		k := min(700, n-done)
		evs := make([]ops.EventData, k)
		for i := range evs {
			evs[i] = ops.EventData{Type: "t", Data: fmt.Appendf(nil, "event %d", done+i)}
		}
		_, err := effect.Perform(p, ops.Append{Stream: fmt.Sprintf("s-%d", (done/700)%3), Events: evs})
		require.NoError(t, err)
		done += k
	}
}

// readPage is one read-all, its events copied out of any lent page.
func readPage(t testing.TB, p *effect.P, from uint64, limit int, page *ops.Page) ops.ReadAllResult {
	t.Helper()
	res, err := readCopy(p, from, limit, page)
	require.NoError(t, err)
	return res
}

func readCopy(p *effect.P, from uint64, limit int, page *ops.Page) (ops.ReadAllResult, error) {
	res, err := effect.Perform(p, ops.ReadAll{From: from, Limit: limit, Page: page})
	if err != nil {
		return ops.ReadAllResult{}, err
	}
	var evs []ops.Event // not the page's: its next read overwrites them
	for _, e := range res.Events {
		evs = append(evs, ops.CloneEvent(e))
	}
	res.Events = evs
	return res, nil
}

// replayAll reads the global log from 1 to its end, page by page.
func replayAll(t testing.TB, p *effect.P, limit int, page *ops.Page) []ops.ReadAllResult {
	t.Helper()
	pages, err := replay(p, limit, page)
	require.NoError(t, err)
	return pages
}

func replay(p *effect.P, limit int, page *ops.Page) ([]ops.ReadAllResult, error) {
	var pages []ops.ReadAllResult
	for from := uint64(1); ; {
		res, err := readCopy(p, from, limit, page)
		if err != nil {
			return nil, err
		}
		pages = append(pages, res)
		if len(res.Events) == 0 {
			return pages, nil
		}
		from = res.Next
	}
}

// withoutReadahead opens a store on s's schema that never reads ahead.
func withoutReadahead(t testing.TB, s *postgres.Store) *effect.P {
	t.Helper()
	ns, err := postgres.Open(context.Background(), testDSN(), postgres.WithSchema(s.Schema()), postgres.WithoutReadahead())
	require.NoError(t, err)
	t.Cleanup(func() { _ = ns.Close() })
	return effect.Handle(context.Background(), ns)
}

// waitIdle waits until no read ahead of s is in flight.
func waitIdle(t testing.TB, s *postgres.Store) {
	t.Helper()
	require.Eventually(t, func() bool { return postgres.ReadaheadIdle(s) }, 10*time.Second, time.Millisecond)
}

// readaheadGoroutines counts the goroutines running a read ahead.
func readaheadGoroutines() int {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "postgres.(*readahead).startLocked.func") {
			n++
		}
	}
	return n
}

func TestReadaheadSameReplay(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t)
	p := effect.Handle(ctx, s)
	appendSpread(t, p, 7_500)
	want := replayAll(t, withoutReadahead(t, s), 1000, nil)
	require.Len(t, want, 9, "eight pages and the empty one at the end")

	got := replayAll(t, p, 1000, nil)
	assert.Equal(t, want, got, "a replay read ahead, in fresh memory")
	started, used := postgres.ReadaheadStats(s)
	assert.Positive(t, started, "pages were read ahead")
	assert.Positive(t, used, "reads were answered from pages read ahead")

	var page ops.Page
	got = replayAll(t, p, 1000, &page)
	assert.Equal(t, want, got, "a replay read ahead, in a lent page")
	_, used2 := postgres.ReadaheadStats(s)
	assert.Greater(t, used2, used, "reads lending a page were answered from pages read ahead")

	// Pages of the largest size, so that a page's events outgrow the
	// memory a lent page takes at first.
	want = replayAll(t, withoutReadahead(t, s), ops.MaxPage, nil)
	assert.Equal(t, want, replayAll(t, p, ops.MaxPage, &page), "pages of ops.MaxPage")
}

// TestReadaheadCommitBetweenPages commits after pages were read ahead:
// a page read ahead full is answered with the head read when it is
// asked for (the commit counted), and one read ahead short is read again.
func TestReadaheadCommitBetweenPages(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t)
	p := effect.Handle(ctx, s)
	plain := withoutReadahead(t, s)
	appendSpread(t, p, 3000)

	first := readPage(t, p, 1, 1000, nil)
	require.Len(t, first.Events, 1000)
	waitIdle(t, s) // pages 2 and 3 are read ahead
	_, used := postgres.ReadaheadStats(s)
	// Another process's commit, between the pages.
	appendSpread(t, plain, 500)

	for from := uint64(1001); from <= 3001; from += 1000 {
		got := readPage(t, p, from, 1000, nil)
		assert.Equal(t, readPage(t, plain, from, 1000, nil), got, "page from %d", from)
		assert.Equal(t, uint64(3500), got.Head, "page from %d: the head when it was asked for", from)
	}
	_, used2 := postgres.ReadaheadStats(s)
	assert.Equal(t, used+2, used2, "the two full pages came from readahead, the short one did not")

	// A page read ahead short, then filled by a commit: read again.
	s2 := mustOpen(t)
	p2 := effect.Handle(ctx, s2)
	appendSpread(t, p2, 1500)
	require.Len(t, readPage(t, p2, 1, 1000, nil).Events, 1000)
	waitIdle(t, s2)
	appendSpread(t, p2, 600)
	got := readPage(t, p2, 1001, 1000, nil)
	require.Len(t, got.Events, 1000, "the events committed since the read ahead are there")
	assert.Equal(t, uint64(1001), got.Events[0].Pos)
	assert.Equal(t, uint64(2000), got.Events[999].Pos)
	assert.Equal(t, uint64(2100), got.Head)
	assert.Equal(t, uint64(2001), got.Next)
	started, used := postgres.ReadaheadStats(s2)
	assert.Positive(t, started)
	assert.Zero(t, used, "a short page read ahead is never an answer")
}

// TestReadaheadOtherPosition reads elsewhere than where pages were read
// ahead: they are dropped, and every answer is the plain one.
func TestReadaheadOtherPosition(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t)
	p := effect.Handle(ctx, s)
	plain := withoutReadahead(t, s)
	appendSpread(t, p, 6000)

	readPage(t, p, 1, 1000, nil) // reads 1001.. and 2001.. ahead
	waitIdle(t, s)
	for _, r := range []struct {
		from  uint64
		limit int
	}{
		{2501, 1000}, // elsewhere: drops them, reads 3501.. ahead
		{1001, 1000}, // where the first were, but they were dropped
		{2001, 500},  // where a page is read ahead, with another limit
		{2501, 500},  // where that one ends, with its limit: read ahead
	} {
		_, used := postgres.ReadaheadStats(s)
		got := readPage(t, p, r.from, r.limit, nil)
		assert.Equal(t, readPage(t, plain, r.from, r.limit, nil), got, "from %d limit %d", r.from, r.limit)
		_, used2 := postgres.ReadaheadStats(s)
		if r.from == 2501 && r.limit == 500 {
			assert.Equal(t, used+1, used2, "from %d limit %d: answered from readahead", r.from, r.limit)
		} else {
			assert.Equal(t, used, used2, "from %d limit %d: not answered from readahead", r.from, r.limit)
		}
		waitIdle(t, s)
	}
}

// TestReadaheadLimitedStore: a store whose metadata changed reads all
// with filtering, never ahead; and pages read ahead before a metadata
// write are not answered after it.
func TestReadaheadLimitedStore(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t)
	p := effect.Handle(ctx, s)
	plain := withoutReadahead(t, s)
	appendSpread(t, p, 3000)

	readPage(t, p, 1, 1000, nil)
	waitIdle(t, s)
	started, used := postgres.ReadaheadStats(s)
	require.Positive(t, started)
	// s-0 keeps its last 10 events only: most of pages 2 and 3 hide.
	_, err := effect.Perform(plain, ops.StreamMetaWrite{Stream: "s-0", Expect: ops.Any(), Meta: ops.StreamMeta{MaxCount: 10}})
	require.NoError(t, err)
	got := readPage(t, p, 1001, 1000, nil)
	assert.Equal(t, readPage(t, plain, 1001, 1000, nil), got, "the page after the metadata write")
	for _, e := range got.Events {
		require.NotEqual(t, "s-0", e.Stream, "a hidden event of s-0 at %d", e.Pos)
	}

	want := replayAll(t, plain, 500, nil)
	assert.Equal(t, want, replayAll(t, p, 500, nil), "a replay of the limited store")
	var page ops.Page
	assert.Equal(t, want, replayAll(t, p, 500, &page), "a replay of the limited store, lending a page")
	started2, used2 := postgres.ReadaheadStats(s)
	assert.Equal(t, started, started2, "nothing read ahead on a limited store")
	assert.Equal(t, used, used2, "no answer from readahead on a limited store")
}

// TestReadaheadClose closes a store while its reads ahead wait on the
// server (the events table locked by another connection): Close cancels
// them and waits for them, and no goroutine of theirs is left.
func TestReadaheadClose(t *testing.T) {
	ctx := context.Background()
	before := readaheadGoroutines()
	s := mustOpen(t)
	p := effect.Handle(ctx, s)
	appendSpread(t, p, 3000)

	conn, err := pgx.Connect(ctx, testDSN())
	require.NoError(t, err)
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	locked := make(chan struct{})
	var once sync.Once
	postgres.HookReadahead(s, func(ctx context.Context, from uint64) {
		once.Do(func() {
			_, err := tx.Exec(ctx, "LOCK TABLE "+pgx.Identifier{s.Schema(), "events"}.Sanitize()+" IN ACCESS EXCLUSIVE MODE")
			assert.NoError(t, err)
			close(locked)
		})
	})
	readPage(t, p, 1, 1000, nil)
	<-locked
	time.Sleep(50 * time.Millisecond) // the reads ahead reach the lock
	require.False(t, postgres.ReadaheadIdle(s), "reads ahead wait on the lock")
	require.Equal(t, before+2, readaheadGoroutines(), "two pages are read ahead")

	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end the reads ahead")
	}
	assert.Equal(t, before, readaheadGoroutines(), "no read ahead is left after Close")
	assert.True(t, postgres.ReadaheadIdle(s))
	_, err = effect.Perform(p, ops.ReadAll{From: 1001, Limit: 1000})
	assert.ErrorIs(t, err, ops.ErrClosed)
}

// TestReadaheadConcurrentReplays runs replays at once on one store, each
// a different path through the log: they drop each other's pages read
// ahead, and each gets the plain answer (run with -race).
func TestReadaheadConcurrentReplays(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t)
	p := effect.Handle(ctx, s)
	appendSpread(t, p, 5000)
	plain := withoutReadahead(t, s)
	wants := map[int][]ops.ReadAllResult{}
	for _, limit := range []int{300, 700, 1000} {
		wants[limit] = replayAll(t, plain, limit, nil)
	}
	var wg sync.WaitGroup
	for i, limit := range []int{300, 700, 1000, 300, 700, 1000} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var page *ops.Page
			if i%2 == 1 {
				page = new(ops.Page)
			}
			for range 3 {
				got, err := replay(p, limit, page)
				if assert.NoError(t, err, "replay %d", i) {
					assert.Equal(t, wants[limit], got, "replay %d, limit %d", i, limit)
				}
			}
		}()
	}
	wg.Wait()
}
