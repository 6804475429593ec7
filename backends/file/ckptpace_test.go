package file

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
)

// A checkpoint beside commits reads a sealed segment in windows with its
// pacer called between two: the same ID entries as one read of it, and
// the pacer called before every window but the first.
func TestPacedSegmentScan(t *testing.T) {
	e, _ := idStore(t, 2500)
	st := e.s.st
	require.NotEmpty(t, st.indexed)
	seg := st.indexed[0].seg
	sg := e.s.segs[uint64(seg)]
	require.NotNil(t, sg)
	p := e.p()
	size, err := fileSize(p, sg.path)
	require.NoError(t, err)

	whole, err := e.s.segmentIDs(p, seg, nil, nil)
	require.NoError(t, err)
	require.NotEmpty(t, whole, "the segment's caller IDs")

	const window = 4096
	calls := 0
	ticks := 0
	paced, err := scanSegment(p, e.s.id, sg, true, window, func() { calls++ }, func() { ticks++ })
	require.NoError(t, err)
	// A tick a record: the segment's commits, its header and its seal
	// at most.
	commits := int(paced.commits)
	require.Positive(t, commits)
	require.GreaterOrEqual(t, ticks, commits, "a tick a record read")
	require.LessOrEqual(t, ticks, commits+2, "a tick a record read")
	require.Equal(t, whole, paced.idLog.segs[seg], "paced reads give the same ID entries")
	// The scan stops at the seal, so it may not read the last window.
	windows := int((size + window - 1) / window)
	require.GreaterOrEqual(t, calls, windows/2, "the pacer between windows of a %d-byte segment", size)
	// A record across the end of a window is read again from its start.
	require.Less(t, calls, 2*windows, "a call per window read")

	calls = 0
	y := &ckptSlicer{}
	got, err := e.s.segmentIDs(p, seg, func() { calls++ }, y)
	require.NoError(t, err)
	require.Equal(t, whole, got)
	if size > ckptPieceBeside {
		require.Positive(t, calls)
	}
	require.Equal(t, ticks, y.n, "the scan of a checkpoint ticks its slicer a record")
}

// Encoding a checkpoint with a pacer gives the same bytes as without,
// and calls it once per ckptPieceBeside bytes, about.
func TestPacedEncode(t *testing.T) {
	st := newState()
	const streams = 40_000
	for i := range streams {
		st.streams[fmt.Sprintf("stream-%06d", i)] = &streamIdx{head: uint64(i%7 + 1), chunks: locsOf([]chunk{{seq: 1, loc: loc{seg: 1, off: uint32(64 * i)}}})}
	}
	for i := range 3 * streams {
		st.positions.add(uint64(i+1), loc{seg: 1, off: uint32(64 * i)})
	}
	st.lastPos = 3 * streams
	var id [16]byte
	r := resume{seg: 1, off: 1 << 20, last: 1 << 19, lsn: 9}
	plain := viewOf(r, st).encode(id)
	require.Greater(t, len(plain), 2*ckptPieceBeside, "a view of several pieces")

	v := viewOf(r, st)
	calls := 0
	v.pace = func() { calls++ }
	paced := v.encode(id)
	require.Equal(t, plain, paced, "pacing changes no byte")
	pieces := len(plain) / ckptPieceBeside
	require.GreaterOrEqual(t, calls, pieces-2)
	require.LessOrEqual(t, calls, pieces+1, "and one after the sort of the names")

	_, got, err := decodeCheckpoint(paced, id)
	require.NoError(t, err)
	require.Len(t, got.streams, streams)
	require.Equal(t, 3*streams, got.positions.len())
}

// A kv run written beside commits, in small pieces with the pacer
// called after each is synced, is the same file as one written in the
// usual pieces.
func TestPacedKvRun(t *testing.T) {
	es := kvRunModel(rand.New(rand.NewPCG(7, 7)), 3000)
	ch := make([]kvRunChange, len(es))
	for i := range es {
		ch[i].kvRunEntry = es[i]
	}
	dir := t.TempDir()
	plainPath, pacedPath := filepath.Join(dir, kvRunName(1)), filepath.Join(dir, "paced"+kvRunSuffix)
	_, err := mergeKvRun(osP(), plainPath, kvRunTestID, 1, 1000, nil, nil, ch, kvRunTestKeep, true, nil)
	require.NoError(t, err)
	calls := 0
	r, err := mergeKvRunPaced(osP(), pacedPath, kvRunTestID, 1, 1000, nil, nil, ch, kvRunTestKeep, true, nil, 4096, func() { calls++ })
	require.NoError(t, err)
	plain, err := os.ReadFile(plainPath)
	require.NoError(t, err)
	paced, err := os.ReadFile(pacedPath)
	require.NoError(t, err)
	require.Equal(t, plain, paced, "pacing changes no byte")
	// A piece ends at the first block past 4096 bytes: a few blocks.
	require.GreaterOrEqual(t, calls, len(plain)/(4*4096), "the pacer after each piece of a %d-byte run", len(plain))
	openRun(t, pacedPath, 1, r.hdrCRC)
}

