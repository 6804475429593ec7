package file

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/mock"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// After a durable checkpoint the streams the stream runs hold whole
// leave memory (but those with metadata), and off the capture's list; a
// stream dropped and appended to comes back into memory from its run
// head, listed again to capture; a reopen sees every stream.
func TestStreamsLeaveMemoryAfterCheckpoint(t *testing.T) {
	e := newEnv(t, streamLookupOpts)
	heads := map[string]uint64{}
	for i := range 50 {
		n := fmt.Sprintf("s%02d", i)
		for range 1 + i%2 {
			must(t, e, ops.Append{Stream: n, Events: []ops.EventData{{Type: "t", Data: []byte(n + "/")}}})
			heads[n]++
		}
	}
	must(t, e, ops.StreamMetaWrite{Stream: "s03", Meta: ops.StreamMeta{MaxCount: 5}})
	fillSegment(t, e)
	require.NoError(t, e.s.checkpoint(e.p()))
	// The first checkpoint's drop is applied by the next publish.
	must(t, e, ops.Append{Stream: "s10", Events: []ops.EventData{{Type: "t", Data: []byte("s10/")}}})
	heads["s10"]++
	fillSegment(t, e)
	require.NoError(t, e.s.checkpoint(e.p()))
	must(t, e, ops.Append{Stream: "s11", Events: []ops.EventData{{Type: "t", Data: []byte("s11/")}}})
	heads["s11"]++

	e.s.mu.Lock()
	st := e.s.st
	ckListCheck(t, st)
	for name, x := range st.streams {
		_, meta := st.ret.meta[name]
		require.True(t, !x.whole() || meta, "stream %s is whole in the runs but in memory", name)
	}
	require.NotNil(t, st.streams["s03"], "a stream with metadata stays")
	require.Nil(t, st.streams["s20"], "a stream the runs hold whole left")
	require.NotNil(t, st.streams["s11"], "a stream appended to since came back")
	require.Equal(t, uint64(3), st.streams["s11"].head, "from its run head")
	require.Equal(t, 51, st.streamCount())
	e.s.mu.Unlock()

	check := func(what string) {
		t.Helper()
		for n, h := range heads {
			if n == "zz-fill" {
				continue
			}
			r := must(t, e, ops.Read{Stream: n})
			require.Len(t, r.Events, int(min(h, map[bool]uint64{true: 5, false: h}[n == "s03"])), "%s: %s", what, n)
			for _, ev := range r.Events {
				require.Equal(t, n+"/", string(ev.Data), "%s: %s", what, n)
			}
			require.Equal(t, h, must(t, e, ops.Head{Stream: n}), "%s: %s", what, n)
		}
		require.Equal(t, 51, e.s.Stats().Streams, what)
		require.Len(t, must(t, e, ops.Streams{Limit: 100}).Streams, 51, what)
	}
	heads["zz-fill"] = 0
	check("dropped")
	e.reopen(streamLookupOpts)
	check("reopened")
	rep, err := Verify(e.p(), e.dir)
	require.NoError(t, err)
	require.Empty(t, rep.Skipped)
	require.Equal(t, 51, rep.Streams)
}

