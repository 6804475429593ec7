package file

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// ckListCheck wants st's list of streams to capture (state.ck) to hold
// every stream the stream runs do not hold whole, each once, and x.ck
// set exactly on the streams it holds.
func ckListCheck(t *testing.T, st *state) {
	t.Helper()
	if !st.ckKnown {
		return
	}
	in := make(map[string]bool, len(st.ck))
	for _, c := range st.ck {
		require.False(t, in[c.name], "stream %q listed twice", c.name)
		in[c.name] = true
		require.Same(t, st.streams[c.name], c.x, c.name)
	}
	for name, x := range st.streams {
		require.Equal(t, in[name], x.ck, name)
		if !x.whole() {
			require.True(t, in[name], "stream %q is not whole in the runs but not listed", name)
		}
	}
}

func ckViewNames(v *ckptView) []string {
	var out []string
	for _, x := range v.streams {
		out = append(out, x.name)
	}
	slices.Sort(out)
	return out
}

// A checkpoint after appends to 16 of many streams whose records lie in
// index files and whose heads lie in the stream runs captures those 16
// (and the stream with records in the active segment), not every
// stream; a capture whose checkpoint is not written keeps them listed.
func TestCkptCapturesChangedStreams(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	opts := Options{CheckpointBytes: -1, SegmentSize: 64 << 10}
	e := newEnv(t, opts)
	heads := map[string]uint64{}
	for i := 0; i < n; i += 500 {
		var parts []ops.Append
		for j := i; j < min(i+500, n); j++ {
			name := fmt.Sprintf("stream-%07d", j)
			parts = append(parts, ops.Append{Stream: name, Events: []ops.EventData{{Type: "t", Data: []byte("x")}}})
			heads[name]++
		}
		_, err := perform(e, ops.Commit{Appends: parts})
		require.NoError(t, err)
	}
	// Records of one stream past the segment the streams end in, so that
	// the checkpoint indexes theirs.
	for range 2 * (64 << 10) / 256 {
		_, err := perform(e, ops.Append{Stream: "filler", Events: []ops.EventData{{Type: "t", Data: make([]byte, 200)}}})
		require.NoError(t, err)
		heads["filler"]++
	}
	e.reopen(opts)
	require.NoError(t, e.s.checkpoint(e.p())) // the first capture walks every stream
	ckListCheck(t, e.s.st)

	var want []string
	for j := range 16 {
		name := fmt.Sprintf("stream-%07d", j*977%n)
		_, err := perform(e, ops.Append{Stream: name, Events: []ops.EventData{{Type: "t", Data: []byte("y")}}})
		require.NoError(t, err)
		heads[name]++
		want = append(want, name)
	}
	want = append(want, "filler") // its records lie in the active segment
	slices.Sort(want)

	v := e.s.captureCheckpoint(true)
	require.NotNil(t, v)
	// Not written: the next capture captures them again.
	e.s.ckMu.Lock()
	e.s.ckptBusy = false
	e.s.ckMu.Unlock()
	require.Equal(t, want, ckViewNames(v))
	ckListCheck(t, e.s.st)
	_, err := perform(e, ops.Append{Stream: "stream-0000001", Events: []ops.EventData{{Type: "t", Data: []byte("z")}}})
	require.NoError(t, err)
	heads["stream-0000001"]++
	want = append(want, "stream-0000001")
	slices.Sort(want)
	v = e.s.captureCheckpoint(true)
	require.NotNil(t, v)
	require.NoError(t, e.s.writeCheckpoint(e.p(), v))
	require.Equal(t, want, ckViewNames(v))
	ckListCheck(t, e.s.st)

	// The 17's records lie in the active segment: in the checkpoint's
	// section, not in a run, and captured until a checkpoint indexes
	// them and writes them into a run.
	for range 2 * (64 << 10) / 256 {
		_, err := perform(e, ops.Append{Stream: "filler", Events: []ops.EventData{{Type: "t", Data: make([]byte, 200)}}})
		require.NoError(t, err)
		heads["filler"]++
	}
	v = e.s.captureCheckpoint(true)
	require.NotNil(t, v)
	require.NoError(t, e.s.writeCheckpoint(e.p(), v))
	require.Equal(t, want, ckViewNames(v))
	// Then only the stream with records in the active segment.
	_, err = perform(e, ops.Append{Stream: "filler", Events: []ops.EventData{{Type: "t", Data: []byte("z")}}})
	require.NoError(t, err)
	heads["filler"]++
	v = e.s.captureCheckpoint(true)
	require.NotNil(t, v)
	require.NoError(t, e.s.writeCheckpoint(e.p(), v))
	require.Equal(t, []string{"filler"}, ckViewNames(v))
	ckListCheck(t, e.s.st)

	e.reopen(opts)
	check := map[string]uint64{"filler": heads["filler"]}
	for _, name := range want {
		check[name] = heads[name]
	}
	for j := 0; j < n; j += 997 {
		name := fmt.Sprintf("stream-%07d", j)
		check[name] = heads[name]
	}
	for name, head := range check {
		res, err := effect.Perform(e.sp(), ops.Read{Stream: name, Limit: int(head) + 1})
		require.NoError(t, err, name)
		require.Equal(t, int(head), len(res.Events), name)
	}
	e.s.mu.RLock()
	require.Equal(t, n+1, e.s.st.streamCount(), "memory's streams and the runs' alone")
	e.s.mu.RUnlock()
}

// Checkpoints captured beside commits to new and old streams keep the
// list of streams to capture whole (every stream the runs do not hold
// whole is in it), and the store reopens with every head.
func TestCkptCaptureBesideCommits(t *testing.T) {
	h := &platform.OS{}
	bg := effect.HandlerFunc(func(_ *effect.P, e effect.Effect) (any, error) {
		return effect.Handle(t.Context(), h).Send(e)
	})
	opts := Options{CheckpointBytes: 2 << 10, SegmentSize: 64 << 10, Background: bg}
	e := newEnv(t, opts)
	const writers, per, streams = 4, 200, 80
	var mu sync.Mutex
	heads := map[string]uint64{}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 2))
			for i := range per {
				name := fmt.Sprintf("s%03d", rng.IntN(streams))
				if i%4 == 0 {
					name = fmt.Sprintf("w%d-%03d", w, i) // a new stream
				}
				if _, err := perform(e, ops.Append{Stream: name, Events: []ops.EventData{{Type: "t", Data: fmt.Appendf(nil, "%s/%d", name, i)}}}); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				heads[name]++
				mu.Unlock()
			}
		}()
	}
	for range 30 {
		time.Sleep(3 * time.Millisecond)
		e.s.ckMu.Lock()
		e.s.waitCheckpointIdle()
		e.s.mu.Lock()
		ckListCheck(t, e.s.st)
		e.s.mu.Unlock()
		e.s.ckMu.Unlock()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	e.s.ckMu.Lock()
	e.s.waitCheckpointIdle()
	e.s.ckMu.Unlock()
	require.Positive(t, e.s.Stats().Checkpoints)
	require.NoError(t, e.s.checkpoint(e.p()))
	e.s.mu.Lock()
	ckListCheck(t, e.s.st)
	e.s.mu.Unlock()
	e.reopen(Options{})
	require.NotNil(t, e.s.st.stRuns)
	streamRunCheckP(t, e.sp(), heads, "after the reopen")
}
