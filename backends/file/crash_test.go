package file

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

func segPaths(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, logDir, "seg-*.log"))
	require.NoError(t, err)
	sort.Strings(m)
	return m
}

// records lists the records of the store in dir.
func records(t testing.TB, e *env) []Record {
	t.Helper()
	var out []Record
	for r, err := range Dump(e.p(), e.dir) {
		require.NoError(t, err)
		out = append(out, r)
	}
	return out
}

// digest summarises a store's whole state: heads, events, kv, stats.
func digest(t testing.TB, e *env) string {
	t.Helper()
	h := sha256.New()
	st := must(t, e, ops.Streams{Limit: ops.MaxPage})
	for _, s := range st.Streams {
		rr := must(t, e, ops.Read{Stream: s.Name, Limit: ops.MaxPage})
		fmt.Fprintf(h, "%s %d\n", s.Name, s.Head)
		for _, ev := range rr.Events {
			fmt.Fprintf(h, "%v %d %d %s %d %x\n", ev.ID, ev.Seq, ev.Pos, ev.Type, ev.At.UnixNano(), ev.Data)
		}
	}
	kv := must(t, e, ops.KvList{Limit: ops.MaxPage})
	for _, k := range kv.Entries {
		fmt.Fprintf(h, "%s %d %x\n", k.Key, k.Revision, k.Value)
	}
	s := e.s.Stats()
	fmt.Fprintf(h, "%d %d %d", s.Revision, s.Events, s.Commits)
	return fmt.Sprintf("%x", h.Sum(nil))
}

// dropCheckpoints removes the store checkpoints a clean close left, so
// that the directory is as a crash would have left it: the tail of the log
// covered by no checkpoint.
func dropCheckpoints(t testing.TB, dir string) {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, logDir, ckptPrefix+"*"))
	require.NoError(t, err)
	for _, f := range m {
		require.NoError(t, os.Remove(f))
	}
}

func fill(t testing.TB, e *env, n int) {
	t.Helper()
	for i := range n {
		must(t, e, ops.Append{Stream: fmt.Sprintf("s%d", i%4), Events: evs(fmt.Sprintf("%d-%0300d", i, i))})
		if i%5 == 0 {
			must(t, e, ops.KvPut{Key: fmt.Sprintf("k%d", i%7), Value: []byte(fmt.Sprint(i))})
		}
	}
}

func TestTornTailTruncated(t *testing.T) {
	e := newEnv(t, Options{})
	fill(t, e, 20)
	e.close()
	dropCheckpoints(t, e.dir)
	recs := records(t, e)
	last := recs[len(recs)-1]
	path := segPaths(t, e.dir)[0]
	// Tear the last record: its second half never reached the disk and
	// holds garbage (a crash can leave that; a file cut short it cannot,
	// see TestCutAtRestIsCorrupt).
	before, err := os.ReadFile(path)
	require.NoError(t, err)
	for i := last.Offset + int64(last.Size)/2; i < last.Offset+int64(last.Size); i++ {
		before[i] = 0xa5
	}
	require.NoError(t, os.WriteFile(path, before, 0o644))

	e.open(Options{})
	rep := e.s.Recovery()
	require.NotNil(t, rep.Truncated)
	assert.Equal(t, path, rep.Truncated.File)
	assert.Equal(t, last.Offset, rep.Truncated.Offset)
	kept, err := os.ReadFile(rep.Truncated.KeptIn)
	require.NoError(t, err)
	assert.Equal(t, before[last.Offset:], kept, "the cut bytes are kept beside the segment")
	assert.Equal(t, int64(len(kept)), rep.Truncated.Bytes)
	assert.Equal(t, len(recs)-2, rep.Commits, "exactly the complete records survive")
	assert.Equal(t, uint64(19), e.s.Stats().Events)

	// The store takes new appends with fresh LSNs, and reopens cleanly.
	r := must(t, e, ops.Append{Stream: "new", Events: evs("after")})
	assert.Equal(t, uint64(20), r.FirstPos)
	d := digest(t, e)
	e.reopen(Options{})
	assert.Nil(t, e.s.Recovery().Truncated)
	assert.Equal(t, d, digest(t, e))
	_, err = Verify(e.p(), e.dir)
	require.NoError(t, err)

	// The cut is still on record after the clean reopen: RECOVERY keeps the
	// newest recovery that changed the directory.
	lr, found, err := ReadLastRecovery(e.p(), e.dir)
	require.NoError(t, err)
	require.True(t, found)
	require.NotNil(t, lr.Report.Truncated)
	assert.Equal(t, *rep.Truncated, *lr.Report.Truncated)
	assert.Equal(t, rep.Commits, lr.Report.Commits)
	assert.False(t, lr.At.IsZero())
}

