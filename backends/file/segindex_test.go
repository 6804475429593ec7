package file

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
)

// inlineFromDisk puts the locations the index files in dir hold back into
// st, a checkpoint's state, as a checkpoint without index files has them.
func inlineFromDisk(t testing.TB, dir string, st *state) {
	t.Helper()
	files := make(map[uint32][]byte)
	var pos []posChunk
	for i := range st.indexed {
		e := &st.indexed[i]
		b, err := os.ReadFile(filepath.Join(dir, logDir, idxName(e.seg)))
		require.NoError(t, err)
		files[e.seg] = b
		pos = append(pos, indexPositions(b, e)...)
	}
	require.Empty(t, st.inline(files, pos))
}

// indexedStore writes n commits into a store with small segments, events
// in 7 streams (some commits with several events, some with kv changes
// only, some with caller IDs), closes it so that its sealed segments have
// index files, and gives every event written by position.
func indexedStore(t *testing.T, n int) (*env, []ops.Event) {
	t.Helper()
	e := newEnv(t, Options{SegmentSize: minSegmentSize, CheckpointBytes: 48 << 10})
	var all []ops.Event
	for i := range n {
		if i%23 == 5 {
			must(t, e, ops.KvPut{Key: fmt.Sprint("k", i%5), Value: []byte("v")})
			continue
		}
		stream := fmt.Sprint("s", i%7)
		evs := []ops.EventData{{Type: "t", Data: fmt.Appendf(nil, "%d %0100d", i, 0)}}
		if i%11 == 0 {
			evs = append(evs, ops.EventData{ID: uuid.New(), Type: "u", Data: fmt.Appendf(nil, "%d.1", i)})
		}
		res := must(t, e, ops.Append{Stream: stream, Events: evs})
		for j, ev := range evs {
			id := ev.ID
			all = append(all, ops.Event{ID: id, Stream: stream, Seq: res.FirstSeq + uint64(j), Pos: res.FirstPos + uint64(j), Type: ev.Type, Data: ev.Data})
		}
	}
	e.close()
	e.open(Options{SegmentSize: minSegmentSize, CheckpointBytes: 48 << 10})
	return e, all
}

// checkReads reads every stream whole and from several seqs, and the
// global log in pages, and compares with want.
func checkReads(t *testing.T, e *env, want []ops.Event) {
	t.Helper()
	by := make(map[string][]ops.Event)
	for _, ev := range want {
		by[ev.Stream] = append(by[ev.Stream], ev)
	}
	same := func(got, want []ops.Event, what string) {
		t.Helper()
		require.Len(t, got, len(want), what)
		for i := range want {
			w := want[i]
			g := got[i]
			if w.ID != uuid.Nil {
				assert.Equal(t, w.ID, g.ID, what)
			}
			require.Equal(t, []any{w.Stream, w.Seq, w.Pos, w.Type, string(w.Data)}, []any{g.Stream, g.Seq, g.Pos, g.Type, string(g.Data)}, what)
		}
	}
	for stream, evs := range by {
		got := must(t, e, ops.Read{Stream: stream, Limit: len(evs) + 1})
		same(got.Events, evs, stream)
		for _, from := range []int{2, len(evs) / 3, len(evs) / 2, len(evs) - 10} {
			got := must(t, e, ops.Read{Stream: stream, From: uint64(from), Limit: 25})
			same(got.Events, evs[from-1:min(from-1+25, len(evs))], fmt.Sprint(stream, " from ", from))
		}
	}
	for from := 1; from <= len(want); from += 97 {
		got := must(t, e, ops.ReadAll{From: uint64(from), Limit: 150})
		same(got.Events, want[from-1:min(from-1+150, len(want))], fmt.Sprint("all from ", from))
	}
}

