package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/postgres"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// skipped returns the positions a follower passed over: seen is every
// position it was given, in the order given; a follower of a gap-free log
// is given 1, 2, 3, … and nothing else. Anything out of that order is a
// position it skipped (and saw later, or never).
func skipped(seen []uint64) []uint64 {
	var out []uint64
	next := uint64(1)
	for _, p := range seen {
		for ; next < p; next++ {
			out = append(out, next)
		}
		if p == next {
			next++
		}
	}
	return out
}

func TestSkippedChecker(t *testing.T) {
	assert.Empty(t, skipped([]uint64{1, 2, 3}))
	assert.Equal(t, []uint64{2}, skipped([]uint64{1, 3, 4}))
	assert.Equal(t, []uint64{1, 2}, skipped([]uint64{3}))
}

// TestNaiveSequenceSkips shows the high-water-mark problem on the design
// this package does not use, with the same checker as the test below, so
// that the checker is known to catch a skip: positions from a sequence,
// a reader that reads past its last position. A writer that took position
// 1 commits after one that took position 2, and the reader, having seen
// 2, never reads 1.
func TestNaiveSequenceSkips(t *testing.T) {
	t.Parallel()
	schema := freshSchema(t)
	ctx := context.Background()
	q := pgx.Identifier{schema}.Sanitize()
	execSQL(t, "CREATE SCHEMA "+q)
	execSQL(t, "CREATE TABLE "+q+".log (pos bigserial PRIMARY KEY, data text)")
	conn := func() *pgx.Conn {
		c, err := pgx.Connect(ctx, testDSN())
		require.NoError(t, err)
		t.Cleanup(func() { c.Close(ctx) })
		return c
	}
	slow, fast, reader := conn(), conn(), conn()
	txSlow, err := slow.Begin(ctx)
	require.NoError(t, err)
	_, err = txSlow.Exec(ctx, "INSERT INTO "+q+".log (data) VALUES ('slow')")
	require.NoError(t, err)
	_, err = fast.Exec(ctx, "INSERT INTO "+q+".log (data) VALUES ('fast')")
	require.NoError(t, err)
	var seen []uint64
	follow := func() {
		last := uint64(0)
		if len(seen) > 0 {
			last = seen[len(seen)-1]
		}
		rows, err := reader.Query(ctx, "SELECT pos FROM "+q+".log WHERE pos > $1 ORDER BY pos", int64(last))
		require.NoError(t, err)
		ps, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		require.NoError(t, err)
		for _, p := range ps {
			seen = append(seen, uint64(p))
		}
	}
	follow()
	require.NoError(t, txSlow.Commit(ctx))
	follow()
	assert.Equal(t, []uint64{1}, skipped(seen), "the naive design skips position 1")
}

