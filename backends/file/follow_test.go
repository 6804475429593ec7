package file

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// dirListing describes every file and directory under dir: path, kind,
// size and the SHA-256 of the content. Nothing is ignored.
func dirListing(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() {
			out = append(out, rel+"/")
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out = append(out, fmt.Sprintf("%s %d %s", rel, len(b), hex.EncodeToString(sum[:])))
		return nil
	})
	require.NoError(t, err)
	sort.Strings(out)
	return out
}

// follower is a read-only store on its own OS handler, beside a writer.
type followerEnv struct {
	t  *testing.T
	s  *Store
	os *platform.OS
}

func openFollower(t *testing.T, dir string, opts Options) *followerEnv {
	t.Helper()
	h := &platform.OS{}
	s, err := OpenReadOnly(effect.Handle(context.Background(), h), dir, opts)
	require.NoError(t, err)
	f := &followerEnv{t: t, s: s, os: h}
	t.Cleanup(func() {
		if !f.s.closed.Load() {
			_ = f.s.Close(effect.Handle(context.Background(), h))
		}
	})
	return f
}

func (f *followerEnv) p(ctx context.Context) *effect.P {
	return effect.Handle(ctx, f.s, f.os)
}

func fdo[R any](f *followerEnv, op effect.Op[R]) R {
	f.t.Helper()
	r, err := effect.Perform(f.p(context.Background()), op)
	require.NoError(f.t, err)
	return r
}

