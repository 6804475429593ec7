package file

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
)

func ckptFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, logDir, ckptPrefix+"*"+ckptSuffix))
	require.NoError(t, err)
	sort.Strings(m)
	return m
}

func fullReplayDigest(t testing.TB, e *env, opts Options) string {
	t.Helper()
	e.close()
	for _, f := range ckptFiles(t, e.dir) {
		require.NoError(t, os.Rename(f, f+".off"))
	}
	e.open(opts)
	require.Zero(t, e.s.Recovery().Checkpoint)
	d := digest(t, e)
	e.s.failed = fmt.Errorf("keep the log as it is") // close without a new checkpoint
	e.close()
	for _, f := range ckptFiles(t, e.dir) {
		require.NoError(t, os.Remove(f))
	}
	m, err := filepath.Glob(filepath.Join(e.dir, logDir, "*.off"))
	require.NoError(t, err)
	for _, f := range m {
		require.NoError(t, os.Rename(f, f[:len(f)-4]))
	}
	return d
}

func TestCheckpointPlusTailEqualsFullReplay(t *testing.T) {
	opts := Options{SegmentSize: minSegmentSize, CheckpointBytes: 20 << 10}
	e := newEnv(t, opts)
	fill(t, e, 300)
	for i := range 30 {
		must(t, e, ops.KvDelete{Key: fmt.Sprintf("k%d", i%9)})
	}
	live := digest(t, e)
	e.close()
	files := ckptFiles(t, e.dir)
	require.Len(t, files, 2, "the newest and the previous checkpoint are kept")
	// Drop the newest (Close's) checkpoint: the previous one covers a
	// prefix, and the tail after it is replayed.
	require.NoError(t, os.Remove(files[1]))
	e.open(opts)
	rep := e.s.Recovery()
	require.Positive(t, rep.Checkpoint)
	assert.Positive(t, rep.Commits, "the tail after the checkpoint is replayed")
	assert.Less(t, rep.Commits, 360)
	assert.Equal(t, live, digest(t, e))
	assert.Equal(t, live, fullReplayDigest(t, e, opts))
}

func TestDamagedCheckpointFallsBack(t *testing.T) {
	opts := Options{CheckpointBytes: 8 << 10}
	e := newEnv(t, opts)
	fill(t, e, 100)
	live := digest(t, e)
	e.close()
	files := ckptFiles(t, e.dir)
	require.Len(t, files, 2)
	b, err := os.ReadFile(files[1])
	require.NoError(t, err)
	b[len(b)/2] ^= 1
	require.NoError(t, os.WriteFile(files[1], b, 0o644))
	// Open falls back to the previous checkpoint, so Verify's verdict is
	// ok too; it names the damaged file.
	vr, err := Verify(e.p(), e.dir)
	require.NoError(t, err)
	require.Len(t, vr.Skipped, 1, "Verify checks checkpoint files")
	assert.Equal(t, files[1], vr.Skipped[0].File)
	assert.Equal(t, 1, vr.Checkpoints)

	e.open(opts)
	rep := e.s.Recovery()
	assert.Equal(t, 1, rep.CheckpointsSkipped)
	assert.Positive(t, rep.Checkpoint, "the previous checkpoint is used")
	assert.Equal(t, live, digest(t, e))
	e.close()
	_, err = Verify(e.p(), e.dir)
	assert.NoError(t, err, "the next checkpoint replaced the damaged one")
}

func TestLogShorterThanCheckpointIsCorrupt(t *testing.T) {
	// A checkpoint is written only after the records it covers are
	// durable: a log that ends before it has lost acknowledged records.
	e := newEnv(t, Options{})
	fill(t, e, 20)
	e.close()
	recs := records(t, e)
	path := segPaths(t, e.dir)[0]
	cut := recs[len(recs)-3].Offset
	require.NoError(t, os.Truncate(path, cut))

	_, err := Open(e.p(), e.dir, Options{})
	var ce *CorruptError
	require.ErrorAs(t, err, &ce, "never a silently shorter log")
	assert.Equal(t, path, ce.File)
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Len(t, after, int(cut), "nothing is cut")
}

func TestCheckpointEncodingRoundTrip(t *testing.T) {
	e := newEnv(t, Options{SegmentSize: minSegmentSize})
	fill(t, e, 250)
	r := resume{seg: e.s.active.id, off: e.s.off, crc: e.s.lastCRC, lsn: e.s.st.lsn, last: e.s.lastOff, sum: e.s.segSum, version: ckptVersion}
	b := encodeCheckpoint(e.s.id, r, e.s.st)
	r2, st, err := decodeCheckpoint(b, e.s.id)
	require.NoError(t, err)
	assert.Equal(t, r, r2)
	e.s.sorted(func(*state) {})
	st.sortedNames()
	st.sortedKeys()
	// The ID index holds the same entries, though a table that grew may
	// place colliding ones in another order than one filled afresh.
	live, decoded := e.s.st.ids, st.ids
	require.NotNil(t, decoded)
	assert.Equal(t, live.Len(), decoded.Len())
	lb, err := live.AppendBinary(nil)
	require.NoError(t, err)
	db, err := decoded.AppendBinary(nil)
	require.NoError(t, err)
	assert.Equal(t, lb, db, "the ID index encodes the same")
	e.s.st.ids, st.ids = nil, nil
	// The decoded state has the count of streams the checkpoint records
	// (format 13), which the live state keeps as its own.
	assert.True(t, st.stCounted)
	assert.Equal(t, e.s.st.streamCount(), st.streamCount())
	st.stCounted = false
	assert.Equal(t, e.s.st, st)
	e.s.st.ids = live
	_, _, err = decodeCheckpoint(b, [16]byte{1})
	assert.Error(t, err)
}

func TestFlipInLastRecordCoveredByCheckpoint(t *testing.T) {
	// Without a checkpoint a damaged last record is indistinguishable from
	// a torn write; a checkpoint covering it proves it was durable.
	e := newEnv(t, Options{})
	fill(t, e, 10)
	e.close()
	recs := records(t, e)
	last := recs[len(recs)-1]
	path := segPaths(t, e.dir)[0]
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	b[last.Offset+40] ^= 1
	require.NoError(t, os.WriteFile(path, b, 0o644))
	_, err = Open(e.p(), e.dir, Options{})
	var ce *CorruptError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, last.Offset, ce.Offset)
}
