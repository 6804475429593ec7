package file

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
)

// dirFile encodes a version 3 file of segment seg holding streams
// (name, first seq, chunks), each linked to prev[i].
func dirFile(t testing.TB, seg uint32, names []string, seqs []uint64, prev []uint32) ([]byte, segIdx) {
	t.Helper()
	var ss []segStreams
	var pos []posChunk
	off := uint32(64)
	for i, n := range names {
		var cs []chunk
		for j := range 3 {
			cs = append(cs, chunk{seq: seqs[i] + uint64(j), loc: loc{seg: seg, off: off}})
			pos = append(pos, posChunk{pos: uint64(len(pos) + 1), loc: loc{seg: seg, off: off}})
			off += 100
		}
		ss = append(ss, segStreams{name: n, chunks: locsOf(cs)})
	}
	// pos must be sorted by position, ss by name (the callers give them so).
	b, e, _ := encodeIndexDir([16]byte{7}, seg, posLocsOf(pos), ss, nil, prev)
	e.lastPos = uint64(len(pos))
	require.Equal(t, "", checkIndexHeader(b[:idxHeader], [16]byte{7}, &e))
	require.Equal(t, idxHeader+int(e.blocks())*idxBlockSize, len(b))
	return b, e
}

func TestStreamDirFindsEveryStream(t *testing.T) {
	var names []string
	for i := range 1000 {
		names = append(names, fmt.Sprintf("stream-%04d", i))
	}
	seqs := make([]uint64, len(names))
	prev := make([]uint32, len(names))
	for i := range names {
		seqs[i] = uint64(1 + i*7)
		prev[i] = uint32(i % 5)
	}
	b, e := dirFile(t, 9, names, seqs, prev)
	get := fileBlocks(b, &e)
	for i, n := range names {
		for _, sure := range []bool{true, false} {
			d, _, ok, err := dirFind(get, &e, n, dirHash(n), sure)
			require.NoError(t, err)
			require.True(t, ok, n)
			assert.Equal(t, seqs[i], d.seq, n)
			assert.Equal(t, uint32(3), d.n, n)
			assert.Equal(t, prev[i], d.prev, n)
			assert.Equal(t, e.streamBase()+uint32(3*i), d.first, n)
		}
	}
	_, _, ok, err := dirFind(get, &e, "nope", dirHash("nope"), false)
	require.NoError(t, err)
	assert.False(t, ok)
}

// Two streams of one hash are both found, by name; a store whose every
// stream name has one hash reads and verifies as any other.
func TestStreamDirHashCollisions(t *testing.T) {
	old := dirHash
	dirHash = func(name string) uint64 { return uint64(len(name) % 2) }
	defer func() { dirHash = old }()

	names := []string{"a", "bb", "c", "dd", "e"}
	b, e := dirFile(t, 4, names, []uint64{1, 2, 3, 4, 5}, []uint32{0, 1, 2, 3, 0})
	get := fileBlocks(b, &e)
	for i, n := range names {
		d, _, ok, err := dirFind(get, &e, n, dirHash(n), true)
		require.NoError(t, err)
		require.True(t, ok, n)
		assert.Equal(t, uint64(i+1), d.seq, n)
	}

	st, want := indexedStore(t, 3000)
	checkReads(t, st, want)
	st.close()
	rep, err := Verify(st.p(), st.dir)
	require.NoError(t, err)
	assert.Empty(t, rep.IndexesBad)
	assert.NotZero(t, rep.Indexes)
}

// A link is data read from a file: one to a later segment, to one
// without the stream, or to one whose first seq is not below, is
// ErrCorrupt naming the file; the walk never loops.
func TestStreamDirBadLinks(t *testing.T) {
	b1, e1 := dirFile(t, 1, []string{"x"}, []uint64{1}, []uint32{0})
	b2, e2 := dirFile(t, 2, []string{"y"}, []uint64{10}, []uint32{0})
	b3, e3 := dirFile(t, 3, []string{"x"}, []uint64{20}, []uint32{2}) // 2 does not hold x
	b4, e4 := dirFile(t, 4, []string{"x"}, []uint64{1}, []uint32{1})  // 1's first seq is not below
	files := map[uint32][]byte{1: b1, 2: b2, 3: b3, 4: b4}
	indexed := []segIdx{e1, e2, e3, e4}
	walk := func(head uint32) (int, error) {
		n := 0
		err := walkDir(indexed, "x", head, func(e *segIdx) (dirEnt, bool, error) {
			d, _, ok, err := dirFind(fileBlocks(files[e.seg], e), e, "x", dirHash("x"), false)
			return d, ok, err
		}, func(e *segIdx, d dirEnt) (bool, error) {
			n++
			return false, nil
		})
		return n, err
	}
	n, err := walk(1)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	_, err = walk(3)
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), idxName(3))
	_, err = walk(4)
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), idxName(4))
	_, err = walk(2)
	require.ErrorIs(t, err, ErrCorrupt, "the head names a segment without the stream")

	// A link to its own segment or a later one is refused as the entry
	// is read: the walk cannot cycle.
	b5, e5 := dirFile(t, 5, []string{"x"}, []uint64{30}, []uint32{5})
	_, err = dirAt(fileBlocks(b5, &e5), &e5, 0)
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), idxName(5))
}