func TestReadOnlyFollowsWriter(t *testing.T) {
	opts := Options{SegmentSize: minSegmentSize, CheckpointBytes: 32 << 10}
	w := newEnv(t, opts)
	must(t, w, ops.Append{Stream: "a", Events: evs("1", "2")})
	must(t, w, ops.KvPut{Key: "k", Value: []byte("v1")})

	before := dirListing(t, w.dir)
	r := openFollower(t, w.dir, opts)
	assert.True(t, r.s.ReadOnly())
	assert.Equal(t, uint64(2), fdo(r, ops.Head{Stream: "a"}))
	got := fdo(r, ops.Read{Stream: "a"})
	require.Len(t, got.Events, 2)
	assert.Equal(t, []byte("2"), got.Events[1].Data)

	// Writes are refused, and nothing is written.
	rp := r.p(context.Background())
	for _, op := range []effect.Effect{
		ops.Append{Stream: "a", Events: evs("x")},
		ops.Commit{Appends: []ops.Append{{Stream: "b", Events: evs("x")}}},
		ops.KvPut{Key: "k", Value: []byte("x")},
		ops.KvDelete{Key: "k"},
		ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "s", Value: []byte("x")}},
	} {
		_, err := rp.Send(op)
		assert.ErrorIs(t, err, ErrReadOnly, "%T", op)
	}
	res := fdo(r, ops.Wait{Stream: "a", After: 2, Timeout: 60 * time.Millisecond})
	assert.False(t, res.Passed)
	assert.Equal(t, before, dirListing(t, w.dir), "the reader changed the directory")

	// Appends through the writer show in every read of the reader.
	must(t, w, ops.Append{Stream: "a", Events: evs("3")})
	must(t, w, ops.Append{Stream: "b", Events: evs("b1")})
	must(t, w, ops.KvPut{Key: "k", Value: []byte("v2")})
	assert.Equal(t, uint64(3), fdo(r, ops.Head{Stream: "a"}))
	all := fdo(r, ops.ReadAll{})
	require.Len(t, all.Events, 4)
	assert.Equal(t, "b", all.Events[3].Stream)
	kv := fdo(r, ops.KvGet{Key: "k"})
	require.NotNil(t, kv)
	assert.Equal(t, []byte("v2"), kv.Value)
	assert.Equal(t, uint64(2), kv.Revision)
	names := fdo(r, ops.Streams{})
	assert.Len(t, names.Streams, 2)
	assert.Len(t, fdo(r, ops.KvList{}).Entries, 1)

	// Wait wakes on an append made after it started.
	type waited struct {
		res ops.WaitResult
		err error
		at  time.Time
	}
	done := make(chan waited, 1)
	go func() {
		res, err := effect.Perform(r.p(context.Background()), ops.Wait{Stream: "b", After: 1, Timeout: 5 * time.Second})
		done <- waited{res, err, time.Now()}
	}()
	time.Sleep(100 * time.Millisecond)
	began := time.Now()
	must(t, w, ops.Append{Stream: "b", Events: evs("b2")})
	select {
	case got := <-done:
		require.NoError(t, got.err)
		assert.True(t, got.res.Passed)
		assert.Equal(t, uint64(2), got.res.Head)
		t.Logf("wait woke %v after the append began", got.at.Sub(began))
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not wake")
	}

	// A cancelled context ends a Wait.
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(60 * time.Millisecond); cancel() }()
	_, err := effect.Perform(r.p(ctx), ops.Wait{Stream: "b", After: 99})
	assert.ErrorIs(t, err, context.Canceled)

	// Segment rolls are followed (and checkpoints written meanwhile do not
	// matter).
	big := strings.Repeat("x", 4000)
	for i := range 60 {
		must(t, w, ops.Append{Stream: "big", Events: evs(fmt.Sprint(i, big))})
		if i%7 == 0 { // catch up in the middle of the rolls too
			assert.Equal(t, uint64(i+1), fdo(r, ops.Head{Stream: "big"}))
		}
	}
	require.Greater(t, w.s.Stats().Segments, 3)
	all = fdo(r, ops.ReadAll{From: 1, Limit: 1000})
	wall := must(t, w, ops.ReadAll{From: 1, Limit: 1000})
	assert.Equal(t, wall, all)
	assert.Equal(t, w.s.Stats().Segments, r.s.Stats().Segments)
	assert.Equal(t, w.s.Stats().LSN, r.s.Stats().LSN)
	assert.Equal(t, w.s.Stats().LogBytes, r.s.Stats().LogBytes)
	assert.Equal(t, uint64(60), fdo(r, ops.Head{Stream: "big"}))

	// A second reader opened now starts from a checkpoint and agrees.
	r2 := openFollower(t, w.dir, opts)
	assert.NotZero(t, r2.s.Recovery().Checkpoint)
	assert.Equal(t, wall, fdo(r2, ops.ReadAll{From: 1, Limit: 1000}))

	// A half-written record at the end of the log is not seen and not
	// cut; once complete it is seen.
	seg, off, crc, lsn, lastPos := w.s.active, w.s.off, w.s.lastCRC, w.s.st.lsn, w.s.st.lastPos
	segPath := seg.path
	w.close()
	evID := uuid.New()
	rec := commitRec{at: time.Now().UnixNano(), firstPos: lastPos + 1, parts: []partRec{{
		stream: "a", firstSeq: 4, n: 1, src: []ops.EventData{{Type: "t", Data: []byte(strings.Repeat("h", 300))}}, ids: []uuid.UUID{evID},
	}}}
	b, _ := appendRecord(nil, recCommit, crc, seg.id, lsn+1, func(b []byte) []byte { return appendCommit(b, &rec) })
	file, err := os.OpenFile(segPath, os.O_WRONLY, 0)
	require.NoError(t, err)
	defer file.Close()
	half := len(b) / 2
	_, err = file.WriteAt(b[:half], off)
	require.NoError(t, err)
	torn := dirListing(t, w.dir)
	assert.Equal(t, uint64(3), fdo(r, ops.Head{Stream: "a"}))
	res = fdo(r, ops.Wait{Stream: "a", After: 3, Timeout: 120 * time.Millisecond})
	assert.False(t, res.Passed, "a half-written record was seen")
	r3 := openFollower(t, w.dir, opts) // a fresh open does not cut it either
	assert.Equal(t, uint64(3), fdo(r3, ops.Head{Stream: "a"}))
	assert.Equal(t, torn, dirListing(t, w.dir), "a reader changed the directory")

	_, err = file.WriteAt(b[half:], off+int64(half))
	require.NoError(t, err)
	res = fdo(r, ops.Wait{Stream: "a", After: 3, Timeout: 5 * time.Second})
	assert.True(t, res.Passed)
	got = fdo(r, ops.Read{Stream: "a", From: 4})
	require.Len(t, got.Events, 1)
	assert.Equal(t, evID, got.Events[0].ID)
	assert.Equal(t, lastPos+1, got.Events[0].Pos)
	assert.Equal(t, uint64(4), fdo(r3, ops.Head{Stream: "a"}))

	final := dirListing(t, w.dir)
	for _, f := range []*followerEnv{r, r2, r3} {
		require.NoError(t, f.s.Close(effect.Handle(context.Background(), f.os)))
	}
	assert.Equal(t, final, dirListing(t, w.dir), "closing a reader changed the directory")
	_, err = rp.Send(ops.Head{Stream: "a"})
	assert.ErrorIs(t, err, ops.ErrClosed)
}

func TestReadOnlyRefusesNoStore(t *testing.T) {
	dir := t.TempDir()
	p := effect.Handle(context.Background(), &platform.OS{})
	_, err := OpenReadOnly(p, filepath.Join(dir, "missing"), Options{})
	assert.ErrorIs(t, err, fs.ErrNotExist)
	_, err = os.Stat(filepath.Join(dir, "missing"))
	assert.ErrorIs(t, err, fs.ErrNotExist, "the directory was created")

	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.Mkdir(empty, 0o755))
	_, err = OpenReadOnly(p, empty, Options{})
	assert.ErrorIs(t, err, fs.ErrNotExist)
	ents, err := os.ReadDir(empty)
	require.NoError(t, err)
	assert.Empty(t, ents, "the reader wrote into an empty directory")
}