// Commits to streams old and new, reads, listings and stream counts
// beside checkpoints written in the background, each dropping from
// memory the streams its runs hold whole: every answer is one the
// commits made, nothing is lost, and a reopen agrees (run with -race).
func TestStreamsDropBesideCommitsAndReads(t *testing.T) {
	opts := streamLookupOpts
	opts.CheckpointBytes = 4 << 10
	e := newEnv(t, opts)
	opts.Background = sharedBackground(e)
	e.reopen(opts)
	const writers, per, streams = 3, 150, 60
	var mu sync.Mutex
	heads := map[string]uint64{}
	var wg sync.WaitGroup
	var stop atomic.Bool
	errs := make(chan error, writers+2)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 3))
			for i := range per {
				name := fmt.Sprintf("s%03d", rng.IntN(streams))
				if i%5 == 0 {
					name = fmt.Sprintf("w%d-%03d", w, i) // a new stream
				}
				data := make([]byte, 200)
				copy(data, name+"/")
				if _, err := perform(e, ops.Append{Stream: name, Events: []ops.EventData{{Type: "t", Data: data}}}); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				heads[name]++
				mu.Unlock()
			}
		}()
	}
	var readers sync.WaitGroup
	readers.Add(2)
	go func() { // heads and reads never below what the commits made
		defer readers.Done()
		rng := rand.New(rand.NewPCG(9, 9))
		for !stop.Load() {
			name := fmt.Sprintf("s%03d", rng.IntN(streams))
			mu.Lock()
			want := heads[name]
			mu.Unlock()
			r, err := perform(e, ops.Read{Stream: name})
			if err == nil && uint64(len(r.Events)) < want {
				err = fmt.Errorf("read %s: %d events, %d committed", name, len(r.Events), want)
			}
			for _, ev := range r.Events {
				if err == nil && !strings.HasPrefix(string(ev.Data), name+"/") {
					err = fmt.Errorf("read %s: event of another stream", name)
				}
			}
			if err != nil {
				errs <- err
				return
			}
		}
	}()
	go func() { // listings in pages: sorted, each stream once, none lost
		defer readers.Done()
		for !stop.Load() {
			mu.Lock()
			want := len(heads)
			mu.Unlock()
			var got []string
			after := ""
			for {
				r, err := perform(e, ops.Streams{Limit: 17, After: after})
				if err != nil {
					errs <- err
					return
				}
				for _, x := range r.Streams {
					if len(got) > 0 && x.Name <= got[len(got)-1] {
						errs <- fmt.Errorf("listing: %q after %q", x.Name, got[len(got)-1])
						return
					}
					got = append(got, x.Name)
				}
				if !r.More {
					break
				}
				after = r.Streams[len(r.Streams)-1].Name
			}
			if len(got) < want || e.s.Stats().Streams < want {
				errs <- fmt.Errorf("listing: %d streams (count %d), %d committed", len(got), e.s.Stats().Streams, want)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	wg.Wait()
	stop.Store(true)
	readers.Wait()
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
	out := e.s.st.stOnly
	e.s.mu.Unlock()
	require.Positive(t, out, "streams left memory")
	require.Equal(t, len(heads), e.s.Stats().Streams)
	for name, h := range heads {
		require.Equal(t, h, must(t, e, ops.Head{Stream: name}), name)
	}
	e.reopen(streamLookupOpts)
	require.Equal(t, len(heads), e.s.Stats().Streams)
	for name, h := range heads {
		r := must(t, e, ops.Read{Stream: name})
		require.Len(t, r.Events, int(h), name)
	}
}

// BenchmarkStreamHeapLive measures what a store that has written its
// streams keeps in memory per stream, with no reopen: PERSIST_HEAP_STREAMS
// streams (default 100,000) of one event each on the mock platform, in
// small segments, then appends to another stream until two more
// checkpoints are written (the second's publish applies the first's
// drop). It reports the state's heap per stream as BenchmarkStreamHeap
// does (less the location entries still in memory), and the streams in
// memory.
func BenchmarkStreamHeapLive(b *testing.B) {
	n := envInt("PERSIST_HEAP_STREAMS", 100_000)
	opts := Options{SegmentSize: 1 << 20, CheckpointBytes: 1 << 20}
	var perStream, inMem float64
	for b.Loop() {
		fs := mock.New(1, mock.Options{})
		p := effect.Handle(context.Background(), fs)
		s, err := Open(p, "/data", opts)
		if err != nil {
			b.Fatal(err)
		}
		sp := effect.Handle(context.Background(), s, fs)
		ev := []ops.EventData{{Type: "t", Data: []byte("x")}}
		for i := range n {
			if _, err := effect.Perform(sp, ops.Append{Stream: "stream-" + strconv.Itoa(i), Events: ev}); err != nil {
				b.Fatal(err)
			}
		}
		big := []ops.EventData{{Type: "t", Data: make([]byte, 64<<10)}}
		for start := s.Stats().Checkpoints; s.Stats().Checkpoints < start+2; {
			if _, err := effect.Perform(sp, ops.Append{Stream: "filler", Events: big}); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := effect.Perform(sp, ops.Append{Stream: "filler", Events: ev}); err != nil {
			b.Fatal(err)
		}
		var live, dropped runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&live)
		s.mu.Lock()
		locBytes := s.st.positions.bytes()
		for _, x := range s.st.streams {
			locBytes += x.chunks.bytes()
		}
		inMem = float64(len(s.st.streams))
		s.st = newState()
		s.mu.Unlock()
		runtime.GC()
		runtime.ReadMemStats(&dropped)
		perStream = (float64(live.HeapAlloc) - float64(dropped.HeapAlloc) - float64(locBytes)) / float64(n)
		s.failed = errors.New("measured") // no checkpoint of the dropped state
		_ = s.Close(p)
		runtime.KeepAlive(fs)
	}
	b.ReportMetric(perStream, "B/stream")
	b.ReportMetric(inMem, "streams-in-memory")
}