// A checkpoint beside commits rests after its pieces only while no
// caller waits for it to end: Compact, which waits for the one in
// progress before it writes its own, has it rest no more, and neither
// does Close.
func TestCheckpointRestsNotForWaiters(t *testing.T) {
	e := newEnv(t, Options{})
	s := e.s
	require.True(t, s.paceRests(), "an open store with no caller waiting")
	s.ckMu.Lock()
	s.ckptBusy = true // a checkpoint beside commits in progress
	s.ckMu.Unlock()
	done := make(chan error, 1)
	go func() {
		_, err := s.Compact(e.p(), CompactOptions{})
		done <- err
	}()
	require.Eventually(t, func() bool { return !s.paceRests() }, time.Minute, time.Millisecond,
		"a Compact waiting for the checkpoint stops its rests")
	select {
	case err := <-done:
		t.Fatalf("Compact returned while a checkpoint was in progress: %v", err)
	default:
	}
	s.ckMu.Lock()
	s.ckptBusy = false
	s.ckDone.Broadcast()
	s.ckMu.Unlock()
	require.NoError(t, <-done)
	require.True(t, s.paceRests(), "no caller waits once it ended")
	e.close()
	require.False(t, s.paceRests(), "a closed store")
}

// A checkpoint beside commits lets waiting goroutines have the core
// within its pieces of encoding (ckptSlicer), and that changes no byte
// of the file; a view with no slicer (not beside commits) encodes the
// same bytes too.
func TestSlicedEncode(t *testing.T) {
	st := newState()
	const streams = 20_000
	for i := range streams {
		st.streams[fmt.Sprintf("stream-%06d", streams-i)] = &streamIdx{head: uint64(i%5 + 1), chunks: locsOf([]chunk{{seq: 1, loc: loc{seg: 1, off: uint32(64 * i)}}})}
	}
	for i := range 2 * streams {
		st.positions.add(uint64(i+1), loc{seg: 1, off: uint32(64 * i)})
	}
	st.lastPos = 2 * streams
	var id [16]byte
	r := resume{seg: 1, off: 1 << 20, last: 1 << 19, lsn: 9}
	plain := viewOf(r, st).encode(id)

	v := viewOf(r, st)
	v.slice = &ckptSlicer{} // its last yield long ago: the first check yields
	sliced := v.encode(id)
	require.Equal(t, plain, sliced, "yielding changes no byte")
	require.GreaterOrEqual(t, v.slice.yields, 1, "the encoding of %d streams yields the core", streams)
	var none *ckptSlicer
	none.tick() // a view not beside commits has none: a no-op

	_, got, err := decodeCheckpoint(sliced, id)
	require.NoError(t, err)
	require.Len(t, got.streams, streams)
	require.Equal(t, 2*streams, got.positions.len())
}

// A checkpoint beside commits rests after a piece only while a commit is
// in flight (a leader writing its group or a writer queued): with none,
// the pacer returns without waiting for a group that is not coming. The
// test holds the state's lock, which a rest takes to find the next
// group, so a pacer that rested would not return until it is let go.
func TestCheckpointRestsOnlyForCommits(t *testing.T) {
	e := newEnv(t, Options{})
	s := e.s
	require.False(t, s.commitsWaiting(), "an idle store")
	s.mu.Lock()
	done := make(chan struct{})
	go func() {
		s.pacer()()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		s.mu.Unlock()
		<-done
		t.Fatal("the pacer rested with no commit in flight")
	}
	s.mu.Unlock()

	s.wmu.Lock()
	s.leading = true
	s.wmu.Unlock()
	require.True(t, s.commitsWaiting(), "a leader writing its group")
	s.wmu.Lock()
	s.leading = false
	s.queue = append(s.queue, &writer{done: make(chan struct{}, 1)})
	s.wmu.Unlock()
	require.True(t, s.commitsWaiting(), "a writer queued")
	s.wmu.Lock()
	s.queue = s.queue[:0]
	s.wmu.Unlock()
	require.False(t, s.commitsWaiting())
	e.close()
}

