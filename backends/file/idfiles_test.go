package file

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/internal/idindex"
	"rose-ash.com/persist/ops"
)

// idStore writes n one-event commits with caller IDs into 5 streams of a
// store with small segments, every seventh with a drawn ID, and reopens it
// so that its sealed segments have index files; it gives the caller IDs'
// events.
func idStore(t *testing.T, n int) (*env, []ops.Event) {
	t.Helper()
	opts := Options{SegmentSize: minSegmentSize, CheckpointBytes: 32 << 10}
	e := newEnv(t, opts)
	var withID []ops.Event
	for i := range n {
		stream := fmt.Sprint("s", i%5)
		ev := ops.EventData{Type: "t", Data: fmt.Appendf(nil, "%d %060d", i, 0)}
		if i%7 != 3 {
			ev.ID = uuid.New()
		}
		res := must(t, e, ops.Append{Stream: stream, Events: []ops.EventData{ev}})
		if ev.ID != uuid.Nil {
			withID = append(withID, ops.Event{ID: ev.ID, Stream: stream, Seq: res.FirstSeq, Pos: res.FirstPos})
		}
	}
	e.close()
	e.open(opts)
	return e, withID
}

// checkIDs re-appends every ID of want beside a new one and requires the
// refusal to name the stored event; the same ID in another stream is new.
func checkIDs(t *testing.T, e *env, want []ops.Event, step int) {
	t.Helper()
	for i := 0; i < len(want); i += step {
		ev := want[i]
		_, err := perform(e, ops.Append{Stream: ev.Stream, Events: []ops.EventData{{ID: uuid.New(), Type: "t"}, {ID: ev.ID, Type: "t"}}})
		var dup *ops.DuplicateIDError
		require.ErrorAs(t, err, &dup, "event %d's ID", i)
		require.Equal(t, ev.Seq, dup.Seq, "event %d's ID", i)
		// Alone: a retry, answered as the original.
		res := must(t, e, ops.Append{Stream: ev.Stream, Events: []ops.EventData{{ID: ev.ID, Type: "t"}}})
		require.Equal(t, ev.Seq, res.FirstSeq, "a retry of event %d", i)
	}
	ev := want[len(want)/2]
	other := fmt.Sprint("other-", e.s.Stats().LSN)
	res := must(t, e, ops.Append{Stream: other, Events: []ops.EventData{{ID: ev.ID, Type: "t"}}})
	require.Equal(t, uint64(1), res.FirstSeq, "an ID of another stream is new here")
}

// The ID entries of sealed segments lie in their index files: the ID
// index in memory holds only the rest, and the event-ID rule holds for
// every stored ID, after a reopen too, and Verify checks the files.
func TestIDEntriesInIndexFiles(t *testing.T) {
	e, want := idStore(t, 2500)
	st := e.s.st
	require.Greater(t, len(st.indexed), 3)
	var onDisk uint32
	for _, x := range st.indexed {
		require.True(t, x.ids, "segment %d's file holds its IDs", x.seg)
		onDisk += x.nID
	}
	assert.Equal(t, len(want), int(onDisk)+st.ids.Len(), "every caller ID in a file or in memory, once")
	assert.Less(t, st.ids.Len(), len(want)/3, "most ID entries left memory")
	checkIDs(t, e, want, 7)
	e.close()
	rep, err := Verify(e.p(), e.dir)
	require.NoError(t, err)
	assert.Empty(t, rep.IndexesBad)
	assert.Positive(t, rep.Indexes)

	e.open(Options{SegmentSize: minSegmentSize, CheckpointBytes: 32 << 10})
	checkIDs(t, e, want, 11)
}

// A damaged ID section or filter of an index file is rebuilt from its
// segment: no stored ID is taken for new, and Verify lists the file.
func TestIDEntriesFaultsAreRebuilt(t *testing.T) {
	for _, where := range []string{"entries", "filter", "count"} {
		t.Run(where, func(t *testing.T) {
			e, want := idStore(t, 1800)
			require.Greater(t, len(e.s.st.indexed), 2)
			x := e.s.st.indexed[1]
			require.Positive(t, x.nID)
			path := filepath.Join(e.dir, logDir, idxName(x.seg))
			e.close()
			switch where {
			case "entries":
				flipAt(t, path, idxHeader+int64(x.idBase()/idxPerBlock)*idxBlockSize+30)
			case "filter":
				flipAt(t, path, idxHeader+int64(x.filterFirst())*idxBlockSize+int64(x.nID%97))
			case "count":
				flipAt(t, path, 56)
			}
			rep, err := Verify(e.p(), e.dir)
			require.NoError(t, err, "a bad index file is no corruption of the store")
			require.Len(t, rep.IndexesBad, 1)
			e.open(Options{SegmentSize: minSegmentSize, CheckpointBytes: 32 << 10})
			checkIDs(t, e, want, 3)
			e.close()
			rep, err = Verify(e.p(), e.dir)
			require.NoError(t, err)
			assert.Empty(t, rep.IndexesBad, "rewritten by the next checkpoint")
		})
	}
}