func TestNoLastRecoveryWhenNothingChanged(t *testing.T) {
	e := newEnv(t, Options{})
	fill(t, e, 3)
	e.reopen(Options{})
	_, found, err := ReadLastRecovery(e.p(), e.dir)
	require.NoError(t, err)
	assert.False(t, found, "a clean open leaves no recovery report")
}

func TestGarbageTailTruncated(t *testing.T) {
	e := newEnv(t, Options{})
	fill(t, e, 5)
	d := digest(t, e)
	e.close()
	path := segPaths(t, e.dir)[0]
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write(bytes.Repeat([]byte{0xa5, 0x17, 0, 3}, 100))
	require.NoError(t, err)
	require.NoError(t, f.Close())

	rep, err := Verify(e.p(), e.dir)
	require.NoError(t, err)
	require.NotNil(t, rep.TornTail, "Verify reports what Open would cut")

	e.open(Options{})
	require.NotNil(t, e.s.Recovery().Truncated)
	assert.Equal(t, d, digest(t, e))
}

func TestZerosAfterTail(t *testing.T) {
	e := newEnv(t, Options{})
	fill(t, e, 10)
	d := digest(t, e)
	e.close()
	path := segPaths(t, e.dir)[0]
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write(make([]byte, 12345))
	require.NoError(t, err)
	require.NoError(t, f.Close())

	e.open(Options{})
	assert.Nil(t, e.s.Recovery().Truncated, "zeros are the end of the log, not damage")
	assert.Equal(t, d, digest(t, e))
	must(t, e, ops.Append{Stream: "x", Events: evs("y")})
	e.reopen(Options{})
	assert.Equal(t, uint64(1), must(t, e, ops.Head{Stream: "x"}))
}

func TestFlipInSealedSegment(t *testing.T) {
	e := newEnv(t, Options{SegmentSize: minSegmentSize})
	fill(t, e, 400)
	require.Greater(t, e.s.Stats().Segments, 2)
	e.close()
	recs := records(t, e)
	first := segPaths(t, e.dir)[0]
	var target Record
	for _, r := range recs {
		if r.File == first && r.Type == "commit" && r.Offset > 1000 {
			target = r
			break
		}
	}
	require.NotZero(t, target.Offset)
	b, err := os.ReadFile(first)
	require.NoError(t, err)
	b[target.Offset+40] ^= 0x04
	require.NoError(t, os.WriteFile(first, b, 0o644))

	// With the checkpoint Close wrote, Open trusts the covered segment
	// (rule 8); a read of the damaged record and Verify find it.
	s, err := Open(e.p(), e.dir, Options{SegmentSize: minSegmentSize})
	require.NoError(t, err)
	assert.Greater(t, s.Recovery().Trusted, 0)
	requireReadCorrupt(t, s, e, first, target)
	require.NoError(t, s.Close(e.p()))
	_, err = Verify(e.p(), e.dir)
	var ce *CorruptError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, first, ce.File)
	assert.Equal(t, target.Offset, ce.Offset)

	// Without one, Open reads the segment and refuses it.
	dropCheckpoints(t, e.dir)
	_, err = Open(e.p(), e.dir, Options{SegmentSize: minSegmentSize})
	require.ErrorAs(t, err, &ce)
	assert.ErrorIs(t, err, ErrCorrupt)
	assert.Equal(t, first, ce.File)
	assert.Equal(t, target.Offset, ce.Offset)
	assert.Contains(t, err.Error(), fmt.Sprintf("offset %d", target.Offset))

	_, err = Verify(e.p(), e.dir)
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, first, ce.File)
	assert.Equal(t, target.Offset, ce.Offset)

	after, err := os.ReadFile(first)
	require.NoError(t, err)
	assert.Equal(t, b, after, "a sealed segment is never truncated")
}

