package file

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

func writeGen(t *testing.T, e *env, name string, seq uint64, keep int) {
	t.Helper()
	must(t, e, ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: name, Version: 1, Seq: seq, Value: []byte(fmt.Sprint("v", seq))}, Keep: keep})
}

func gens(t *testing.T, p *effect.P, name string) []uint64 {
	t.Helper()
	r, err := effect.Perform(p, ops.SnapshotGenerations{Name: name})
	require.NoError(t, err)
	var out []uint64
	for _, g := range r.Generations {
		out = append(out, g.Generation)
	}
	return out
}

// genPath is the file of generation gen of name written with keep.
func genPath(e *env, name string, gen uint64, keep int) string {
	return filepath.Join(e.dir, snapDir, snapFileName(snapKey(name), gen, keep))
}

func TestSnapshotGenerationsPerName(t *testing.T) {
	e := newEnv(t, Options{})
	for i := uint64(1); i <= 4; i++ {
		writeGen(t, e, "p", i*10, 3)
	}
	writeGen(t, e, "q", 1, 0)
	assert.Equal(t, []uint64{4, 3, 2}, gens(t, e.sp(), "p"), "the newest three of p")
	assert.Equal(t, []uint64{1}, gens(t, e.sp(), "q"), "q numbers on its own")
	assert.Equal(t, uint64(4), must(t, e, ops.Stat{}).Snapshots, "generations kept, both names")

	e.reopen(Options{})
	assert.Equal(t, []uint64{4, 3, 2}, gens(t, e.sp(), "p"), "kept generations after a reopen")
	r := must(t, e, ops.SnapshotRead{Name: "p", Generation: 2})
	assert.Equal(t, ops.SnapshotResult{Snapshot: ops.Snapshot{Name: "p", Version: 1, Seq: 20, Value: []byte("v20")}, Found: true, Generation: 2}, r)
	assert.False(t, must(t, e, ops.SnapshotRead{Name: "p", Generation: 1}).Found, "generation 1 was dropped")

	// The Keep of the latest write rules: down to one, the previous one
	// stays on disk as the fallback, neither listed nor read by number.
	writeGen(t, e, "p", 50, 1)
	assert.Equal(t, []uint64{5}, gens(t, e.sp(), "p"))
	assert.False(t, must(t, e, ops.SnapshotRead{Name: "p", Generation: 4}).Found, "the fallback is not kept")
	assert.FileExists(t, genPath(e, "p", 4, 3), "the fallback")
	assert.NoFileExists(t, genPath(e, "p", 3, 3))
	assert.Len(t, snapFiles(t, e.dir), 3, "p's newest and fallback, q's one")

	// Numbers are never reused, across a reopen and after drops.
	e.reopen(Options{})
	writeGen(t, e, "p", 60, 2)
	assert.Equal(t, []uint64{6, 5}, gens(t, e.sp(), "p"))
	assert.Equal(t, uint64(6), must(t, e, ops.SnapshotRead{Name: "p"}).Generation)

	vr, err := Verify(e.p(), e.dir)
	require.NoError(t, err)
	assert.Empty(t, vr.Skipped)
}