func TestIndexFilesServeSealedSegments(t *testing.T) {
	e, want := indexedStore(t, 3000)
	st := e.s.st
	require.NotEmpty(t, st.indexed, "sealed segments are indexed")
	for _, c := range st.positions.posChunks() {
		assert.Greater(t, c.seg, st.indexed[len(st.indexed)-1].seg, "no location of an indexed segment in memory")
	}
	for name, x := range st.streams {
		require.Empty(t, x.runs, name)
		require.NotZero(t, x.dir, name, "the stream names its newest directory")
		for _, c := range x.chunks.chunks() {
			assert.Greater(t, c.seg, st.indexed[len(st.indexed)-1].seg, name)
		}
	}
	checkReads(t, e, want)
	// Events drawn IDs name their positions, in indexed segments too.
	for _, ev := range want[:50] {
		if ev.ID == uuid.Nil {
			continue
		}
		_, err := perform(e, ops.Append{Stream: ev.Stream, Events: []ops.EventData{{ID: uuid.New(), Type: "t"}, {ID: ev.ID, Type: "t"}}})
		var dup *ops.DuplicateIDError
		require.ErrorAs(t, err, &dup, "an indexed ID is refused")
		assert.Equal(t, ev.Seq, dup.Seq)
	}
	e.close()
	rep, err := Verify(e.p(), e.dir)
	require.NoError(t, err)
	assert.Equal(t, len(st.indexed), rep.Indexes, "every index file checked")
	assert.Empty(t, rep.IndexesBad)
}

// The faults an index file can suffer: every one is repaired from its
// segment, never served.
var indexFaults = map[string]func(t *testing.T, path string){
	"missing": func(t *testing.T, path string) { require.NoError(t, os.Remove(path)) },
	"torn": func(t *testing.T, path string) {
		fi, err := os.Stat(path)
		require.NoError(t, err)
		require.NoError(t, os.Truncate(path, fi.Size()-idxBlockSize/2))
	},
	"bitflip-block":  func(t *testing.T, path string) { flipAt(t, path, idxHeader+100) },
	"bitflip-header": func(t *testing.T, path string) { flipAt(t, path, 41) },
	"stale": func(t *testing.T, path string) {
		// Another segment's index in its place.
		other := filepath.Join(filepath.Dir(path), idxName(1))
		b, err := os.ReadFile(other)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, b, 0o644))
	},
}

func TestIndexFileFaultsAreRebuilt(t *testing.T) {
	for name, fault := range indexFaults {
		t.Run(name, func(t *testing.T) {
			e, want := indexedStore(t, 2000)
			require.Greater(t, len(e.s.st.indexed), 2)
			seg := e.s.st.indexed[1].seg
			path := filepath.Join(e.dir, logDir, idxName(seg))
			good, err := os.ReadFile(path)
			require.NoError(t, err)
			e.close()
			fault(t, path)

			rep, err := Verify(e.p(), e.dir)
			require.NoError(t, err, "a bad index file is no corruption of the store")
			require.Len(t, rep.IndexesBad, 1)
			assert.Equal(t, path, rep.IndexesBad[0].File)

			e.open(Options{SegmentSize: minSegmentSize})
			checkReads(t, e, want)
			// The next checkpoint rewrites it.
			must(t, e, ops.Append{Stream: "s0", Events: []ops.EventData{{Type: "t"}}})
			e.close()
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, good, b, "rewritten as it was")
			rep, err = Verify(e.p(), e.dir)
			require.NoError(t, err)
			assert.Empty(t, rep.IndexesBad)
		})
	}
}

