package file

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// readCounter counts the bytes read from segment files.
type readCounter struct {
	mu    sync.Mutex
	segs  map[platform.FD]bool
	bytes int64
}

func (c *readCounter) Handle(p *effect.P, e effect.Effect) (any, error) {
	switch e := e.(type) {
	case platform.Open:
		v, err := p.Send(e)
		if fd, ok := v.(platform.FD); ok && err == nil && strings.HasSuffix(e.Path, ".log") {
			c.mu.Lock()
			if c.segs == nil {
				c.segs = map[platform.FD]bool{}
			}
			c.segs[fd] = true
			c.mu.Unlock()
		}
		return v, err
	case platform.ReadAt:
		v, err := p.Send(e)
		if n, ok := v.(int); ok {
			c.mu.Lock()
			if c.segs[e.FD] {
				c.bytes += int64(n)
			}
			c.mu.Unlock()
		}
		return v, err
	}
	return nil, effect.ErrUnhandled
}

// Open with a checkpoint reads of the segments it covers only headers and
// seals (rule 8), whatever their size; without one it reads them all.
func TestOpenReadsOnlyTheTail(t *testing.T) {
	opts := Options{SegmentSize: minSegmentSize}
	e := newEnv(t, opts)
	fill(t, e, 2000)
	segs := e.s.Stats().Segments
	require.Greater(t, segs, 8)
	logBytes := e.s.Stats().LogBytes
	d := digest(t, e)
	e.close()

	for _, mode := range []string{"writer", "follower"} {
		c := &readCounter{}
		p := effect.Handle(t.Context(), c, e.os)
		open := Open
		if mode == "follower" {
			open = OpenReadOnly
		}
		s, err := open(p, e.dir, opts)
		require.NoError(t, err)
		rep := s.Recovery()
		assert.Equal(t, segs, rep.Trusted, "%s: every segment trusted to the checkpoint", mode)
		assert.Less(t, c.bytes, int64(segs*256), "%s: read %d bytes of %d of log", mode, c.bytes, logBytes)
		assert.Equal(t, logBytes, s.Stats().LogBytes)
		e.s = s
		assert.Equal(t, d, digest(t, e), mode)
		require.NoError(t, s.Close(p))
	}
	e.s = nil

	dropCheckpoints(t, e.dir)
	c := &readCounter{}
	p := effect.Handle(t.Context(), c, e.os)
	s, err := Open(p, e.dir, opts)
	require.NoError(t, err)
	assert.Zero(t, s.Recovery().Trusted)
	assert.GreaterOrEqual(t, c.bytes, logBytes, "a full replay reads everything")
	require.NoError(t, s.Close(p))
}

// Every segment this version writes is of version 3 and ends, once sealed,
// in a seal that records its first LSN, its length, the checksum of its
// bytes, and the last position and revision.
func TestSealRecordsTheSegment(t *testing.T) {
	e := newEnv(t, Options{SegmentSize: minSegmentSize})
	fill(t, e, 500)
	e.close()
	var recs []Record
	for r, err := range Dump(e.p(), e.dir) {
		require.NoError(t, err)
		recs = append(recs, r)
	}
	paths := segPaths(t, e.dir)
	require.Greater(t, len(paths), 2)
	var lastPos, rev uint64
	for _, r := range recs {
		for _, ev := range r.Events {
			lastPos = ev.Pos
		}
		if r.Revision > 0 {
			rev = r.Revision
		}
		if r.Type != "seal" {
			continue
		}
		b, err := os.ReadFile(r.File)
		require.NoError(t, err)
		_, v, err := decodeHeader(b[frameSize : frameSize+32])
		require.NoError(t, err)
		assert.Equal(t, uint32(segVersion), v)
		assert.Equal(t, int64(len(b)-sealSize), r.Offset, "the seal ends the segment")
		f, err := decodeFrame(b[r.Offset:])
		require.NoError(t, err)
		si, err := decodeSeal(f.payload, segVersion)
		require.NoError(t, err)
		hdr, err := decodeFrame(b)
		require.NoError(t, err)
		assert.Equal(t, sealInfo{firstLSN: hdr.lsn, length: uint64(r.Offset), sum: crc32c(b[:r.Offset]), lastPos: lastPos, rev: rev}, si)
	}
}

