package file

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
)

// idBatches appends n commits of two events with IDs, alternating between
// two streams, and returns the batches and their results.
func idBatches(t *testing.T, e *env, n int) ([][]ops.EventData, []ops.AppendResult) {
	t.Helper()
	var batches [][]ops.EventData
	var results []ops.AppendResult
	for i := range n {
		b := []ops.EventData{
			{ID: uuid.New(), Type: "t", Data: fmt.Appendf(nil, "%d.0 %0150d", i, 0)},
			{ID: uuid.New(), Type: "t", Data: fmt.Appendf(nil, "%d.1", i)},
		}
		batches = append(batches, b)
		results = append(results, must(t, e, ops.Append{Stream: fmt.Sprint("s", i%2), Events: b}))
	}
	return batches, results
}

// checkIDRule checks that every batch retries to its result and that each
// stored ID is refused beside a new one.
func checkIDRule(t *testing.T, e *env, batches [][]ops.EventData, results []ops.AppendResult) {
	t.Helper()
	for i, b := range batches {
		stream := fmt.Sprint("s", i%2)
		r, err := perform(e, ops.Append{Stream: stream, Events: b})
		require.NoError(t, err, "retry of batch %d", i)
		assert.Equal(t, results[i], r, "retry of batch %d", i)
		if i%17 != 0 {
			continue
		}
		_, err = perform(e, ops.Append{Stream: stream, Events: []ops.EventData{{ID: uuid.New(), Type: "t"}, b[1]}})
		var dup *ops.DuplicateIDError
		require.ErrorAs(t, err, &dup, "reuse of batch %d's second ID", i)
		assert.Equal(t, ops.DuplicateIDError{Stream: stream, ID: b[1].ID, Seq: results[i].Head, Index: 1}, *dup)
		// The same ID in the other stream is new there.
		other := fmt.Sprint("s", (i+1)%2)
		_, err = perform(e, ops.Append{Stream: other, Expect: ops.Exact(9999), Events: b[:1]})
		var c *ops.Conflict
		assert.ErrorAs(t, err, &c, "the ID in the other stream is new there: only the expectation fails")
	}
}

func TestIDRuleAcrossRollsAndReopen(t *testing.T) {
	e := newEnv(t, Options{SegmentSize: minSegmentSize, CheckpointBytes: 32 << 10})
	batches, results := idBatches(t, e, 700)
	require.Greater(t, len(segPaths(t, e.dir)), 2, "segments rolled")
	checkIDRule(t, e, batches, results)

	e.reopen(Options{SegmentSize: minSegmentSize})
	assert.NotZero(t, e.s.Recovery().Checkpoint, "opened from a checkpoint")
	checkIDRule(t, e, batches, results)

	// A full replay builds the same index from the records.
	e.close()
	ck, err := filepath.Glob(filepath.Join(e.dir, logDir, "*"+ckptSuffix))
	require.NoError(t, err)
	for _, f := range ck {
		require.NoError(t, os.Remove(f))
	}
	e.open(Options{SegmentSize: minSegmentSize})
	assert.Zero(t, e.s.Recovery().Checkpoint, "a full replay")
	checkIDRule(t, e, batches, results)
}

// encodeCheckpointV1 writes a checkpoint of format 1: the stream's last
// event ID after each head, no ID index.
func encodeCheckpointV1(id [16]byte, r resume, st *state) []byte {
	b := make([]byte, 24)
	copy(b, ckptMagic[:])
	binary.LittleEndian.PutUint32(b[8:], ckptVersion1)
	b = append(b, id[:]...)
	b = binary.AppendUvarint(b, r.seg)
	b = binary.AppendUvarint(b, uint64(r.off))
	b = binary.LittleEndian.AppendUint32(b, r.crc)
	b = binary.AppendUvarint(b, r.lsn)
	b = binary.AppendUvarint(b, st.lastPos)
	b = binary.AppendUvarint(b, st.rev)
	b = binary.AppendVarint(b, st.lastAt)
	b = binary.AppendUvarint(b, st.events)
	b = binary.AppendUvarint(b, st.commits)
	names := slices.Sorted(maps.Keys(st.streams))
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, n := range names {
		x := st.streams[n]
		b = appendString(b, n)
		b = binary.AppendUvarint(b, x.head)
		b = append(b, make([]byte, 16)...) // the last ID, which format 2 dropped
		b = binary.AppendUvarint(b, uint64(x.chunks.len()))
		var seq uint64
		var l loc
		for _, c := range x.chunks.chunks() {
			b = appendLoc(b, c.seq-seq, l, c.loc)
			seq, l = c.seq, c.loc
		}
	}
	b = binary.AppendUvarint(b, uint64(st.positions.len()))
	var pos uint64
	var l loc
	for _, c := range st.positions.posChunks() {
		b = appendLoc(b, c.pos-pos, l, c.loc)
		pos, l = c.pos, c.loc
	}
	keys := slices.Sorted(maps.Keys(st.kv))
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(b, k)
		b = binary.AppendUvarint(b, st.kv[k].rev)
		b = binary.AppendUvarint(b, uint64(len(st.kv[k].value)))
		b = append(b, st.kv[k].value...)
	}
	binary.LittleEndian.PutUint64(b[16:], uint64(len(b)-24))
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	return append(b, ckptMagic[:4]...)
}

