package file

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// compactFixture writes a store of several sealed segments where stream
// "a" keeps its last 10 events of 400, "b" is soft-deleted, "keep" keeps
// everything, some commits mix "a" and "keep", and a key is put often.
func compactFixture(t *testing.T, e *env) {
	t.Helper()
	big := bytes.Repeat([]byte("x"), 600)
	for i := range 400 {
		must(t, e, ops.Append{Stream: "a", Events: []ops.EventData{{Type: "t", Data: append([]byte(fmt.Sprint("a", i, "-")), big...)}}})
		if i%4 == 0 {
			must(t, e, ops.Append{Stream: "b", Events: evs(fmt.Sprint("b", i), fmt.Sprint("b", i, "'"))})
		}
		if i%50 == 0 {
			must(t, e, ops.Commit{Appends: []ops.Append{
				{Stream: "a", Events: evs(fmt.Sprint("a-mixed", i))},
				{Stream: "keep", Events: evs(fmt.Sprint("keep", i))},
			}})
			must(t, e, ops.KvPut{Key: "k", Value: []byte(fmt.Sprint("v", i))})
		}
	}
	must(t, e, ops.StreamMetaWrite{Stream: "a", Meta: ops.StreamMeta{MaxCount: 10}})
	must(t, e, ops.StreamDelete{Stream: "b"})
	must(t, e, ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "p", Version: 1, Seq: 408, Value: []byte("folded")}, Keep: 2})
}

// compactView is every answer a reader gets of the fixture.
type compactView struct {
	a, b, keep []ops.Event
	all        []ops.Event
	nexts      []uint64
	heads      map[string]uint64
	kv         []byte
	hist       []ops.KvVersion
	visible    uint64
	metaA      ops.StreamMetaResult
	watch      ops.KvWatchResult
	snap       ops.SnapshotResult
	wait       ops.WaitResult
}

func readCompactView(t *testing.T, e *env) compactView {
	t.Helper()
	v := compactView{heads: map[string]uint64{}}
	v.a = must(t, e, ops.Read{Stream: "a"}).Events
	v.b = must(t, e, ops.Read{Stream: "b"}).Events
	v.keep = must(t, e, ops.Read{Stream: "keep"}).Events
	for from := uint64(1); ; {
		r := must(t, e, ops.ReadAll{From: from, Limit: 97})
		v.all = append(v.all, r.Events...)
		v.nexts = append(v.nexts, r.Next)
		if r.Next > r.Head {
			break
		}
		from = r.Next
	}
	for _, s := range []string{"a", "b", "keep"} {
		v.heads[s] = must(t, e, ops.Head{Stream: s})
	}
	v.kv = must(t, e, ops.KvGet{Key: "k"}).Value
	v.hist = must(t, e, ops.KvHistory{Key: "k"}).Versions
	v.visible = must(t, e, ops.Stat{}).EventsVisible
	v.metaA = must(t, e, ops.StreamMetaRead{Stream: "a"})
	v.watch = must(t, e, ops.KvWatch{})
	v.snap = must(t, e, ops.SnapshotRead{Name: "p"})
	v.wait = must(t, e, ops.Wait{Stream: "a", After: v.heads["a"] - 1, Timeout: time.Second})
	return v
}

// statBlocks is the 512-byte blocks a file takes on disk.
func statBlocks(fi os.FileInfo) (int64, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Blocks, true
}

// diskBlocks is the space the segment files of dir take on disk, in
// 512-byte blocks, as du counts it.
func diskBlocks(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	require.NoError(t, filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if blocks, ok := statBlocks(fi); ok && !fi.IsDir() && filepath.Ext(path) == ".log" {
			n += blocks
		}
		return nil
	}))
	return n
}

