package file

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// counter counts the effects that pass through it by name.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) Handle(_ *effect.P, e effect.Effect) (any, error) {
	c.mu.Lock()
	if c.n == nil {
		c.n = make(map[string]int)
	}
	c.n[e.EffectName()]++
	c.mu.Unlock()
	return nil, effect.ErrUnhandled
}

func (c *counter) get(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[name]
}

func TestGroupCommit64Writers(t *testing.T) {
	c := &counter{}
	e := newEnv(t, Options{}, c)
	syncsBefore := c.get(platform.NameFdatasync)
	const writers, each = 64, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := fmt.Sprintf("w%02d", w)
			for i := range each {
				r, err := perform(e, ops.Append{Stream: stream, Expect: ops.Exact(uint64(i)), Events: evs(fmt.Sprint(i))})
				if err != nil {
					errs <- err
					return
				}
				if r.Head != uint64(i+1) {
					errs <- fmt.Errorf("stream %s: head %d after append %d", stream, r.Head, i)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	syncs := c.get(platform.NameFdatasync) - syncsBefore
	t.Logf("%d appends, %d fdatasyncs", writers*each, syncs)
	assert.Less(t, syncs, writers*each, "concurrent appends share fdatasyncs")
	assert.Positive(t, syncs)

	all := must(t, e, ops.ReadAll{Limit: ops.MaxPage})
	require.Len(t, all.Events, writers*each)
	seen := map[string]uint64{}
	for i, ev := range all.Events {
		assert.Equal(t, uint64(i+1), ev.Pos)
		assert.Equal(t, seen[ev.Stream]+1, ev.Seq, "per-stream seqs run on in position order")
		seen[ev.Stream] = ev.Seq
	}
	d := digest(t, e)
	e.reopen(Options{})
	assert.Equal(t, d, digest(t, e))
}

func TestGroupConflictsOneWinner(t *testing.T) {
	e := newEnv(t, Options{})
	const n = 32
	var wins, conflicts atomic.Int32
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := perform(e, ops.Append{Stream: "s", Expect: ops.NoStream(), Events: evs("x")})
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, ops.ErrConflict):
				conflicts.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(1), wins.Load())
	assert.Equal(t, int32(n-1), conflicts.Load())
	assert.Equal(t, uint64(1), must(t, e, ops.Head{Stream: "s"}))
}

// faulty fails the effects named in fail with EIO once armed.
type faulty struct {
	armed atomic.Bool
	fail  string
	seen  atomic.Int32 // effects named fail seen after arming
}

func (f *faulty) Handle(_ *effect.P, e effect.Effect) (any, error) {
	if f.armed.Load() && e.EffectName() == f.fail {
		f.seen.Add(1)
		return nil, &platform.Error{Op: e.EffectName(), Path: "test", Err: syscall.EIO}
	}
	return nil, effect.ErrUnhandled
}

func TestFailStopOnFdatasync(t *testing.T) {
	for _, name := range []string{platform.NameFdatasync, platform.NameWriteAt} {
		t.Run(name, func(t *testing.T) {
			f := &faulty{fail: name}
			e := newEnv(t, Options{}, f)
			must(t, e, ops.Append{Stream: "s", Events: evs("acked")})
			must(t, e, ops.KvPut{Key: "k", Value: []byte("v")})

			f.armed.Store(true)
			var wg sync.WaitGroup
			errs := make([]error, 16)
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = perform(e, ops.Append{Stream: fmt.Sprintf("g%d", i), Events: evs("x")})
				}()
			}
			wg.Wait()
			for _, err := range errs {
				require.Error(t, err)
				assert.ErrorIs(t, err, ErrFailed)
			}
			first := f.seen.Load()
			assert.Positive(t, first)
			assert.True(t, e.s.Stats().Failed)

			// Healed device: the store still refuses writes, and never
			// retries the sync.
			f.armed.Store(false)
			_, err := perform(e, ops.Append{Stream: "s", Events: evs("later")})
			assert.ErrorIs(t, err, ErrFailed)
			assert.ErrorIs(t, err, syscall.EIO, "the first IO error is kept")
			_, err = perform(e, ops.KvPut{Key: "k", Value: []byte("w")})
			assert.ErrorIs(t, err, ErrFailed)

			// Reads serve what was durable; nothing failed is visible.
			rr := must(t, e, ops.Read{Stream: "s"})
			assert.Equal(t, []string{"acked"}, datas(rr.Events))
			assert.Equal(t, uint64(1), must(t, e, ops.ReadAll{}).Head)
			assert.Equal(t, "v", string(must(t, e, ops.KvGet{Key: "k"}).Value))

			// Reopen recovers and accepts appends with fresh LSNs.
			lsn := e.s.Stats().LSN
			e.reopen(Options{})
			assert.GreaterOrEqual(t, e.s.Stats().LSN, lsn)
			r := must(t, e, ops.Append{Stream: "s", Expect: ops.Exists(), Events: evs("new")})
			assert.Greater(t, r.FirstPos, uint64(1))
			rr = must(t, e, ops.Read{Stream: "s"})
			assert.Equal(t, "acked", string(rr.Events[0].Data))
			assert.Equal(t, "new", string(rr.Events[len(rr.Events)-1].Data))
		})
	}
}

func TestFailStopOnRoll(t *testing.T) {
	f := &faulty{fail: platform.NameRename}
	e := newEnv(t, Options{SegmentSize: minSegmentSize}, f)
	f.armed.Store(true)
	var err error
	for i := 0; err == nil && i < 1000; i++ {
		_, err = perform(e, ops.Append{Stream: "s", Events: evs(fmt.Sprintf("%0500d", i))})
	}
	require.ErrorIs(t, err, ErrFailed)
	head := must(t, e, ops.Head{Stream: "s"})
	f.armed.Store(false)
	segs := e.s.Stats().Segments
	e.reopen(Options{SegmentSize: minSegmentSize})
	rep := e.s.Recovery()
	assert.False(t, rep.Rolled, "the failed roll was taken back: the old segment is unsealed again")
	assert.Empty(t, rep.RemovedTmp, "the new segment's file was removed")
	assert.Equal(t, segs, e.s.Stats().Segments)
	assert.Equal(t, head, must(t, e, ops.Head{Stream: "s"}))
	must(t, e, ops.Append{Stream: "s", Events: evs("after")})
	e.reopen(Options{SegmentSize: minSegmentSize})
	assert.Equal(t, head+1, must(t, e, ops.Head{Stream: "s"}))
	_, err = Verify(e.p(), e.dir)
	require.NoError(t, err)
}

func TestConcurrentRetriesAnswerTheOriginal(t *testing.T) {
	e := newEnv(t, Options{})
	must(t, e, ops.Append{Stream: "s", Events: evs("before")})
	batch := []ops.EventData{{ID: uuid.New(), Type: "t", Data: []byte("1")}, {ID: uuid.New(), Type: "t", Data: []byte("2")}}
	const n = 32
	results := make([]ops.AppendResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = perform(e, ops.Append{Stream: "s", Expect: ops.Exact(1), Events: batch})
		}()
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		assert.Equal(t, ops.AppendResult{Stream: "s", FirstSeq: 2, Head: 3, FirstPos: 2, LastPos: 3}, results[i])
	}
	assert.Equal(t, uint64(3), must(t, e, ops.Head{Stream: "s"}), "written once")
}