// The ID filter answers every entry it holds, and few others: 10 bits an
// entry and 7 probes give about 0.8% false hits.
func TestIDFilterRate(t *testing.T) {
	var ids []idEntry
	for i := range uint64(20000) {
		ids = append(ids, idEntry{hash: (i + 1) * 0x9e3779b97f4a7c15 * 0xbf58476d1ce4e5b9, pos: i + 1})
	}
	pos := []posChunk{{pos: 1, loc: loc{seg: 1, off: 64}}}
	b, e, _ := encodeIndex([16]byte{1}, 1, posLocsOf(pos), nil, ids, true)
	var bits []byte
	for blk := e.filterFirst(); blk < e.blocks(); blk++ {
		o := idxHeader + int(blk)*idxBlockSize
		bits = append(bits, b[o:o+idxBlockSize-4]...)
	}
	assert.Equal(t, int(e.filterBlocks())*(idxBlockSize-4), len(bits))
	for _, x := range ids {
		require.True(t, filterHas(bits, x.hash))
	}
	false_ := 0
	const tries = 100000
	for i := range uint64(tries) {
		if filterHas(bits, (i+1)*0xd6e8feb86659fd93^0x5555) {
			false_++
		}
	}
	assert.Less(t, float64(false_)/tries, 0.015, "false hits")
	t.Logf("false hits: %.3f%%", 100*float64(false_)/tries)
}

// idsIn finds every entry of a hash, across block boundaries too, and
// none of a hash not there, in a file of many blocks.
func TestIDEntriesSearch(t *testing.T) {
	e := newEnv(t, Options{})
	rnd := rand.New(rand.NewPCG(3, 4))
	var ids []idEntry
	want := map[uint64][]uint64{}
	for i := range uint64(20000) {
		h := rnd.Uint64()
		n := 1
		if i%97 == 0 {
			n = 3 // one hash, three events
		}
		for range n {
			pos := 1 + uint64(len(ids))
			ids = append(ids, idEntry{hash: h, pos: pos})
			want[h] = append(want[h], pos)
		}
	}
	// And a run of one hash longer than a block.
	for range 2 * idxPerBlock {
		pos := 1 + uint64(len(ids))
		ids = append(ids, idEntry{hash: 1 << 63, pos: pos})
		want[1<<63] = append(want[1<<63], pos)
	}
	pos := []posChunk{{pos: 1, loc: loc{seg: 999, off: 64}}}
	b, x, _ := encodeIndex(e.s.id, 999, posLocsOf(pos), nil, slices.Clone(ids), true)
	x.lastPos = uint64(len(ids))
	require.NoError(t, os.WriteFile(filepath.Join(e.dir, logDir, idxName(999)), b, 0o644))
	find := func(h uint64) []uint64 {
		var got []uint64
		require.NoError(t, e.s.idsIn(e.p(), &x, h, func(pos uint64) (bool, error) {
			got = append(got, pos)
			return false, nil
		}))
		return got
	}
	for h, ps := range want {
		require.Equal(t, ps, find(h), "hash %x", h)
	}
	for range 2000 {
		h := rnd.Uint64()
		if _, ok := want[h]; !ok {
			require.Empty(t, find(h))
		}
	}
	require.Empty(t, find(0))
	require.Empty(t, find(^uint64(0)))
}