func TestSnapshotGenerationDamaged(t *testing.T) {
	e := newEnv(t, Options{})
	for i := uint64(1); i <= 3; i++ {
		writeGen(t, e, "p", i, 2)
	}
	newest := genPath(e, "p", 3, 2)
	b, err := os.ReadFile(newest)
	require.NoError(t, err)
	b[len(b)-12] ^= 1
	require.NoError(t, os.WriteFile(newest, b, 0o644))
	e.reopen(Options{}) // forget what the writes cached

	r := must(t, e, ops.SnapshotRead{Name: "p"})
	assert.Equal(t, uint64(2), r.Generation, "a damaged newest falls back to the previous kept one")
	assert.Equal(t, uint64(2), r.Snapshot.Seq)
	_, err = perform(e, ops.SnapshotRead{Name: "p", Generation: 3})
	var ce *CorruptError
	require.ErrorAs(t, err, &ce, "a damaged generation asked by number")
	assert.Equal(t, newest, ce.File)
	assert.Equal(t, []uint64{2}, gens(t, e.sp(), "p"), "the listing leaves the damaged one out")

	// With Keep 1, the fallback is one generation older than the kept one.
	writeGen(t, e, "q", 1, 1)
	writeGen(t, e, "q", 2, 1)
	b, err = os.ReadFile(genPath(e, "q", 2, 1))
	require.NoError(t, err)
	b[30] ^= 1
	require.NoError(t, os.WriteFile(genPath(e, "q", 2, 1), b, 0o644))
	e.reopen(Options{})
	r = must(t, e, ops.SnapshotRead{Name: "q"})
	assert.Equal(t, uint64(1), r.Generation, "the fallback serves a read of the newest")
	_, err = perform(e, ops.SnapshotGenerations{Name: "q"})
	require.ErrorAs(t, err, &ce, "no kept generation of q validates")

	vr, err := Verify(e.p(), e.dir)
	require.NoError(t, err, "SnapshotRead serves both names, so Verify says ok")
	assert.Len(t, vr.Skipped, 2)
}

func TestSnapshotMisnamedGeneration(t *testing.T) {
	e := newEnv(t, Options{})
	writeGen(t, e, "p", 1, 2)
	writeGen(t, e, "p", 2, 2)
	b, err := os.ReadFile(genPath(e, "p", 1, 2))
	require.NoError(t, err)
	// Generation 1's bytes under generation 2's name: a misdirected file.
	require.NoError(t, os.WriteFile(genPath(e, "p", 2, 2), b, 0o644))
	e.reopen(Options{})
	_, err = perform(e, ops.SnapshotRead{Name: "p", Generation: 2})
	var ce *CorruptError
	require.ErrorAs(t, err, &ce)
	assert.Contains(t, ce.Reason, "holds generation 1")
	assert.Equal(t, uint64(1), must(t, e, ops.SnapshotRead{Name: "p"}).Generation)
}

// TestSnapshotFormat1 opens a store whose snapshot files are format 1,
// numbered store-wide: each name's files keep their numbers as
// generations, the newest of them kept, and the name goes on from the
// highest.
func TestSnapshotFormat1(t *testing.T) {
	e := newEnv(t, Options{})
	e.close()
	key := snapKey("p")
	for _, g := range []uint64{3, 7} {
		b := encodeSnapshot(snapRec{Snapshot: ops.Snapshot{Name: "p", Version: 1, Seq: g, Value: []byte("old")}, format: snapFormat1})
		require.NoError(t, os.WriteFile(filepath.Join(e.dir, snapDir, fmt.Sprintf("%s-%016x%s", key, g, snapSuffix)), b, 0o644))
	}
	e.open(Options{})
	r := must(t, e, ops.SnapshotRead{Name: "p"})
	assert.Equal(t, ops.SnapshotResult{Snapshot: ops.Snapshot{Name: "p", Version: 1, Seq: 7, Value: []byte("old")}, Found: true, Generation: 7}, r)
	assert.Equal(t, []uint64{7}, gens(t, e.sp(), "p"), "a format 1 write kept one")
	assert.Equal(t, []string{"p"}, must(t, e, ops.SnapshotNames{}))

	writeGen(t, e, "p", 9, 0)
	assert.Equal(t, uint64(8), must(t, e, ops.SnapshotRead{Name: "p"}).Generation)
	files := snapFiles(t, e.dir)
	assert.Equal(t, []string{
		filepath.Join(e.dir, snapDir, fmt.Sprintf("%s-%016x%s", key, 7, snapSuffix)),
		genPath(e, "p", 8, 1),
	}, files, "the format 1 fallback stays, the older one goes")

	// A format 1 body under a format 2 name is misnamed.
	b := encodeSnapshot(snapRec{Snapshot: ops.Snapshot{Name: "p"}, format: snapFormat1})
	require.NoError(t, os.WriteFile(genPath(e, "p", 9, 1), b, 0o644))
	e.reopen(Options{})
	_, err := perform(e, ops.SnapshotRead{Name: "p", Generation: 9})
	var ce *CorruptError
	require.ErrorAs(t, err, &ce)
}

