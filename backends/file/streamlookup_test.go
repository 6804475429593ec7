package file

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
)

// streamSeen is what a store answers of its streams: every head and
// event, the listing whole and in pages, the counts of Stats and Stat.
type streamSeen struct {
	heads  map[string]uint64
	events map[string][]string
	list   []ops.StreamInfo
	pages  []ops.StreamInfo
	prefix []ops.StreamInfo
	all    []ops.StreamInfo
	meta   map[string]ops.StreamMetaResult
	count  int
	stat   ops.StatResult
}

func seeStreams(t *testing.T, e *env, names []string) streamSeen {
	t.Helper()
	v := streamSeen{heads: map[string]uint64{}, events: map[string][]string{}, meta: map[string]ops.StreamMetaResult{}}
	for _, n := range names {
		v.heads[n] = must(t, e, ops.Head{Stream: n})
		r := must(t, e, ops.Read{Stream: n})
		for _, ev := range r.Events {
			v.events[n] = append(v.events[n], fmt.Sprintf("%d %s %s", ev.Seq, ev.ID, ev.Data))
		}
		v.meta[n] = must(t, e, ops.StreamMetaRead{Stream: n})
	}
	v.list = must(t, e, ops.Streams{Limit: 1000}).Streams
	after := ""
	for {
		r := must(t, e, ops.Streams{Limit: 7, After: after})
		v.pages = append(v.pages, r.Streams...)
		if !r.More {
			break
		}
		after = r.Streams[len(r.Streams)-1].Name
	}
	v.prefix = must(t, e, ops.Streams{Prefix: "a1", Limit: 1000}).Streams
	v.all = must(t, e, ops.Streams{Deleted: true, Limit: 1000}).Streams
	v.count = e.s.Stats().Streams
	v.stat = must(t, e, ops.Stat{})
	v.stat.BytesReclaimable, v.stat.BytesStored = 0, 0
	return v
}

// streamLookupOpts roll segments soon, for the streams to lie in index
// files (and so whole in the runs) once a checkpoint indexes them.
var streamLookupOpts = Options{CheckpointBytes: -1, SegmentSize: 64 << 10}

// fillSegment appends to stream zz-fill until the segments of the
// appends before are sealed.
func fillSegment(t *testing.T, e *env) {
	t.Helper()
	for range 5 {
		must(t, e, ops.Append{Stream: "zz-fill", Events: []ops.EventData{{Type: "t", Data: make([]byte, 30<<10)}}})
	}
}

// dropWhole drops the streams the runs hold whole from e's memory, as a
// checkpoint does once durable, and gives how many it dropped.
func dropWholeOf(e *env) int {
	e.s.mu.Lock()
	defer e.s.mu.Unlock()
	return e.s.st.dropWhole()
}

// A stream the stream runs alone hold, not memory, is the same to every
// reader and writer as one in memory: heads, reads, listings in pages
// and by prefix, metadata, counts, a commit's expected version, a retry
// of an append its IDs name, a wait; appended to, it comes back into
// memory from its run head, and a reopen sees it all.
func TestStreamsFromRunsAsInMemory(t *testing.T) {
	e := newEnv(t, streamLookupOpts)
	var names []string
	ids := map[string]uuid.UUID{}
	for i := range 40 {
		n := fmt.Sprintf("a%02d", i)
		names = append(names, n)
		for j := range 1 + i%3 {
			id := uuid.New()
			ids[n] = id
			must(t, e, ops.Append{Stream: n, Events: []ops.EventData{{ID: id, Type: "t", Data: fmt.Appendf(nil, "%s/%d", n, j)}}})
		}
	}
	must(t, e, ops.StreamMetaWrite{Stream: "a05", Meta: ops.StreamMeta{MaxCount: 1}})
	must(t, e, ops.StreamDelete{Stream: "a07"})
	must(t, e, ops.StreamMetaWrite{Stream: "z-meta-only", Meta: ops.StreamMeta{MaxCount: 2}})
	names = append(names, "z-meta-only", "absent", "zz-fill")
	fillSegment(t, e)
	e.reopen(streamLookupOpts) // Close writes the stream runs
	before := seeStreams(t, e, names)
	dropWholeOf(e)
	require.Equal(t, 38, e.s.st.stOnly, "every stream but those with metadata or in the active segment left memory")
	require.Equal(t, before, seeStreams(t, e, names), "after the drop")

	// A commit's expectations and retries against streams of the runs.
	_, err := perform(e, ops.Append{Stream: "a10", Expect: ops.NoStream(), Events: evs("x")})
	require.ErrorIs(t, err, ops.ErrConflict)
	_, err = perform(e, ops.Append{Stream: "a11", Expect: ops.Exact(2), Events: evs("x")})
	require.ErrorIs(t, err, ops.ErrConflict, "a11's head is 3")
	r := must(t, e, ops.Append{Stream: "a12", Events: []ops.EventData{{ID: ids["a12"], Type: "t", Data: []byte("a12/0")}}})
	require.Equal(t, uint64(1), r.Head, "a retry of a12's last event stores nothing")
	require.Equal(t, 38, e.s.st.stOnly, "refused and retried commits change no stream")
	r = must(t, e, ops.Append{Stream: "a13", Expect: ops.Exact(2), Events: []ops.EventData{{Type: "t", Data: []byte("a13/2")}}})
	require.Equal(t, uint64(3), r.Head)
	w := must(t, e, ops.Wait{Stream: "a14", After: 2, Timeout: time.Millisecond})
	require.True(t, w.Passed)
	require.Equal(t, uint64(3), w.Head)

	e.s.mu.RLock()
	x := e.s.st.streams["a13"]
	e.s.mu.RUnlock()
	require.NotNil(t, x, "appended to, a13 is memory's again")
	require.Equal(t, uint64(3), x.head)
	require.Equal(t, 37, e.s.st.stOnly)
	after := seeStreams(t, e, names)
	require.Equal(t, before.count, after.count)
	require.Equal(t, uint64(3), after.heads["a13"])
	require.Equal(t, "3 ", after.events["a13"][2][:2])

	e.reopen(streamLookupOpts)
	require.Equal(t, after, seeStreams(t, e, names), "reopened")
	dropWholeOf(e)
	require.Equal(t, after, seeStreams(t, e, names), "reopened, dropped")
	// A stream new to memory and the runs.
	must(t, e, ops.Append{Stream: "a-new", Expect: ops.NoStream(), Events: evs("x")})
	require.Equal(t, before.count+1, e.s.Stats().Streams)
}