// Checkpoints made while commits and reads go on move sealed segments'
// locations into index files under them (run with -race).
func TestIndexFilesWhileWriting(t *testing.T) {
	e := newEnv(t, Options{SegmentSize: minSegmentSize, CheckpointBytes: 32 << 10})
	const writers, each = 4, 400
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var readErr atomic.Value
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			for w := range writers {
				r, err := perform(e, ops.Read{Stream: fmt.Sprint("w", w), Limit: 10000})
				if err == nil {
					for i, ev := range r.Events {
						if ev.Seq != uint64(i+1) {
							err = fmt.Errorf("stream w%d: seq %d at %d", w, ev.Seq, i)
							break
						}
					}
				}
				if err != nil {
					readErr.Store(err)
					return
				}
			}
		}
	}()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				_, err := perform(e, ops.Append{Stream: fmt.Sprint("w", w), Events: []ops.EventData{{ID: uuid.New(), Type: "t", Data: fmt.Appendf(nil, "%d %0200d", i, 0)}}})
				if err != nil {
					readErr.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-readerDone
	if err, _ := readErr.Load().(error); err != nil {
		t.Fatal(err)
	}
	e.reopen(Options{SegmentSize: minSegmentSize})
	require.NotEmpty(t, e.s.st.indexed)
	all := must(t, e, ops.ReadAll{Limit: writers*each + 1})
	require.Len(t, all.Events, writers*each)
	for i, ev := range all.Events {
		require.Equal(t, uint64(i+1), ev.Pos)
	}
	e.close()
	_, err := Verify(e.p(), e.dir)
	require.NoError(t, err)
}

// A read-only follower reads sealed segments through the index files the
// writer's checkpoint names, and rebuilds a missing one without writing.
func TestFollowerReadsIndexFiles(t *testing.T) {
	e, want := indexedStore(t, 1500)
	require.NotEmpty(t, e.s.st.indexed)
	seg := e.s.st.indexed[0].seg
	require.NoError(t, os.Remove(filepath.Join(e.dir, logDir, idxName(seg))))
	f, err := OpenReadOnly(e.p(), e.dir, Options{})
	require.NoError(t, err)
	defer func() { require.NoError(t, f.Close(e.p())) }()
	writer := e.s
	e.s = f
	checkReads(t, e, want)
	e.s = writer
	_, err = os.Stat(filepath.Join(e.dir, logDir, idxName(seg)))
	assert.ErrorIs(t, err, os.ErrNotExist, "the follower writes nothing")
}

// indexedState is a state of 40 commits in segments 1 and 2 whose
// segment 1 is indexed, and the resume point at its end; it also gives
// segment 1's index file.
func indexedStateFile(id [16]byte) (*state, resume, []byte) {
	st := newState()
	st.indexIDs(id)
	for i := range 40 {
		name := fmt.Sprint("s", i%3)
		c := commitRec{at: int64(i), firstPos: uint64(i + 1), parts: []partRec{{stream: name, firstSeq: st.memHead(name) + 1, n: 1, ids: []uuid.UUID{uuid.New()}}}}
		if i%4 == 0 {
			c.rev = st.rev + 1
			c.kv = []kvRec{{op: kvPut, key: fmt.Sprint("k", i), value: []byte("v")}}
		}
		st.apply(&c, loc{seg: uint32(1 + i/20), off: uint32(64 + 100*(i%20))})
		st.lsn++
	}
	b, e, runs := encodeIndex(id, 1, st.positions.slice(0, 20), st.segStreams(1), nil, false)
	e.lastPos = 20
	d := &drop{upTo: 1, idx: []segIdx{e}, runs: make(map[string][]run)}
	for i, x := range st.segStreams(1) {
		d.runs[x.name] = []run{runs[i]}
	}
	st.applyDrop(d)
	return st, resume{seg: 2, off: 64 + 100*20, crc: 9, lsn: st.lsn, last: 64 + 100*19, sum: 5, version: ckptVersion}, b
}

func indexedState(id [16]byte) (*state, resume) {
	st, r, _ := indexedStateFile(id)
	return st, r
}

func TestIndexedCheckpointRoundTrip(t *testing.T) {
	id := [16]byte{3}
	st, r, file := indexedStateFile(id)
	require.Len(t, st.indexed, 1)
	b := encodeCheckpoint(id, r, st)
	r2, st2, err := decodeCheckpoint(b, id)
	require.NoError(t, err)
	assert.Equal(t, r, r2)
	assert.Equal(t, st.indexed, st2.indexed)
	for name, x := range st.streams {
		assert.Equal(t, x.runs, st2.streams[name].runs, name)
		assert.Equal(t, x.chunks.chunks(), st2.streams[name].chunks.chunks(), name)
	}
	assert.Equal(t, st.positions.posChunks(), st2.positions.posChunks())
	// Put back, the locations are those of the state before the drop.
	pos := indexPositions(file, &st2.indexed[0])
	require.Empty(t, st2.inline(map[uint32][]byte{1: file}, pos))
	assert.Equal(t, 40, st2.positions.len())
	for name, x := range st2.streams {
		assert.Equal(t, int(x.head), x.chunks.len(), name)
		for i, c := range x.chunks.chunks() {
			assert.Equal(t, uint64(i+1), c.seq, name)
		}
	}
}