// A store written by the version before (segments and checkpoint of
// format 2) opens, reading what its checkpoint covers as before; new
// segments are of version 3, the next checkpoint of the current format, and a
// reopen trusts the new segments and still checks the old ones' frames.
func TestVersion2StoreOpens(t *testing.T) {
	dir := untarStore(t, "v2store.tar.gz")
	e := &env{t: t, dir: dir, os: &platform.OS{}}
	opts := Options{SegmentSize: minSegmentSize}
	e.open(opts)
	assert.NotZero(t, e.s.Recovery().Checkpoint, "opened from the format 2 checkpoint")
	assert.Zero(t, e.s.Recovery().Trusted)
	assert.Equal(t, v1Want(5), streamData(t, e, "s"))
	assert.Equal(t, []string{"small"}, streamData(t, e, "t"))
	assert.Equal(t, "3", string(must(t, e, ops.KvGet{Key: "k1"}).Value))
	for i := 5; e.s.Stats().Segments < 5; i++ {
		must(t, e, ops.Append{Stream: "s", Events: evs(fmt.Sprintf("%d:%s", i, strings.Repeat("v", 20000)))})
	}
	n := len(streamData(t, e, "s"))
	e.reopen(opts)
	assert.Equal(t, 3, e.s.Recovery().Trusted, "the segments of version 3")
	assert.Equal(t, v1Want(n), streamData(t, e, "s"))
	e.close()
	_, err := Verify(e.p(), e.dir)
	require.NoError(t, err)
	for i, path := range segPaths(t, e.dir) {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		_, v, err := decodeHeader(b[frameSize : frameSize+32])
		require.NoError(t, err)
		want := uint32(segVersion)
		if i < 2 {
			want = segVersion2
		}
		assert.Equal(t, want, v, "segment %d", i+1)
	}
	files := ckptFiles(t, e.dir)
	b, err := os.ReadFile(files[len(files)-1])
	require.NoError(t, err)
	r, _, err := decodeCheckpoint(b, e.s0id(t))
	require.NoError(t, err)
	assert.Equal(t, uint32(ckptVersion), r.version)

	// Damage in a covered segment of version 2 is still found by Open.
	seg1 := segPaths(t, e.dir)[0]
	flipAt(t, seg1, 200)
	_, err = Open(e.p(), e.dir, opts)
	var ce *CorruptError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, seg1, ce.File)
}

// The record a checkpoint of format 3 ends with is read at Open: a log
// whose record there is not the one the checkpoint names is ErrCorrupt,
// as a log that does not reach it is.
func TestCheckpointEndRecordChecked(t *testing.T) {
	e := newEnv(t, Options{SegmentSize: minSegmentSize})
	fill(t, e, 300)
	e.close()
	files := ckptFiles(t, e.dir)
	b, err := os.ReadFile(files[len(files)-1])
	require.NoError(t, err)
	r, _, err := decodeCheckpoint(b, e.s0id(t))
	require.NoError(t, err)
	require.NotZero(t, r.last)
	path := filepath.Join(e.dir, logDir, segName(r.seg))
	for name, off := range map[string]int64{"frame": r.last + 5, "payload": r.off - 9} {
		t.Run(name, func(t *testing.T) {
			orig, err := os.ReadFile(path)
			require.NoError(t, err)
			defer func() { require.NoError(t, os.WriteFile(path, orig, 0o644)) }()
			flipAt(t, path, off)
			_, err = Open(e.p(), e.dir, Options{SegmentSize: minSegmentSize})
			var ce *CorruptError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, path, ce.File)
			_, verr := Verify(e.p(), e.dir)
			var vce *CorruptError
			require.ErrorAs(t, verr, &vce)
			assert.Equal(t, *ce, *vce, "verify's verdict is open's")
		})
	}
}

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