// The chain step cache keeps within its budget, first in first out.
func TestStreamDirStepCache(t *testing.T) {
	var c dirSteps
	for i := range 1000 {
		c.put(dirKey{seg: uint32(i), name: "s"}, dirEnt{seq: uint64(i)}, 10_000)
	}
	assert.LessOrEqual(t, c.bytes, 10_000)
	_, ok := c.get(dirKey{seg: 0, name: "s"})
	assert.False(t, ok, "the oldest left")
	d, ok := c.get(dirKey{seg: 999, name: "s"})
	assert.True(t, ok)
	assert.Equal(t, uint64(999), d.seq)
}

// A store of many streams over many indexed segments: every stream
// names its newest directory, reads from anywhere walk the chain, a
// reopen reads the same, and a damaged file (a directory block) is
// rebuilt with the same back-links.
func TestStreamDirStore(t *testing.T) {
	e, want := indexedStore(t, 3000)
	st := e.s.st
	require.Greater(t, len(st.indexed), 3)
	for name, x := range st.streams {
		require.NotZero(t, x.dir, name)
		require.True(t, st.indexedSeg(x.dir).dir, name)
	}
	checkReads(t, e, want)
	e.close()
	// Damage a directory block of a middle file.
	mid := st.indexed[len(st.indexed)/2]
	path := filepath.Join(e.dir, logDir, idxName(mid.seg))
	good, err := os.ReadFile(path)
	require.NoError(t, err)
	b := append([]byte(nil), good...)
	o := idxHeader + int(mid.dirFirst())*idxBlockSize + 5
	b[o] ^= 0xff
	require.NoError(t, os.WriteFile(path, b, 0o644))
	rep, err := Verify(e.p(), e.dir)
	require.NoError(t, err)
	require.Len(t, rep.IndexesBad, 1)
	e.open(Options{SegmentSize: minSegmentSize, CheckpointBytes: 48 << 10})
	checkReads(t, e, want)
	must(t, e, ops.Append{Stream: "s0", Events: []ops.EventData{{Type: "t"}}})
	e.close()
	// The next checkpoint rewrote it with the same bytes.
	b, err = os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, good, b, "rewritten as it was, back-links too")
	rep, err = Verify(e.p(), e.dir)
	require.NoError(t, err)
	assert.Empty(t, rep.IndexesBad)
}

// A version 3 file whose header is right but whose directory is not what
// its log builds is found by Verify, not served: the header checksum
// names the content.
func TestStreamDirHeaderNamesContent(t *testing.T) {
	b, e := dirFile(t, 2, []string{"p", "q"}, []uint64{1, 1}, []uint32{0, 1})
	c := append([]byte(nil), b...)
	o := idxHeader + int(e.dirFirst())*idxBlockSize + 24 // the first entry's prev
	binary.LittleEndian.PutUint32(c[o:], 0)
	blk := e.dirFirst()
	bo := idxHeader + int(blk)*idxBlockSize
	binary.LittleEndian.PutUint32(c[bo+idxBlockSize-4:], blockSum(2, blk, c[bo:bo+idxBlockSize-4]))
	var sums []byte
	for i := range e.blocks() {
		bo := idxHeader + int(i)*idxBlockSize
		sums = append(sums, c[bo+idxBlockSize-4:bo+idxBlockSize]...)
	}
	binary.LittleEndian.PutUint32(c[52:], crc32.Checksum(sums, castagnoli))
	binary.LittleEndian.PutUint32(c[60:], crc32.Checksum(c[:60], castagnoli))
	assert.Equal(t, "not the index file the checkpoint names", checkIndexHeader(c[:idxHeader], [16]byte{7}, &e))
}