func TestSnapshotGenerationsFollower(t *testing.T) {
	w := newEnv(t, Options{})
	writeGen(t, w, "p", 1, 3)
	f := openFollower(t, w.dir, Options{})
	writeGen(t, w, "p", 2, 3)
	assert.Equal(t, []uint64{2, 1}, gens(t, f.p(context.Background()), "p"), "the follower lists the writer's generations")
	writeGen(t, w, "p", 3, 1)
	assert.Equal(t, []uint64{3}, gens(t, f.p(context.Background()), "p"))
	r := fdo(f, ops.SnapshotRead{Name: "p", Generation: 1})
	assert.False(t, r.Found, "a generation the writer dropped")
	_, err := effect.Perform(f.p(context.Background()), ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "p"}, Keep: 2})
	assert.ErrorIs(t, err, ErrReadOnly)
}

func TestSnapshotFileNames(t *testing.T) {
	key := snapKey("x")
	for _, tc := range []struct {
		name string
		ok   bool
		f    snapFile
	}{
		{snapFileName(key, 5, 3), true, snapFile{gen: 5, keep: 3}},
		{fmt.Sprintf("%s-%016x%s", key, 5, snapSuffix), true, snapFile{gen: 5}},
		{fmt.Sprintf("%s-%016x-k0%s", key, 5, snapSuffix), false, snapFile{}},
		{fmt.Sprintf("%s-%016x-k03%s", key, 5, snapSuffix), false, snapFile{}},
		{fmt.Sprintf("%s-%016x-k%d%s", key, 5, ops.MaxSnapshotGenerations+1, snapSuffix), false, snapFile{}},
		{fmt.Sprintf("%s-%016x%s", key, 0, snapSuffix), false, snapFile{}},
		{fmt.Sprintf("%s-%016x-x2%s", key, 5, snapSuffix), false, snapFile{}},
		{snapFileName(key, 5, 3) + ".tmp", false, snapFile{}},
	} {
		f, k, ok := parseSnapName(tc.name)
		assert.Equal(t, tc.ok, ok, tc.name)
		if ok {
			assert.Equal(t, key, k, tc.name)
			assert.Equal(t, tc.f, f, tc.name)
		}
	}
}

// BenchmarkSnapshotGenerations compares, side by side, a snapshot write
// that keeps one generation with one that keeps ten (the same IO: one
// file written, one dropped), and a listing of ten kept generations from
// the cache with one that reads every file (a store just opened).
func BenchmarkSnapshotGenerations(b *testing.B) {
	val := make([]byte, 4<<10)
	for _, keep := range []int{1, 10} {
		b.Run(fmt.Sprintf("write/keep-%d", keep), func(b *testing.B) {
			e := newEnv(b, Options{})
			b.SetBytes(int64(len(val)))
			for i := 0; b.Loop(); i++ {
				must(b, e, ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "p", Seq: uint64(i), Value: val}, Keep: keep})
			}
		})
	}
	for _, cold := range []bool{false, true} {
		b.Run(fmt.Sprintf("list/cold-%v", cold), func(b *testing.B) {
			e := newEnv(b, Options{})
			for i := range 10 {
				must(b, e, ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "p", Seq: uint64(i), Value: val}, Keep: 10})
			}
			for b.Loop() {
				if cold {
					e.s.snaps.metaMu.Lock()
					e.s.snaps.meta = nil
					e.s.snaps.metaMu.Unlock()
				}
				if r := must(b, e, ops.SnapshotGenerations{Name: "p"}); len(r.Generations) != 10 {
					b.Fatalf("%d generations listed, want 10", len(r.Generations))
				}
			}
		})
	}
}