// A store whose checkpoint is of format 7, naming index files of
// version 1 and holding every caller ID in its ID index, opens as it is;
// the next checkpoints write files of version 2 for the segments sealed
// since, and the ID rule holds over both kinds, after a reopen too.
func TestIDEntriesFromFormat7(t *testing.T) {
	e, want := idStore(t, 2000)
	id := e.s.id
	e.close()
	ld := filepath.Join(e.dir, logDir)
	lsns, err := listCheckpoints(e.p(), ld)
	require.NoError(t, err)
	for _, old := range lsns[:len(lsns)-1] {
		require.NoError(t, os.Remove(filepath.Join(ld, ckptName(old))))
	}
	path := filepath.Join(ld, ckptName(lsns[len(lsns)-1]))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	r, ck, err := decodeCheckpoint(b, id)
	require.NoError(t, err)
	require.NotEmpty(t, ck.indexed)
	asRuns(t, ld, ck)
	// Every index file as version 1 wrote it: the same locations.
	for i := range ck.indexed {
		x := &ck.indexed[i]
		require.True(t, x.ids)
		v2, err := os.ReadFile(filepath.Join(ld, idxName(x.seg)))
		require.NoError(t, err)
		var ss []segStreams
		for name, st := range ck.streams {
			for _, run := range st.runs {
				if run.seg != x.seg {
					continue
				}
				var cs []chunk
				for j := run.first; j < run.first+run.n; j++ {
					o := idxHeader + int(j/idxPerBlock)*idxBlockSize + int(j%idxPerBlock)*idxEntry
					cs = append(cs, chunk{seq: binary.LittleEndian.Uint64(v2[o:]), loc: loc{seg: x.seg, off: binary.LittleEndian.Uint32(v2[o+8:])}})
				}
				ss = append(ss, segStreams{name: name, chunks: locsOf(cs)})
			}
		}
		slices.SortFunc(ss, func(a, b segStreams) int { return strings.Compare(a.name, b.name) })
		v1, got, _ := encodeIndex(id, x.seg, posLocsOf(indexPositions(v2, x)), ss, nil, false)
		require.Equal(t, x.nStream, got.nStream)
		require.NoError(t, os.WriteFile(filepath.Join(ld, idxName(x.seg)), v1, 0o644))
		x.ids, x.nID, x.hdrCRC = false, 0, got.hdrCRC
		x.dir, x.nDir, x.nNameBlk = false, 0, 0
	}
	// And an ID index of every caller ID it covers.
	full := idindex.New(id)
	byPos := slices.Clone(want)
	slices.SortFunc(byPos, func(a, b ops.Event) int { return cmp.Compare(a.Pos, b.Pos) })
	for _, ev := range byPos {
		if ev.Pos <= ck.lastPos {
			require.NoError(t, full.Add(full.Hash(full.StreamKey(ev.Stream), ev.ID), ev.Pos))
		}
	}
	ck.ids = full
	v := viewOf(r, ck)
	v.version = ckptVersionKvRun
	require.NoError(t, os.WriteFile(path, v.encode(id), 0o644))

	opts := Options{SegmentSize: minSegmentSize, CheckpointBytes: 32 << 10}
	e.open(opts)
	require.Equal(t, lsns[len(lsns)-1], e.s.Recovery().Checkpoint, "opened from the format 7 checkpoint")
	require.Equal(t, full.Len(), e.s.st.ids.Len(), "its ID index as it holds it")
	n7 := len(e.s.st.indexed)
	for _, x := range e.s.st.indexed {
		require.False(t, x.ids)
	}
	checkIDs(t, e, want, 5)
	// Seal more segments under checkpoints.
	for i := range 1500 {
		ev := ops.EventData{ID: uuid.New(), Type: "t", Data: fmt.Appendf(nil, "%d %060d", i, 0)}
		res := must(t, e, ops.Append{Stream: fmt.Sprint("s", i%5), Events: []ops.EventData{ev}})
		want = append(want, ops.Event{ID: ev.ID, Stream: fmt.Sprint("s", i%5), Seq: res.FirstSeq, Pos: res.FirstPos})
	}
	e.close()
	e.open(opts)
	st := e.s.st
	require.Greater(t, len(st.indexed), n7)
	for i, x := range st.indexed {
		require.Equal(t, i >= n7, x.ids, "segment %d", x.seg)
		require.Equal(t, i >= n7, x.dir, "segment %d", x.seg)
	}
	// Each stream's chain of directories ends before its runs in the
	// files of version 1: a read of it whole crosses both.
	for i := range 5 {
		name := fmt.Sprint("s", i)
		x := st.streams[name]
		require.NotEmpty(t, x.runs, name)
		require.NotZero(t, x.dir, name)
		got := must(t, e, ops.Read{Stream: name, Limit: int(x.head) + 1})
		require.Len(t, got.Events, int(x.head), name)
		ws := make(map[uint64]uuid.UUID)
		for _, ev := range want {
			if ev.Stream == name {
				ws[ev.Seq] = ev.ID
			}
		}
		for i, ev := range got.Events {
			require.Equal(t, uint64(i+1), ev.Seq, name)
			if id, ok := ws[ev.Seq]; ok {
				require.Equal(t, id, ev.ID, name)
			}
		}
	}
	checkIDs(t, e, want, 5)
	e.close()
	rep, err := Verify(e.p(), e.dir)
	require.NoError(t, err)
	assert.Empty(t, rep.IndexesBad)
}