func TestMidLogCorruptionInLastSegment(t *testing.T) {
	e := newEnv(t, Options{})
	fill(t, e, 30)
	e.close()
	dropCheckpoints(t, e.dir)
	recs := records(t, e)
	victim := recs[5]
	path := segPaths(t, e.dir)[0]
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	b[victim.Offset+int64(victim.Size)-9] ^= 0xff
	require.NoError(t, os.WriteFile(path, b, 0o644))

	_, err = Open(e.p(), e.dir, Options{})
	var ce *CorruptError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, victim.Offset, ce.Offset)
	assert.Contains(t, ce.Reason, "valid record follows")
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, b, after, "nothing is cut when a valid record follows")
}

func TestZeroedSectorMidLog(t *testing.T) {
	e := newEnv(t, Options{})
	fill(t, e, 30)
	e.close()
	recs := records(t, e)
	path := segPaths(t, e.dir)[0]
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	off := recs[3].Offset
	copy(b[off:off+512], make([]byte, 512))
	require.NoError(t, os.WriteFile(path, b, 0o644))
	// Covered by the checkpoint Close wrote: found by a read and by
	// Verify, not by Open (rule 8).
	s, err := Open(e.p(), e.dir, Options{})
	require.NoError(t, err)
	requireReadCorrupt(t, s, e, path, recs[3])
	require.NoError(t, s.Close(e.p()))
	_, err = Verify(e.p(), e.dir)
	assert.ErrorIs(t, err, ErrCorrupt)
	dropCheckpoints(t, e.dir)
	_, err = Open(e.p(), e.dir, Options{})
	assert.ErrorIs(t, err, ErrCorrupt)
}

// requireReadCorrupt reads the events of the commit record rec through s
// and requires the read to fail with ErrCorrupt naming its file and
// offset.
func requireReadCorrupt(t *testing.T, s *Store, e *env, file string, rec Record) {
	t.Helper()
	require.NotEmpty(t, rec.Events)
	ev := rec.Events[0]
	p := effect.Handle(context.Background(), s, e.os)
	for _, op := range []ops.Read{{Stream: ev.Stream, From: ev.Seq, Limit: 1}} {
		_, err := effect.Perform(p, op)
		var ce *CorruptError
		require.ErrorAs(t, err, &ce, "a read of the damaged record")
		assert.Equal(t, file, ce.File)
		assert.Equal(t, rec.Offset, ce.Offset)
	}
	_, err := effect.Perform(p, ops.ReadAll{From: ev.Pos, Limit: 1})
	var ce *CorruptError
	require.ErrorAs(t, err, &ce, "a read by position of the damaged record")
	assert.Equal(t, file, ce.File)
	assert.Equal(t, rec.Offset, ce.Offset)
}

func TestReopenTwiceIdentical(t *testing.T) {
	e := newEnv(t, Options{SegmentSize: minSegmentSize})
	fill(t, e, 300)
	must(t, e, ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "p", Version: 1, Seq: 3, Value: []byte("v")}})
	d, lsn := digest(t, e), e.s.Stats().LSN
	e.reopen(Options{SegmentSize: minSegmentSize})
	assert.Equal(t, d, digest(t, e))
	assert.Equal(t, lsn, e.s.Stats().LSN)
	e.reopen(Options{SegmentSize: minSegmentSize})
	assert.Equal(t, d, digest(t, e))
	assert.Equal(t, lsn, e.s.Stats().LSN)
	rep, err := Verify(e.p(), e.dir)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Snapshots)
	assert.Equal(t, uint64(300), rep.Events)
}