func TestCheckpointFormat1RebuildsIDIndex(t *testing.T) {
	e := newEnv(t, Options{SegmentSize: minSegmentSize})
	batches, results := idBatches(t, e, 300)
	must(t, e, ops.KvPut{Key: "k", Value: []byte("v")})
	e.close()

	// Replace the checkpoint Close wrote by the same one in format 1.
	ck, err := filepath.Glob(filepath.Join(e.dir, logDir, "*"+ckptSuffix))
	require.NoError(t, err)
	require.NotEmpty(t, ck)
	last := ck[len(ck)-1]
	b, err := os.ReadFile(last)
	require.NoError(t, err)
	id := [16]byte(b[24:40])
	r, st, err := decodeCheckpoint(b, id)
	require.NoError(t, err)
	inlineFromDisk(t, e.dir, st)
	v1 := encodeCheckpointV1(id, r, st)
	r1, st1, err := decodeCheckpoint(v1, id)
	require.NoError(t, err, "format 1 is still read")
	want := r
	want.last, want.sum, want.version = 0, 0, ckptVersion1
	assert.Equal(t, want, r1)
	assert.Nil(t, st1.ids, "format 1 has no ID index")
	require.NoError(t, os.WriteFile(last, v1, 0o644))

	e.open(Options{SegmentSize: minSegmentSize})
	assert.Equal(t, r.lsn, e.s.Recovery().Checkpoint, "opened from the format 1 checkpoint")
	assert.Equal(t, int(e.s.st.lastPos), e.s.st.ids.Len(), "every event indexed")
	checkIDRule(t, e, batches, results)
	more, moreRes := idBatches(t, e, 20)
	e.reopen(Options{SegmentSize: minSegmentSize})
	checkIDRule(t, e, append(batches, more...), append(results, moreRes...))
	// The next checkpoint is of the current format again.
	ck, err = filepath.Glob(filepath.Join(e.dir, logDir, "*"+ckptSuffix))
	require.NoError(t, err)
	b, err = os.ReadFile(ck[len(ck)-1])
	require.NoError(t, err)
	assert.Equal(t, uint32(ckptVersion), binary.LittleEndian.Uint32(b[8:]))
}

func TestCheckpointWithBadIDIndexIsSkipped(t *testing.T) {
	e := newEnv(t, Options{})
	batches, results := idBatches(t, e, 30)
	e.close()
	ck, err := filepath.Glob(filepath.Join(e.dir, logDir, "*"+ckptSuffix))
	require.NoError(t, err)
	b, err := os.ReadFile(ck[len(ck)-1])
	require.NoError(t, err)
	id := [16]byte(b[24:40])
	r, st, err := decodeCheckpoint(b, id)
	require.NoError(t, err)
	// An index with an entry past the last position: refused.
	st.ids = nil
	st.indexIDs(id)
	for pos := uint64(2); pos <= st.lastPos+1; pos++ {
		require.NoError(t, st.ids.Add(pos*7919, pos))
	}
	bad := encodeCheckpoint(id, r, st)
	_, _, err = decodeCheckpoint(bad, id)
	assert.ErrorContains(t, err, "ID index")
	require.NoError(t, os.WriteFile(ck[len(ck)-1], bad, 0o644))
	e.open(Options{})
	assert.Equal(t, 1, e.s.Recovery().CheckpointsSkipped)
	checkIDRule(t, e, batches, results)
}

// A checkpoint whose ID index has an entry per event but not the log's
// hashes (a bug, not damage): Open trusts it, Verify does not.
func TestVerifyChecksCheckpointIDIndex(t *testing.T) {
	e := newEnv(t, Options{})
	idBatches(t, e, 10)
	e.close()
	files := ckptFiles(t, e.dir)
	require.NotEmpty(t, files)
	newest := files[len(files)-1]
	b, err := os.ReadFile(newest)
	require.NoError(t, err)
	id := e.s0id(t)
	r, st, err := decodeCheckpoint(b, id)
	require.NoError(t, err)
	st.ids = nil
	st.indexIDs(id)
	for pos := uint64(1); pos <= st.lastPos; pos++ {
		require.NoError(t, st.ids.Add(pos*7919, pos))
	}
	require.NoError(t, os.WriteFile(newest, encodeCheckpoint(id, r, st), 0o644))

	_, err = Verify(e.p(), e.dir)
	var ce *CorruptError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, newest, ce.File)
	assert.Contains(t, ce.Reason, "event ID index")
}