// TestFollowersNeverSkip runs 64 writers in four processes (two of them
// with group commit off, so each holds many transactions in flight) and
// four followers of the global log in this one, each recording every
// position it is given. No follower may skip a position, and every
// acknowledged append must be in the log where it was acknowledged.
func TestFollowersNeverSkip(t *testing.T) {
	t.Parallel()
	schema := freshSchema(t)
	ctx := context.Background()
	s, err := postgres.Open(ctx, testDSN(), postgres.WithSchema(schema))
	require.NoError(t, err)
	defer s.Close()

	const procs, perProc, appends = 4, 16, 20
	var children []*child
	for i := range procs {
		env := map[string]string{
			"SCHEMA": schema, "WRITERS": fmt.Sprint(perProc), "APPENDS": fmt.Sprint(appends),
			"PREFIX": fmt.Sprintf("p%d", i), "NOGROUP": fmt.Sprint(i % 2),
		}
		children = append(children, startChild(t, "writer", env))
	}

	var stop atomic.Bool
	const followers = 4
	seen := make([][]uint64, followers)
	var wg sync.WaitGroup
	for f := range followers {
		wg.Go(func() {
			fs, err := postgres.Open(ctx, testDSN(), postgres.WithSchema(schema), postgres.WithMaxConns(2))
			if !assert.NoError(t, err) {
				return
			}
			defer fs.Close()
			p := effect.Handle(ctx, fs)
			var last uint64
			for {
				done := stop.Load()
				// Small pages, so followers read often while writers
				// write.
				page, err := effect.Perform(p, ops.ReadAll{From: last + 1, Limit: 1 + f*7})
				if !assert.NoError(t, err) {
					return
				}
				for _, ev := range page.Events {
					seen[f] = append(seen[f], ev.Pos)
					last = ev.Pos
				}
				if done && len(page.Events) == 0 && last == page.Head {
					return
				}
			}
		})
	}
	var acks []ack
	for _, c := range children {
		acks = append(acks, c.wait(t)...)
	}
	stop.Store(true)
	wg.Wait()

	p := effect.Handle(ctx, s)
	head, err := effect.Perform(p, ops.Wait{After: 0, Timeout: time.Second})
	require.NoError(t, err)
	total := head.Head
	require.Equal(t, procs*perProc*appends, len(acks), "acknowledged appends")
	var events uint64
	for _, a := range acks {
		events += a.lastPos - a.firstPos + 1
		page, err := effect.Perform(p, ops.ReadAll{From: a.firstPos, Limit: int(a.lastPos - a.firstPos + 1)})
		require.NoError(t, err)
		if assert.Len(t, page.Events, int(a.lastPos-a.firstPos+1)) {
			assert.Equal(t, a.stream, page.Events[0].Stream, "stream at position %d", a.firstPos)
			assert.Equal(t, a.head, page.Events[len(page.Events)-1].Seq, "seq at position %d", a.lastPos)
		}
	}
	assert.Equal(t, events, total, "events in the log")
	for f, ps := range seen {
		assert.Empty(t, skipped(ps), "follower %d skipped positions", f)
		assert.Equal(t, int(total), len(ps), "positions follower %d was given", f)
	}
	t.Logf("%d writers in %d processes, %d appends, %d events; %d followers saw every position in order", procs*perProc, procs, len(acks), total, followers)
}

// TestExpectationsAcrossProcesses has 24 writers in three processes append
// to one stream, each expecting the head it last saw and retrying on a
// conflict: every acknowledged append must have its own seqs, and the
// stream must hold exactly the acknowledged events, in one unbroken run.
func TestExpectationsAcrossProcesses(t *testing.T) {
	t.Parallel()
	schema := freshSchema(t)
	ctx := context.Background()
	s, err := postgres.Open(ctx, testDSN(), postgres.WithSchema(schema))
	require.NoError(t, err)
	defer s.Close()
	const procs, perProc, appends = 3, 8, 15
	var children []*child
	for i := range procs {
		children = append(children, startChild(t, "writer", map[string]string{
			"SCHEMA": schema, "WRITERS": fmt.Sprint(perProc), "APPENDS": fmt.Sprint(appends),
			"PREFIX": "shared", "SHARED": "1", "NOGROUP": fmt.Sprint(i % 2),
		}))
	}
	var acks []ack
	for _, c := range children {
		acks = append(acks, c.wait(t)...)
	}
	require.Len(t, acks, procs*perProc*appends)
	owner := map[uint64]int{}
	var events uint64
	for i, a := range acks {
		n := a.lastPos - a.firstPos + 1
		events += n
		for seq := a.head - n + 1; seq <= a.head; seq++ {
			if j, ok := owner[seq]; ok {
				t.Fatalf("seq %d acknowledged to two appends: %+v and %+v", seq, acks[j], a)
			}
			owner[seq] = i
		}
	}
	p := effect.Handle(ctx, s)
	head, err := effect.Perform(p, ops.Head{Stream: "shared"})
	require.NoError(t, err)
	assert.Equal(t, events, head, "the stream holds exactly the acknowledged events")
	for seq := uint64(1); seq <= head; seq++ {
		require.Contains(t, owner, seq, "seq %d belongs to no acknowledged append", seq)
	}
}
