package file

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/platform"
)

// A damaged run the replay after an older checkpoint finds, once the
// newest was passed over for another damaged run, passes that one over
// too: the loop ends in a replay of the whole log, with every value
// right, and Verify, a follower and Open agree.
func TestOpenFallsBackPastRunsDamagedInTwoReplays(t *testing.T) {
	e := newEnv(t, streamLookupOpts)
	m := &runFallModel{events: map[string][]string{}, kv: map[string]string{}}
	for i := range 300 {
		m.put(t, e, fmt.Sprintf("k%03d", i), fmt.Sprintf("%03d/%s", i, strings.Repeat("v", 40)))
	}
	e.reopen(streamLookupOpts)
	a := e.s.st.kvRuns.newest()
	runA, offA := blockOf(t, a, "k150")
	m.put(t, e, "k150", "mid")
	for i := range 300 {
		m.put(t, e, fmt.Sprintf("l%03d", i), fmt.Sprintf("%03d/%s", i, strings.Repeat("w", 40)))
	}
	e.reopen(streamLookupOpts)
	require.NotContains(t, e.s.st.kvRuns.gens(), a.gen, "the newer checkpoint folds the older run")
	runB, offB := blockOf(t, e.s.st.kvRuns.newest(), "l150")
	m.put(t, e, "l150", "after")
	to := t.TempDir() + "/data"
	require.NoError(t, os.CopyFS(to, os.DirFS(e.dir)))
	e.close()
	for _, x := range []struct {
		run string
		off int64
	}{{runA, offA}, {runB, offB}} {
		path := filepath.Join(to, logDir, filepath.Base(x.run))
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		b[x.off+2] ^= 0xff
		require.NoError(t, os.WriteFile(path, b, 0o644))
	}
	d := &env{t: t, dir: to, os: &platform.OS{}}
	lsns, err := listCheckpoints(d.p(), filepath.Join(to, logDir))
	require.NoError(t, err)
	require.Len(t, lsns, 2)
	rep, err := Verify(d.p(), to)
	require.NoError(t, err)
	require.Zero(t, rep.Checkpoint, "Verify replays the whole log")
	var named []string
	for _, ce := range rep.Skipped {
		named = append(named, filepath.Base(ce.File))
	}
	require.ElementsMatch(t, []string{filepath.Base(runA), filepath.Base(runB)}, named)
	f, err := OpenReadOnly(d.p(), to, Options{})
	require.NoError(t, err)
	require.Equal(t, 2, f.Recovery().CheckpointsSkipped, "the follower")
	require.Zero(t, f.Recovery().Checkpoint, "the follower")
	m.check(t, &env{t: t, dir: to, s: f, os: d.os}, "follower")
	require.NoError(t, f.Close(d.p()))
	d.open(streamLookupOpts)
	require.Equal(t, 2, d.s.Recovery().CheckpointsSkipped)
	require.Zero(t, d.s.Recovery().Checkpoint)
	m.check(t, d, "opened")
	d.close()
	require.Zero(t, d.os.OpenFiles())
}
