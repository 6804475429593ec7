package file

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// A last segment cut short at rest in the middle of a commit record: its
// size was durable before the record was written, so no crash leaves it.
// Open refuses it with the file and offset, and changes nothing.
func TestCutAtRestIsCorrupt(t *testing.T) {
	for _, cut := range []string{"inside the record", "inside the frame"} {
		t.Run(cut, func(t *testing.T) {
			e := newEnv(t, Options{})
			fill(t, e, 20)
			e.close()
			dropCheckpoints(t, e.dir)
			recs := records(t, e)
			last := recs[len(recs)-1]
			path := segPaths(t, e.dir)[0]
			size := last.Offset + int64(last.Size)/2
			if cut == "inside the frame" {
				size = last.Offset + frameSize/2
			}
			require.NoError(t, os.Truncate(path, size))
			before, err := os.ReadFile(path)
			require.NoError(t, err)

			_, err = Open(e.p(), e.dir, Options{})
			var ce *CorruptError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, path, ce.File)
			assert.Equal(t, last.Offset, ce.Offset)
			assert.Contains(t, ce.Reason, "cut at rest")
			after, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, before, after)
			m, _ := filepath.Glob(path + ".torn-*")
			assert.Empty(t, m, "nothing is cut")
		})
	}
}

// untarStore unpacks a store kept in testdata into a new directory.
func untarStore(t testing.TB, name string) string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	require.NoError(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	require.NoError(t, err)
	dst := t.TempDir()
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		path := filepath.Join(dst, filepath.FromSlash(h.Name))
		require.True(t, strings.HasPrefix(path, dst+string(filepath.Separator)), "entry %q", h.Name)
		if h.Typeflag == tar.TypeDir {
			require.NoError(t, os.MkdirAll(path, 0o755))
			continue
		}
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, b, 0o644))
	}
	return filepath.Join(dst, "store")
}

// v1Env opens the store of segment format version 1 in testdata: two
// segments (the first sealed), written and closed by the version before
// format version 2.
func v1Env(t *testing.T, damage func(dir string)) (*env, error) {
	dir := untarStore(t, "v1store.tar.gz")
	if damage != nil {
		damage(dir)
	}
	e := &env{t: t, dir: dir, os: &platform.OS{}}
	s, err := Open(e.p(), dir, Options{SegmentSize: minSegmentSize})
	e.s = s
	if s != nil {
		t.Cleanup(func() { _ = s.Close(e.p()) })
	}
	return e, err
}

func v1Want(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("%d:%s", i, strings.Repeat("v", 20000)))
	}
	return out
}

func streamData(t testing.TB, e *env, stream string) []string {
	t.Helper()
	var out []string
	for _, ev := range must(t, e, ops.Read{Stream: stream, Limit: ops.MaxPage}).Events {
		out = append(out, string(ev.Data))
	}
	return out
}

// A store of format version 1 opens, takes appends that roll it into
// segments of version 2, and reopens.
func TestVersion1StoreOpens(t *testing.T) {
	e, err := v1Env(t, nil)
	require.NoError(t, err)
	assert.Equal(t, v1Want(5), streamData(t, e, "s"))
	assert.Equal(t, []string{"small"}, streamData(t, e, "t"))
	kv := must(t, e, ops.KvGet{Key: "k1"})
	require.NotNil(t, kv)
	assert.Equal(t, "3", string(kv.Value))
	assert.Nil(t, must(t, e, ops.KvGet{Key: "k0"}))
	segs := e.s.Stats().Segments
	for i := 5; e.s.Stats().Segments < segs+2; i++ {
		must(t, e, ops.Append{Stream: "s", Events: evs(fmt.Sprintf("%d:%s", i, strings.Repeat("v", 20000)))})
	}
	n := len(streamData(t, e, "s"))
	e.reopen(Options{SegmentSize: minSegmentSize})
	assert.Equal(t, v1Want(n), streamData(t, e, "s"))
	e.close()
	_, err = Verify(e.p(), e.dir)
	require.NoError(t, err)
	// Segments 1 and 2 keep version 1; the new ones are version 2.
	for i, path := range segPaths(t, e.dir) {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		_, v, err := decodeHeader(b[frameSize : frameSize+32])
		require.NoError(t, err)
		want := uint32(segVersion)
		if i < 2 {
			want = segVersion1
		}
		assert.Equal(t, want, v, "segment %d", i+1)
	}
}

// A sealed last segment of version 1 is still an interrupted roll, and a
// version 1 segment cut short at rest is still a torn tail: the rules of
// version 1, under which those stores were written.
func TestVersion1Rules(t *testing.T) {
	e, err := v1Env(t, func(dir string) {
		dropCheckpoints(t, dir)
		paths := segPaths(t, dir)
		require.NoError(t, os.Remove(paths[1]))
	})
	require.NoError(t, err)
	assert.True(t, e.s.Recovery().Rolled)
	assert.Equal(t, v1Want(3), streamData(t, e, "s"), "version 1 proves nothing about a successor")

	e, err = v1Env(t, func(dir string) {
		dropCheckpoints(t, dir)
		paths := segPaths(t, dir)
		fi, err := os.Stat(paths[1])
		require.NoError(t, err)
		require.NoError(t, os.Truncate(paths[1], fi.Size()-5))
	})
	require.NoError(t, err)
	require.NotNil(t, e.s.Recovery().Truncated, "cut as a torn tail")
	assert.Empty(t, streamData(t, e, "t"))
}