// A stream run block that does not read is an error of every read that
// takes it, naming the run and the block's offset: never an absent
// stream, never a commit taken against a head of 0.
func TestStreamsFromDamagedRunAreErrors(t *testing.T) {
	opts := streamLookupOpts
	opts.IndexCacheBytes = -1
	e := newEnv(t, opts)
	for i := range 30 {
		must(t, e, ops.Append{Stream: fmt.Sprintf("s%02d", i), Events: evs("x")})
	}
	fillSegment(t, e)
	e.reopen(opts)
	dropWholeOf(e)
	require.Equal(t, 30, e.s.st.stOnly)
	e.s.mu.RLock()
	r := e.s.st.stRuns.newest()
	e.s.mu.RUnlock()
	b, err := os.ReadFile(r.path)
	require.NoError(t, err)
	blk := r.blocks[0]
	b[blk.off+2] ^= 0xff
	require.NoError(t, os.WriteFile(r.path, b, 0o644))

	corrupt := func(err error, what string) {
		t.Helper()
		var ce *CorruptError
		require.True(t, errors.As(err, &ce), "%s: %v", what, err)
		require.Equal(t, filepath.Base(r.path), filepath.Base(ce.File), what)
		require.Equal(t, blk.off, ce.Offset, what)
	}
	_, err = perform(e, ops.Head{Stream: "s00"})
	corrupt(err, "head")
	_, err = perform(e, ops.Read{Stream: "s00"})
	corrupt(err, "read")
	_, err = perform(e, ops.Streams{})
	corrupt(err, "listing")
	_, err = perform(e, ops.Stat{})
	corrupt(err, "stat")
	_, err = perform(e, ops.StreamMetaRead{Stream: "s00"})
	corrupt(err, "metadata")
	_, err = perform(e, ops.Append{Stream: "s00", Expect: ops.NoStream(), Events: evs("x")})
	corrupt(err, "append")
	_, err = perform(e, ops.StreamMetaWrite{Stream: "s00", Meta: ops.StreamMeta{MaxCount: 1}})
	corrupt(err, "metadata write")
	require.Equal(t, 31, e.s.Stats().Streams)
	require.False(t, e.s.Stats().Failed, "a damaged run fails the reads that take it, not the store")
}

// Open reads no head into memory, and counts the streams of a tiered
// set of runs (a run over the first, then folds) as the store holds
// them: each stream once, whichever runs and section hold it.
func TestStreamsCountedAcrossRuns(t *testing.T) {
	rounds := streamRunRounds()
	e := newEnv(t, streamLookupOpts)
	model := map[string]uint64{}
	most := 0
	for i, r := range rounds {
		for _, name := range r {
			must(t, e, ops.Append{Stream: name, Events: []ops.EventData{{Type: "t", Data: fmt.Appendf(nil, "%s/%d", name, i)}}})
			model[name]++
		}
		fillSegment(t, e)
		model["zz-fill"] += 5
		e.reopen(streamLookupOpts)
		what := fmt.Sprintf("round %d", i)
		e.s.mu.RLock()
		runs, mem, only := len(e.s.st.stRuns.runs), len(e.s.st.streams), e.s.st.stOnly
		e.s.mu.RUnlock()
		most = max(most, runs)
		require.Equal(t, len(model), e.s.Stats().Streams, what)
		require.Equal(t, len(model), mem+only, what)
		require.LessOrEqual(t, mem, 1, "%s: only the stream of the active segment in memory (%d runs)", what, runs)
		for name, h := range model {
			require.Equal(t, h, must(t, e, ops.Head{Stream: name}), "%s: %s", what, name)
		}
		require.Len(t, must(t, e, ops.Streams{Limit: 1000}).Streams, len(model), what)
	}
	require.GreaterOrEqual(t, most, 2, "a set of more than one run counted")
}