func TestReadOnlySealedDamageIsCorrupt(t *testing.T) {
	opts := Options{SegmentSize: minSegmentSize, CheckpointBytes: -1}
	w := newEnv(t, opts)
	big := strings.Repeat("y", 4000)
	for i := range 40 {
		must(t, w, ops.Append{Stream: "s", Events: evs(fmt.Sprint(i, big))})
	}
	require.Greater(t, w.s.Stats().Segments, 2)
	w.close()
	dropCheckpoints(t, w.dir) // what a checkpoint covers is checked by reads (below)
	path := filepath.Join(w.dir, logDir, segName(1))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	b[200] ^= 0xff
	require.NoError(t, os.WriteFile(path, b, 0o644))
	before := dirListing(t, w.dir)
	_, err = OpenReadOnly(effect.Handle(context.Background(), &platform.OS{}), w.dir, opts)
	assert.ErrorIs(t, err, ErrCorrupt)
	assert.Equal(t, before, dirListing(t, w.dir))
}

// A writer that creates the store after the reader opened it: the reader
// follows segment 1 as it appears.
func TestReadOnlyBeforeFirstSegment(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, logDir), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, snapDir), 0o755))
	id := [16]byte{1, 2, 3}
	require.NoError(t, os.WriteFile(filepath.Join(dir, identityFile), []byte(identityPrefix+hex.EncodeToString(id[:])+"\n"), 0o644))
	r := openFollower(t, dir, Options{})
	assert.Equal(t, uint64(0), fdo(r, ops.Head{Stream: "s"}))

	w := &env{t: t, dir: dir, os: &platform.OS{}}
	w.open(Options{})
	t.Cleanup(func() { w.close() })
	must(t, w, ops.Append{Stream: "s", Events: evs("1")})
	res := fdo(r, ops.Wait{Stream: "s", Timeout: 5 * time.Second})
	assert.True(t, res.Passed)
	assert.Equal(t, uint64(1), res.Head)
}

// BenchmarkReadOnlyCatchUpIdle measures a read on a follower when the
// writer wrote nothing since: the cost of looking.
func BenchmarkReadOnlyCatchUpIdle(b *testing.B) {
	w := newEnv(b, Options{})
	must(b, w, ops.Append{Stream: "s", Events: evs("1")})
	h := &platform.OS{}
	s, err := OpenReadOnly(effect.Handle(context.Background(), h), w.dir, Options{})
	require.NoError(b, err)
	defer s.Close(effect.Handle(context.Background(), h))
	p := effect.Handle(context.Background(), s, h)
	b.ResetTimer()
	for b.Loop() {
		if _, err := effect.Perform(p, ops.Head{Stream: "s"}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestReadOnlyConcurrent reads through a follower while writers append
// and the log rolls: every event shows exactly once, in order, complete.
func TestReadOnlyConcurrent(t *testing.T) {
	opts := Options{SegmentSize: minSegmentSize, CheckpointBytes: 48 << 10}
	w := newEnv(t, opts)
	must(t, w, ops.Append{Stream: "s0", Events: evs("start")})
	r := openFollower(t, w.dir, opts)
	const writers, each = 3, 80
	errs := make(chan error, writers)
	for i := range writers {
		go func() {
			for j := range each {
				data := fmt.Sprintf("%d/%d/%s", i, j, strings.Repeat("z", 300+j*13%1500))
				if _, err := perform(w, ops.Append{Stream: fmt.Sprint("w", i), Events: evs(data)}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	next := uint64(1)
	seen := map[string]int{}
	deadline := time.Now().Add(30 * time.Second)
	for next <= 1+writers*each && time.Now().Before(deadline) {
		res, err := effect.Perform(r.p(context.Background()), ops.ReadAll{From: next, Limit: 50})
		require.NoError(t, err)
		for _, e := range res.Events {
			require.Equal(t, next, e.Pos)
			next++
			if e.Stream == "s0" {
				continue
			}
			var wi, j int
			_, err := fmt.Sscanf(string(e.Data), "%d/%d/", &wi, &j)
			require.NoError(t, err)
			require.Equal(t, seen[e.Stream], j, "events of %s in order", e.Stream)
			require.Equal(t, uint64(j+1), e.Seq)
			require.Len(t, e.Data, len(fmt.Sprintf("%d/%d/", wi, j))+300+j*13%1500)
			seen[e.Stream]++
		}
		if len(res.Events) == 0 {
			_, err := effect.Perform(r.p(context.Background()), ops.Wait{After: next - 1, Timeout: time.Second})
			require.NoError(t, err)
		}
	}
	for range writers {
		require.NoError(t, <-errs)
	}
	assert.Equal(t, uint64(2+writers*each), next)
	assert.Greater(t, r.s.Stats().Segments, 3)
	assert.Equal(t, must(t, w, ops.ReadAll{Limit: 1000}), fdo(r, ops.ReadAll{Limit: 1000}))
}