// The newest segment of a store that was not closed cleanly is lost
// (deleted, or its name never made durable). A sealed segment proves its
// successor was durable: that is corruption, never an interrupted roll
// that serves a shorter log (where a key deleted in the lost segment
// would come back).
func TestMissingNewestSegment(t *testing.T) {
	for _, how := range []string{"deleted", "renamed to tmp"} {
		t.Run(how, func(t *testing.T) {
			e := newEnv(t, Options{SegmentSize: minSegmentSize})
			must(t, e, ops.KvPut{Key: "gone", Value: []byte("v")})
			for i := 0; e.s.Stats().Segments == 1; i++ {
				must(t, e, ops.Append{Stream: "s", Events: evs(fmt.Sprintf("%0500d", i))})
			}
			must(t, e, ops.KvDelete{Key: "gone"})
			e.close()
			dropCheckpoints(t, e.dir)
			paths := segPaths(t, e.dir)
			require.Len(t, paths, 2)
			if how == "deleted" {
				require.NoError(t, os.Remove(paths[1]))
			} else {
				require.NoError(t, os.Rename(paths[1], paths[1]+tmpSuffix))
			}
			before, err := os.ReadFile(paths[0])
			require.NoError(t, err)

			_, err = Open(e.p(), e.dir, Options{SegmentSize: minSegmentSize})
			var ce *CorruptError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, paths[0], ce.File)
			assert.Equal(t, int64(len(before)-sealSize), ce.Offset, "the offset of the seal")
			assert.Contains(t, ce.Reason, "successor")
			assert.Contains(t, ce.Reason, "missing")
			after, err := os.ReadFile(paths[0])
			require.NoError(t, err)
			assert.Equal(t, before, after, "nothing is changed")
		})
	}
}

func TestMissingSegment(t *testing.T) {
	e := newEnv(t, Options{SegmentSize: minSegmentSize})
	fill(t, e, 400)
	e.close()
	paths := segPaths(t, e.dir)
	require.Greater(t, len(paths), 2)
	require.NoError(t, os.Remove(paths[1]))
	_, err := Open(e.p(), e.dir, Options{SegmentSize: minSegmentSize})
	var ce *CorruptError
	require.ErrorAs(t, err, &ce)
	assert.Contains(t, ce.Reason, "missing")
}

func TestMisdirectedSegment(t *testing.T) {
	// A segment from another store, or at another name, is caught by the
	// store id and segment id in its records.
	a := newEnv(t, Options{})
	fill(t, a, 3)
	a.close()
	b := newEnv(t, Options{})
	fill(t, b, 3)
	b.close()
	src, err := os.ReadFile(segPaths(t, a.dir)[0])
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(segPaths(t, b.dir)[0], src, 0o644))
	_, err = Open(b.p(), b.dir, Options{})
	assert.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "another store")
}

func TestReadRechecksFrame(t *testing.T) {
	e := newEnv(t, Options{})
	fill(t, e, 10)
	recs := records(t, e)
	path := segPaths(t, e.dir)[0]
	// Damage a durable record under the running store.
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte{0xff}, recs[1].Offset+40)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	_, err = perform(e, ops.Read{Stream: "s0"})
	var ce *CorruptError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, recs[1].Offset, ce.Offset)
	assert.Equal(t, path, ce.File)
}

func TestLeftoverTmpRemoved(t *testing.T) {
	e := newEnv(t, Options{})
	fill(t, e, 3)
	e.close()
	junk := filepath.Join(e.dir, snapDir, "x.snap.tmp")
	require.NoError(t, os.WriteFile(junk, []byte("half"), 0o644))
	e.open(Options{})
	assert.Equal(t, []string{junk}, e.s.Recovery().RemovedTmp)
	_, err := os.Stat(junk)
	assert.ErrorIs(t, err, os.ErrNotExist)
}