func TestCompactReclaimsHiddenAndKeepsAnswers(t *testing.T) {
	opts := Options{SegmentSize: 64 << 10}
	e := newEnv(t, opts)
	compactFixture(t, e)
	before := readCompactView(t, e)
	require.Len(t, before.a, 10)
	require.Empty(t, before.b)
	require.Len(t, before.keep, 8)
	logDir := filepath.Join(e.dir, "log")
	blocksBefore := diskBlocks(t, logDir)

	predicted := must(t, e, ops.Stat{}).BytesReclaimable
	res, err := e.s.Compact(e.p(), CompactOptions{})
	require.NoError(t, err)
	t.Logf("%+v", res)
	assert.Equal(t, predicted, uint64(res.Bytes), "stat predicted what compaction left unwritten")
	st := must(t, e, ops.Stat{})
	assert.Zero(t, st.BytesReclaimable, "nothing more to reclaim")
	assert.Equal(t, res.At, st.LastCompaction)
	assert.Greater(t, res.Rewritten, 0)
	assert.Greater(t, res.Events, int64(300), "hidden events of a and b")
	assert.Greater(t, res.Bytes, int64(200<<10))
	blocksAfter := diskBlocks(t, logDir)
	t.Logf("log blocks %d -> %d", blocksBefore, blocksAfter)
	assert.Less(t, (blocksBefore-blocksAfter)*512, res.Bytes+int64(res.Records)*4096, "no more freed than left unwritten")
	assert.Greater(t, (blocksBefore-blocksAfter)*512, res.Bytes/2, "the holes left the disk")

	assert.Equal(t, before, readCompactView(t, e), "answers unchanged after compaction")
	vr, err := Verify(e.p(), e.dir)
	require.NoError(t, err, "Verify of the live compacted store")
	t.Logf("verify %+v", vr)

	again, err := e.s.Compact(e.p(), CompactOptions{})
	require.NoError(t, err)
	assert.Zero(t, again.Records, "a second run finds nothing new")

	e.reopen(opts)
	assert.Equal(t, before, readCompactView(t, e), "answers unchanged after a reopen from the checkpoint")
	assert.Equal(t, res.At, must(t, e, ops.Stat{}).LastCompaction, "the last compaction's time survives a reopen")
	e.close()
	ents, err := os.ReadDir(logDir)
	require.NoError(t, err)
	for _, en := range ents {
		if filepath.Ext(en.Name()) == ckptSuffix {
			require.NoError(t, os.Remove(filepath.Join(logDir, en.Name())))
		}
	}
	_, err = Verify(e.p(), e.dir)
	require.NoError(t, err, "Verify of the closed compacted store, replaying every gap")
	e.open(Options{SegmentSize: 64 << 10, CheckpointBytes: -1})
	assert.Zero(t, e.s.Recovery().Checkpoint, "replayed without a checkpoint")
	assert.Equal(t, before, readCompactView(t, e), "answers unchanged after a full replay")

	// What compaction took stays hidden when the limit is lifted.
	must(t, e, ops.StreamMetaWrite{Stream: "a", Meta: ops.StreamMeta{}})
	a := must(t, e, ops.Read{Stream: "a"}).Events
	require.NotEmpty(t, a)
	assert.Greater(t, a[0].Seq, uint64(300), "reads start at the compaction floor, past every event it took")
	for _, ev := range must(t, e, ops.ReadAll{}).Events {
		assert.NotEqual(t, "b", ev.Stream, "b's compacted events stay hidden")
	}
	r := must(t, e, ops.Append{Stream: "a", Events: evs("after")})
	assert.Equal(t, before.heads["a"]+1, r.FirstSeq, "seqs go on")
}

func TestCompactBesideReadersAndWriters(t *testing.T) {
	opts := Options{SegmentSize: 64 << 10, CheckpointBytes: 128 << 10}
	e := newEnv(t, opts)
	compactFixture(t, e)
	before := readCompactView(t, e)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 4)
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := perform(e, ops.Append{Stream: "w", Events: evs(fmt.Sprint("w", i))}); err != nil {
				errs <- err
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			r, err := perform(e, ops.Read{Stream: "a"})
			if err == nil && len(r.Events) != 10 {
				err = fmt.Errorf("read %d events of a", len(r.Events))
			}
			if err == nil {
				_, err = perform(e, ops.ReadAll{Limit: 500})
			}
			if err != nil {
				errs <- err
				return
			}
		}
	}()
	res, err := e.s.Compact(e.p(), CompactOptions{})
	close(stop)
	wg.Wait()
	close(errs)
	require.NoError(t, err)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Greater(t, res.Events, int64(300))
	after := readCompactView(t, e)
	assert.Equal(t, before.a, after.a)
	assert.Equal(t, before.keep, after.keep)
	e.reopen(opts)
	_, err = Verify(e.p(), e.dir)
	require.NoError(t, err)
}

func TestCompactDueByFraction(t *testing.T) {
	_, err := Open(newEnv(t, Options{}).p(), t.TempDir(), Options{CompactFraction: 1.5})
	require.ErrorContains(t, err, "CompactFraction 1.5 outside 0..1")

	opts := Options{SegmentSize: 64 << 10, CompactFraction: 0.5}
	e := newEnv(t, opts)
	compactFixture(t, e)
	must(t, e, ops.StreamMetaWrite{Stream: "a", Meta: ops.StreamMeta{}})
	_, ran, err := e.s.CompactDue(e.p(), CompactOptions{})
	require.NoError(t, err)
	assert.False(t, ran, "nothing hidden but b's 200 of 616")
	must(t, e, ops.StreamMetaWrite{Stream: "a", Meta: ops.StreamMeta{MaxCount: 10}})
	res, ran, err := e.s.CompactDue(e.p(), CompactOptions{})
	require.NoError(t, err)
	assert.True(t, ran, "a's limit hides most of the log")
	assert.Greater(t, res.Events, int64(300))
	_, ran, err = e.s.CompactDue(e.p(), CompactOptions{})
	require.NoError(t, err)
	assert.False(t, ran, "not again before the log grows by a segment")
}