func FuzzDecodeSeal(f *testing.F) {
	f.Add(sealInfo{firstLSN: 1, length: 64, sum: 7, lastPos: 3, rev: 2}.append(nil), uint32(segVersion))
	f.Add([]byte{}, uint32(segVersion2))
	f.Add(make([]byte, sealPayloadSize), uint32(segVersion))
	f.Fuzz(func(t *testing.T, b []byte, v uint32) {
		si, err := decodeSeal(b, v)
		if err != nil {
			return
		}
		if v < segVersion {
			assert.Empty(t, b)
			return
		}
		assert.True(t, bytes.Equal(b, si.append(nil)), "a seal that decodes encodes to the same bytes")
	})
}

func FuzzDecodeCheckpoint(f *testing.F) {
	id := [16]byte{7, 7}
	st := newState()
	st.indexIDs(id)
	for i := range 20 {
		c := commitRec{at: int64(i), firstPos: uint64(i + 1), parts: []partRec{{stream: fmt.Sprint("s", i%3), firstSeq: st.memHead(fmt.Sprint("s", i%3)) + 1, n: 1, ids: []uuid.UUID{uuid.New()}}}}
		if i%4 == 0 {
			c.rev = st.rev + 1
			c.kv = []kvRec{{op: kvPut, key: fmt.Sprint("k", i), value: []byte("v")}}
		}
		if i%5 == 0 {
			c.meta = []metaRec{{stream: fmt.Sprint("s", i%3), state: ops.StreamState{StreamMeta: ops.StreamMeta{MaxCount: uint64(i + 1)}, Deleted: i%2 == 0}}}
		}
		st.apply(&c, loc{seg: 1, off: uint32(64 + 100*i)})
		st.lsn++
	}
	r := resume{seg: 1, off: 64 + 100*20, crc: 9, lsn: st.lsn, last: 64 + 100*19, sum: 5, version: ckptVersion}
	good := encodeCheckpoint(id, r, st)
	require.NotEmpty(f, st.ret.meta, "the seed holds stream metadata")
	f.Add(good)
	f.Add(good[:len(good)/2])
	// One naming the index file of segment 1, its records' locations
	// moved there.
	st2, r2 := indexedState(id)
	f.Add(encodeCheckpoint(id, r2, st2))
	// And one naming it as a file of version 2, with ID entries (format
	// 8), its segment's events out of the ID index.
	st2.indexed[0].ids, st2.indexed[0].nID = true, 7
	st2.ids.DropRange(st2.indexed[0].firstPos, st2.indexed[0].lastPos)
	f.Add(encodeCheckpoint(id, r2, st2))
	// One naming a set of three tiered kv runs (format 10), and one
	// naming a single run as format 9 did.
	st3, r3 := indexedState(id)
	st3.kv = map[string]*kvEntry{}
	st3.kvRefs = []kvRunRef{{gen: 5, hdrCRC: 0xabcd, entries: 100, live: 90}, {gen: 9, hdrCRC: 7, entries: 10, live: 4}, {gen: 12, hdrCRC: 1, entries: 3, live: 0}}
	st3.kvLive = 93
	f.Add(encodeCheckpoint(id, r3, st3))
	v9 := viewOf(r3, st3)
	v9.version, v9.kvRefs, v9.kvLive = ckptVersionIDFiles, v9.kvRefs[:1], 90
	f.Add(v9.encode(id))
	// One naming two stream runs (format 12), a stream they hold whole
	// left out of its section.
	st4, r4 := indexedState(id)
	st4.stRuns = &kvRunSet{runs: []*kvRun{{gen: 4, hdrCRC: 0x1234, entries: 20, live: 20}, {gen: 11, hdrCRC: 3, entries: 2, live: 2}}}
	st4.streams["in-runs"] = &streamIdx{head: 3, ran: true}
	f.Add(encodeCheckpoint(id, r4, st4))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, st, err := decodeCheckpoint(b, id)
		if err != nil {
			return
		}
		if r.version == ckptVersion {
			assert.Equal(t, b, encodeCheckpoint(id, r, st), "a checkpoint that decodes encodes to the same bytes")
		}
	})
}
