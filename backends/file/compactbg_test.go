package file

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

type bgReport struct {
	res CompactResult
	err error
}

// bgOptions are the options of a store that compacts by itself, its
// reports sent on the channel returned.
func bgOptions(e *env, every time.Duration, h effect.Handler) (Options, chan bgReport) {
	ch := make(chan bgReport, 16)
	if h == nil {
		h = e.os
	}
	return Options{
		SegmentSize:     64 << 10,
		CompactFraction: 0.5,
		CompactInterval: every,
		Background:      h,
		CompactReport:   func(r CompactResult, err error) { ch <- bgReport{r, err} },
	}, ch
}

func waitReport(t *testing.T, ch chan bgReport) bgReport {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(60 * time.Second):
		t.Fatal("no background compaction ran")
		return bgReport{}
	}
}

func TestCompactIntervalOptions(t *testing.T) {
	e := newEnv(t, Options{})
	for _, c := range []struct {
		opts Options
		want string
	}{
		{Options{CompactInterval: -time.Second, CompactFraction: 0.5, Background: e.os}, "CompactInterval -1s is negative"},
		{Options{CompactInterval: time.Second, Background: e.os}, "CompactInterval needs CompactFraction"},
		{Options{CompactInterval: time.Second, CompactFraction: 0.5}, "CompactInterval needs Background"},
	} {
		_, err := Open(e.p(), t.TempDir(), c.opts)
		assert.ErrorContains(t, err, c.want)
	}
}

// A store whose limits hide most of its log is compacted on the interval,
// with no call, and answers as before.
func TestCompactIntervalRunsWithoutACall(t *testing.T) {
	e := newEnv(t, Options{SegmentSize: 64 << 10})
	compactFixture(t, e)
	before := readCompactView(t, e)
	opts, ch := bgOptions(e, 5*time.Millisecond, nil)
	e.reopen(opts)
	r := waitReport(t, ch)
	require.NoError(t, r.err)
	assert.Greater(t, r.res.Events, int64(300))
	assert.Greater(t, r.res.Bytes, int64(0))
	st := e.s.Stats()
	assert.Equal(t, uint64(1), st.Compactions)
	assert.NoError(t, st.CompactFailure)
	assert.Equal(t, before, readCompactView(t, e))
	select {
	case r := <-ch:
		t.Fatalf("compacted again with no growth: %+v", r)
	case <-time.After(50 * time.Millisecond):
	}
	e.reopen(Options{SegmentSize: 64 << 10})
	assert.Equal(t, before, readCompactView(t, e))
}

// Commits that grow the log by segments wake the background compaction
// long before its interval.
func TestCompactIntervalWokenByCommits(t *testing.T) {
	e := newEnv(t, Options{SegmentSize: 64 << 10})
	opts, ch := bgOptions(e, time.Hour, nil)
	e.reopen(opts)
	must(t, e, ops.StreamMetaWrite{Stream: "s", Meta: ops.StreamMeta{MaxCount: 1}})
	big := bytes.Repeat([]byte("c"), 4<<10)
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 40 {
				_, err := perform(e, ops.Append{Stream: "s", Events: []ops.EventData{{Type: "t", Data: big}}})
				assert.NoError(t, err)
			}
			// t keeps its events: 10 of s's 80 leave the hidden fraction
			// above the policy's at every commit.
			for range 5 {
				_, err := perform(e, ops.Append{Stream: []string{"t", "u"}[w], Events: evs("kept")})
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	r := waitReport(t, ch)
	require.NoError(t, r.err)
	assert.Greater(t, r.res.Events, int64(0))
	got := must(t, e, ops.Read{Stream: "s"}).Events
	require.Len(t, got, 1)
	assert.Equal(t, uint64(80), got[0].Seq)
	assert.Len(t, must(t, e, ops.Read{Stream: "t"}).Events, 5)
}

// slowHandler answers on the OS after a pause, and says when the first
// effect reached it.
type slowHandler struct {
	e       *env
	started chan struct{}
	once    sync.Once
	n       atomic.Int64
}

func (h *slowHandler) Handle(p *effect.P, eff effect.Effect) (any, error) {
	h.once.Do(func() { close(h.started) })
	h.n.Add(1)
	time.Sleep(200 * time.Microsecond)
	return h.e.os.Handle(p, eff)
}

// Close during a background compaction waits for it to stop at a segment
// and leaves a store that opens, verifies and answers as before.
func TestCloseDuringBackgroundCompaction(t *testing.T) {
	e := newEnv(t, Options{SegmentSize: 64 << 10})
	compactFixture(t, e)
	before := readCompactView(t, e)
	h := &slowHandler{e: e, started: make(chan struct{})}
	opts, _ := bgOptions(e, time.Millisecond, h)
	e.reopen(opts)
	<-h.started
	for h.n.Load() < 60 {
		time.Sleep(time.Millisecond)
	}
	require.NoError(t, e.s.Close(e.p()))
	e.s = nil
	n := h.n.Load()
	time.Sleep(20 * time.Millisecond)
	assert.Equal(t, n, h.n.Load(), "the background compaction performed IO after Close")
	_, err := Verify(e.p(), e.dir)
	require.NoError(t, err, "the store a cut compaction left verifies")
	e.open(Options{SegmentSize: 64 << 10})
	assert.Equal(t, before, readCompactView(t, e))
	res, err := e.s.Compact(e.p(), CompactOptions{})
	require.NoError(t, err)
	t.Logf("background compaction made %d effects before Close; Compact after took %d events", n, res.Events)
	assert.Equal(t, before, readCompactView(t, e))
}

// OpenDir runs the background compaction on the operating system.
func TestDBCompactInterval(t *testing.T) {
	ctx := context.Background()
	ch := make(chan bgReport, 4)
	db, err := OpenDir(ctx, t.TempDir()+"/data", Options{
		SegmentSize: 64 << 10, CompactFraction: 0.5, CompactInterval: time.Hour,
		CompactReport: func(r CompactResult, err error) { ch <- bgReport{r, err} },
	})
	require.NoError(t, err)
	defer db.Close()
	p := effect.Handle(ctx, db)
	_, err = effect.Perform(p, ops.StreamMetaWrite{Stream: "s", Meta: ops.StreamMeta{MaxCount: 1}})
	require.NoError(t, err)
	big := bytes.Repeat([]byte("d"), 4<<10)
	for range 40 {
		_, err := effect.Perform(p, ops.Append{Stream: "s", Events: []ops.EventData{{Type: "t", Data: big}}})
		require.NoError(t, err)
	}
	r := waitReport(t, ch)
	require.NoError(t, r.err)
	assert.Greater(t, r.res.Events, int64(0))
	assert.Equal(t, uint64(1), db.Stats().Compactions)
}