// FuzzIndexFile checks that the header and block checks accept only the
// file a checkpoint names, of version 1 or 2 (ID entries and filter):
// whatever else lies in its place is rebuilt. Of a file that passes, the
// ID filter holds every ID entry's hash.
func FuzzIndexFile(f *testing.F) {
	id := [16]byte{5}
	st, _, good1 := indexedStateFile(id)
	e1 := st.indexed[0]
	var ids []idEntry
	for i := range uint64(20) {
		ids = append(ids, idEntry{hash: i * 0x9e3779b97f4a7c15, pos: 1 + i})
	}
	good2, e2, _ := encodeIndex(id, 1, posLocsOf(indexPositions(good1, &e1)), nil, ids, true)
	e2.lastPos = 20
	for _, g := range [][]byte{good1, good2} {
		f.Add(g)
		f.Add(g[:idxHeader])
		f.Add(g[:len(g)-1])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < idxHeader {
			return
		}
		e, good := &e1, good1
		if binary.LittleEndian.Uint32(b[8:]) == idxVersion {
			e, good = &e2, good2
		}
		if checkIndexHeader(b[:idxHeader], id, e) != "" {
			return
		}
		blocks := e.blocks()
		for blk := range blocks {
			o := idxHeader + int(blk)*idxBlockSize
			if o+idxBlockSize > len(b) {
				return
			}
			if blockSum(e.seg, blk, b[o:o+idxBlockSize-4]) != binary.LittleEndian.Uint32(b[o+idxBlockSize-4:]) {
				return
			}
		}
		n := idxHeader + int(blocks)*idxBlockSize
		require.Equal(t, good, b[:n], "a file that passes every check is the one named")
		if e.ids {
			var bits []byte
			for blk := e.filterFirst(); blk < blocks; blk++ {
				o := idxHeader + int(blk)*idxBlockSize
				bits = append(bits, b[o:o+idxBlockSize-4]...)
			}
			for _, x := range ids {
				assert.True(t, filterHas(bits, x.hash))
			}
		}
	})
}

// A stream with a max-age asks the times of events in indexed segments
// (the ID rule sees only visible events): they are read through the
// index files too.
func TestIndexedEventTimes(t *testing.T) {
	e, want := indexedStore(t, 1500)
	var ev ops.Event
	for _, w := range want {
		if w.ID != uuid.Nil && w.Pos < e.s.st.indexed[0].lastPos {
			ev = w
			break
		}
	}
	require.NotZero(t, ev.Seq, "an event with a caller ID in an indexed segment")
	must(t, e, ops.StreamMetaWrite{Stream: ev.Stream, Meta: ops.StreamMeta{MaxAge: 24 * time.Hour}})
	_, err := perform(e, ops.Append{Stream: ev.Stream, Events: []ops.EventData{{ID: uuid.New(), Type: "t"}, {ID: ev.ID, Type: "t"}}})
	var dup *ops.DuplicateIDError
	require.ErrorAs(t, err, &dup, "the ID of a visible event in an indexed segment is refused")
	assert.Equal(t, ev.Seq, dup.Seq)
}

// encodeCheckpointAs encodes the checkpoint of st as format version ver
// (5 or 6), for tests of reading older files; st has no indexed segment
// when ver is older than 6.
func encodeCheckpointAs(id [16]byte, r resume, st *state, ver uint32) []byte {
	v := viewOf(r, st)
	v.version = ver
	return v.encode(id)
}