// FuzzDecodeStreamDir reads the stream directory of any bytes as a file
// of version 3: never a panic, an entry it gives lies within the file's
// counts, and a valid file finds its streams.
func FuzzDecodeStreamDir(f *testing.F) {
	names := []string{"a", "b", "stream-7"}
	b, _ := dirFile(f, 3, names, []uint64{1, 5, 9}, []uint32{0, 2, 1})
	valid := b
	f.Add(b, "a")
	f.Add(b, "b")
	f.Add(b, "stream-7")
	f.Add(b[:len(b)-100], "b")
	f.Fuzz(func(t *testing.T, b []byte, name string) {
		if len(b) < idxHeader {
			return
		}
		h := b[:idxHeader]
		e := segIdx{seg: 3, ids: true, dir: true,
			nPos: binary.LittleEndian.Uint32(h[40:]), nStream: binary.LittleEndian.Uint32(h[44:]),
			nID: binary.LittleEndian.Uint32(h[56:]), nDir: binary.LittleEndian.Uint32(h[12:])}
		if e.nPos > 1<<16 || e.nStream > 1<<16 || e.nID > 1<<16 || e.nDir > 1<<16 {
			return
		}
		nb := binary.LittleEndian.Uint32(h[48:])
		if nb < e.nameFirst() {
			return
		}
		e.nNameBlk = nb - e.nameFirst()
		get := func(blk uint32) ([]byte, error) {
			o := idxHeader + int(blk)*idxBlockSize
			if o+idxBlockSize > len(b) {
				return nil, errors.New("past the end")
			}
			return b[o : o+idxBlockSize], nil
		}
		d, i, ok, err := dirFind(get, &e, name, dirHash(name), false)
		if err == nil && ok {
			if d.n == 0 || d.first < e.streamBase() || uint64(d.first)+uint64(d.n) > uint64(e.streamBase())+uint64(e.nStream) || d.prev >= e.seg {
				t.Fatalf("entry %+v outside the file's counts", d)
			}
			// A lookup that is not sure compares names: what it found
			// is the stream asked for.
			if got, err := nameAt(get, &e, d.nameOff, e.dirOff(i)); err != nil || got != name {
				t.Fatalf("found entry %d for %q, whose name is %q (%v)", i, name, got, err)
			}
		}
		if bytes.Equal(b, valid) && slices.Contains(names, name) && (err != nil || !ok) {
			t.Fatalf("the valid file does not find %q: %v", name, err)
		}
		for i := range min(e.nDir, 64) {
			d, err := dirAt(get, &e, i)
			if err != nil {
				continue
			}
			_, _ = nameAt(get, &e, d.nameOff, e.dirOff(i))
		}
	})
}

// asRuns turns the stream directories ck's streams name into runs, as a
// checkpoint of format 10 or older names their locations in the files
// (ld the log directory), for a test to write an older checkpoint.
func asRuns(t testing.TB, ld string, ck *state) {
	t.Helper()
	files := make(map[uint32][]byte)
	for _, e := range ck.indexed {
		b, err := os.ReadFile(filepath.Join(ld, idxName(e.seg)))
		require.NoError(t, err)
		files[e.seg] = b
	}
	for name, x := range ck.streams {
		if x.dir == 0 {
			continue
		}
		var rs []run
		require.NoError(t, walkDir(ck.indexed, name, x.dir, func(e *segIdx) (dirEnt, bool, error) {
			d, _, ok, err := dirFind(fileBlocks(files[e.seg], e), e, name, dirHash(name), false)
			return d, ok, err
		}, func(e *segIdx, d dirEnt) (bool, error) {
			rs = append(rs, run{seq: d.seq, seg: e.seg, first: d.first, n: d.n})
			return false, nil
		}))
		slices.Reverse(rs)
		x.runs, x.dir = append(x.runs, rs...), 0
	}
}

// A checkpoint whose streams have every location in index files (no
// runs, no chunks: a few bytes a stream) validates, and Open uses it.
func TestStreamDirCheckpointOfStreamsAllIndexed(t *testing.T) {
	opts := Options{SegmentSize: minSegmentSize, CheckpointBytes: 48 << 10}
	e := newEnv(t, opts)
	for i := range 3000 {
		must(t, e, ops.Append{Stream: fmt.Sprint("s", i), Events: []ops.EventData{{Type: "t", Data: make([]byte, 100)}}})
	}
	for range 3000 {
		must(t, e, ops.Append{Stream: "busy", Events: []ops.EventData{{Type: "t", Data: make([]byte, 100)}}})
	}
	e.close()
	e.open(opts)
	rec := e.s.Recovery()
	require.NotZero(t, rec.Checkpoint, "opened from its checkpoint")
	x, err := e.s.st.stream(e.p(), "s7") // from the stream runs
	require.NoError(t, err)
	require.NotNil(t, x)
	require.Zero(t, x.chunks.len())
	require.Empty(t, x.runs)
	require.NotZero(t, x.dir)
	got := must(t, e, ops.Read{Stream: "s7", Limit: 5})
	require.Len(t, got.Events, 1)
}