// A checkpoint beside commits captures the stream heads into the array
// the one before it gave back (ckStreams), cleared so that it keeps no
// chunk of the index alive; the checkpoints it writes so are whole: the
// store reopens from the last one with every event in place.
func TestCheckpointBesideReusesHeads(t *testing.T) {
	e := newEnv(t, Options{})
	opts := Options{CheckpointBytes: 1, Background: sharedBackground(e)}
	e.reopen(opts)
	const streams = 50
	var first *streamView
	const rounds = 4
	for round := range rounds {
		for i := range streams {
			must(t, e, ops.Append{Stream: fmt.Sprintf("s-%02d", i), Events: []ops.EventData{{Type: "t", Data: []byte(fmt.Sprint(round))}}})
		}
		e.s.ckMu.Lock()
		e.s.waitCheckpointIdle()
		e.s.ckMu.Unlock()
		heads := e.s.ckStreams
		if round == 0 || heads == nil {
			continue // streams still being made; or none ran
		}
		require.GreaterOrEqual(t, cap(heads), streams, "round %d", round)
		require.Empty(t, heads)
		for _, x := range heads[:cap(heads)] {
			require.Zero(t, x, "a kept head is cleared")
		}
		if first == nil {
			first = &heads[:1][0]
		} else {
			require.Same(t, first, &heads[:1][0], "the array is reused")
		}
	}
	require.NotNil(t, first, "checkpoints beside commits ran")
	require.Positive(t, e.s.Stats().Checkpoints)
	e.reopen(Options{})
	for i := range streams {
		evs := must(t, e, ops.Read{Stream: fmt.Sprintf("s-%02d", i)})
		require.Len(t, evs.Events, rounds)
	}
}

// A store that makes streams as it goes (a stream per entity) still
// captures into the kept array: a checkpoint beside commits after a few
// streams were made since the one before reuses it rather than making a
// fresh one of the new count each time, which would cost the capture the
// zeroing the kept array is there to spare: ten checkpoints, a stream
// more each, capture into two arrays at most (one grown).
func TestCheckpointBesideReusesHeadsAsStreamsGrow(t *testing.T) {
	e := newEnv(t, Options{})
	e.reopen(Options{CheckpointBytes: 1, Background: sharedBackground(e)})
	idle := func() {
		e.s.ckMu.Lock()
		e.s.waitCheckpointIdle()
		e.s.ckMu.Unlock()
	}
	const base = 200
	for i := range base {
		must(t, e, ops.Append{Stream: fmt.Sprintf("s-%04d", i), Events: []ops.EventData{{Type: "t"}}})
		idle()
	}
	arrays := map[*streamView]bool{}
	for i := range 10 {
		must(t, e, ops.Append{Stream: fmt.Sprintf("n-%04d", i), Events: []ops.EventData{{Type: "t"}}})
		idle()
		heads := e.s.ckStreams
		require.NotNil(t, heads, "round %d: a checkpoint beside commits ran", i)
		arrays[&heads[:1][0]] = true
	}
	require.LessOrEqual(t, len(arrays), 2, "one stream more a checkpoint: the kept array is reused")
	e.close()
}

// The encoding ticks its slicer within a stream's chunks too, not only
// between streams: a stream written one event per commit has a chunk a
// record since the last checkpoint's segment index files, and encoding a
// million of them takes milliseconds of a core, which a tick a stream
// would leave unsliced.
func TestSlicedEncodeWithinAStream(t *testing.T) {
	st := newState()
	const chunks = 1 << 20
	x := &streamIdx{head: chunks}
	for i := range chunks {
		x.chunks.add(uint64(i+1), loc{seg: 1, off: uint32(64 * i)})
	}
	st.streams["hot"] = x
	var id [16]byte
	r := resume{seg: 1, off: 1 << 30, last: 1 << 29, lsn: 9}
	v := viewOf(r, st)
	v.slice = &ckptSlicer{}
	start := time.Now()
	b := v.encode(id)
	t.Logf("%d chunks of one stream encoded in %v, %d bytes, %d ticks", chunks, time.Since(start), len(b), v.slice.n)
	require.GreaterOrEqual(t, v.slice.n, chunks/64, "ticks within the stream's chunks")
}
