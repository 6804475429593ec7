package file

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
)

func snapFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, snapDir, "*.snap"))
	require.NoError(t, err)
	sort.Strings(m)
	return m
}

func TestSnapshots(t *testing.T) {
	e := newEnv(t, Options{})
	got := must(t, e, ops.SnapshotRead{Name: "proj/a"})
	assert.Equal(t, ops.SnapshotResult{Snapshot: ops.Snapshot{Name: "proj/a"}}, got)

	val := []byte("state-1")
	must(t, e, ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "proj/a", Version: 2, Seq: 10, Value: val}})
	copy(val, "XXXXXXX")
	got = must(t, e, ops.SnapshotRead{Name: "proj/a"})
	assert.Equal(t, ops.SnapshotResult{Snapshot: ops.Snapshot{Name: "proj/a", Version: 2, Seq: 10, Value: []byte("state-1")}, Found: true, Generation: 1}, got)

	for i, v := range []string{"state-2", "state-3", "state-4"} {
		must(t, e, ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "proj/a", Version: 2, Seq: uint64(11 + i), Value: []byte(v)}})
	}
	must(t, e, ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "other", Version: 1, Seq: 1}})
	assert.Len(t, snapFiles(t, e.dir), 3, "the newest and the previous generation are kept")
	assert.Equal(t, "state-4", string(must(t, e, ops.SnapshotRead{Name: "proj/a"}).Snapshot.Value))
	assert.Equal(t, 2, e.s.Stats().Snapshots)

	e.reopen(Options{})
	got = must(t, e, ops.SnapshotRead{Name: "proj/a"})
	assert.Equal(t, uint64(13), got.Snapshot.Seq)
	assert.Nil(t, must(t, e, ops.SnapshotRead{Name: "other"}).Snapshot.Value)

	// A damaged newest generation falls back to the previous one.
	files := snapFiles(t, e.dir)
	var newest string
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		if strings.Contains(string(b), "state-4") {
			newest = f
			b[len(b)-12] ^= 1
			require.NoError(t, os.WriteFile(f, b, 0o644))
		}
	}
	require.NotEmpty(t, newest)
	got = must(t, e, ops.SnapshotRead{Name: "proj/a"})
	assert.Equal(t, "state-3", string(got.Snapshot.Value))

	// SnapshotRead serves the previous generation, so Verify's verdict is
	// ok too; it names the damaged file.
	vr, err := Verify(e.p(), e.dir)
	require.NoError(t, err)
	require.Len(t, vr.Skipped, 1)
	assert.Equal(t, newest, vr.Skipped[0].File)

	// Both damaged: an error, never a damaged value.
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		if strings.Contains(string(b), "state-3") {
			b[30] ^= 1
			require.NoError(t, os.WriteFile(f, b, 0o644))
		}
	}
	_, err = perform(e, ops.SnapshotRead{Name: "proj/a"})
	var ce *CorruptError
	require.ErrorAs(t, err, &ce)
	_, err = Verify(e.p(), e.dir)
	var vce *CorruptError
	require.ErrorAs(t, err, &vce)
	assert.Equal(t, *ce, *vce, "Verify answers as SnapshotRead does")

	// A new write replaces them.
	must(t, e, ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "proj/a", Version: 3, Seq: 20, Value: []byte("fresh")}})
	assert.Equal(t, "fresh", string(must(t, e, ops.SnapshotRead{Name: "proj/a"}).Snapshot.Value))
}

func TestSnapshotTooLarge(t *testing.T) {
	e := newEnv(t, Options{})
	_, err := perform(e, ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "n", Value: make([]byte, ops.MaxSnapshotBytes+1)}})
	assert.ErrorIs(t, err, ops.ErrInvalid)
}

func snapSample() ops.Snapshot {
	return ops.Snapshot{Name: "n", Version: 1, Seq: 2, Value: []byte("v")}
}