func TestCompactFollowerDumpAndDamage(t *testing.T) {
	opts := Options{SegmentSize: 64 << 10}
	e := newEnv(t, opts)
	compactFixture(t, e)
	before := readCompactView(t, e)
	res, err := e.s.Compact(e.p(), CompactOptions{})
	require.NoError(t, err)
	require.Greater(t, res.Records, int64(0))

	// A follower opened on the compacted store reads what the writer does.
	f, err := OpenReadOnly(e.p(), e.dir, Options{})
	require.NoError(t, err)
	fe := &env{t: t, dir: e.dir, os: e.os, s: f}
	assert.Equal(t, before.a, must(t, fe, ops.Read{Stream: "a"}).Events)
	all := must(t, fe, ops.ReadAll{Limit: 1000})
	assert.Equal(t, before.all, all.Events)
	require.NoError(t, f.Close(e.p()))

	// Dump yields the gap records with the rest.
	e.close()
	gaps := 0
	var gapAt Record
	for r, err := range Dump(e.p(), e.dir) {
		require.NoError(t, err)
		if r.Type == "gap" {
			if gaps == 0 {
				gapAt = r
			}
			gaps++
		}
	}
	assert.GreaterOrEqual(t, gaps, res.Rewritten, "a run at least per rewritten segment")

	// A damaged gap record is found by Verify, naming its file and offset.
	b, err := os.ReadFile(gapAt.File)
	require.NoError(t, err)
	good := append([]byte(nil), b...)
	b[gapAt.Offset+frameSize+1] ^= 0x40
	require.NoError(t, os.WriteFile(gapAt.File, b, 0o644))
	_, err = Verify(e.p(), e.dir)
	var ce *CorruptError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, gapAt.File, ce.File)
	assert.Equal(t, gapAt.Offset, ce.Offset)
	require.NoError(t, os.WriteFile(gapAt.File, good, 0o644))

	// A damaged compaction file fails Open loudly, changing nothing.
	path := filepath.Join(e.dir, "log", compactedFile)
	cb, err := os.ReadFile(path)
	require.NoError(t, err)
	cb[len(cb)-6] ^= 1
	require.NoError(t, os.WriteFile(path, cb, 0o644))
	_, err = Open(e.p(), e.dir, opts)
	require.ErrorIs(t, err, ErrCorrupt)
	assert.ErrorContains(t, err, "compacted")
	cb[len(cb)-6] ^= 1
	require.NoError(t, os.WriteFile(path, cb, 0o644))
	e.open(opts)
	assert.Equal(t, before, readCompactView(t, e))
}

func TestDBCompact(t *testing.T) {
	ctx := context.Background()
	db, err := OpenDir(ctx, filepath.Join(t.TempDir(), "data"), Options{SegmentSize: 64 << 10})
	require.NoError(t, err)
	defer db.Close()
	p := effect.Handle(ctx, db)
	big := bytes.Repeat([]byte("d"), 4<<10)
	for range 40 {
		_, err := effect.Perform(p, ops.Append{Stream: "s", Events: []ops.EventData{{Type: "t", Data: big}}})
		require.NoError(t, err)
	}
	_, err = effect.Perform(p, ops.StreamMetaWrite{Stream: "s", Meta: ops.StreamMeta{MaxCount: 1}})
	require.NoError(t, err)
	_, ran, err := db.CompactDue(ctx, CompactOptions{})
	require.NoError(t, err)
	assert.False(t, ran, "no policy set")
	var seen []int
	res, err := db.Compact(ctx, CompactOptions{Progress: func(done, total int) { seen = append(seen, done, total) }})
	require.NoError(t, err)
	assert.Greater(t, res.Events, int64(20))
	assert.Equal(t, []int{1, res.Segments}, seen[:2], "progress counts the segments")
	r, err := effect.Perform(p, ops.Read{Stream: "s"})
	require.NoError(t, err)
	require.Len(t, r.Events, 1)
	assert.Equal(t, uint64(40), r.Events[0].Seq)
}
