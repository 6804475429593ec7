package file

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
)

// kvCompactView is every kv answer a reader gets of the kv fixture.
type kvCompactView struct {
	values  map[string]*ops.KvEntry
	hist    map[string][]ops.KvVersion
	watch   []ops.KvVersion
	badFrom bool // a watch from the compacted revision is refused
	rev     uint64
	keys    int
}

func readKvView(t *testing.T, e *env, keys []string) kvCompactView {
	t.Helper()
	v := kvCompactView{values: map[string]*ops.KvEntry{}, hist: map[string][]ops.KvVersion{}}
	for _, k := range keys {
		v.values[k] = must(t, e, ops.KvGet{Key: k})
		v.hist[k] = must(t, e, ops.KvHistory{Key: k}).Versions
	}
	w := must(t, e, ops.KvWatch{From: 0, Limit: 10000})
	v.watch = w.Changes
	if len(w.Changes) > 0 && w.Changes[0].Revision > 1 {
		_, err := perform(e, ops.KvWatch{From: w.Changes[0].Revision - 1})
		var ce *ops.CompactedError
		v.badFrom = errors.As(err, &ce)
	}
	st := e.s.Stats()
	v.rev, v.keys = st.Revision, st.KvKeys
	return v
}

// kvPuts puts key n times, values of 1 KiB naming the round, one commit
// each.
func kvPuts(t *testing.T, e *env, key string, n int) {
	t.Helper()
	for i := range n {
		must(t, e, ops.KvPut{Key: key, Value: append([]byte(fmt.Sprint(key, i, "-")), bytes.Repeat([]byte("v"), 1<<10)...)})
	}
}

func removeCheckpoints(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, logDir))
	require.NoError(t, err)
	for _, de := range ents {
		if _, ok := parseCkptName(de.Name()); ok || strings.HasPrefix(de.Name(), "kv-") {
			require.NoError(t, os.Remove(filepath.Join(dir, logDir, de.Name())))
		}
	}
}

// Superseded kv changes out of the kept history leave the disk when every
// checkpoint covers what superseded them; the changes a checkpoint lies
// between stay, and every kv answer is the same before and after, from
// the newest checkpoint and from a full replay.
func TestCompactDropsSupersededKv(t *testing.T) {
	opts := Options{SegmentSize: 64 << 10, KvHistory: 3}
	e := newEnv(t, opts)
	keys := []string{"warm", "hot", "cold", "gone"}
	must(t, e, ops.KvPut{Key: "cold", Value: []byte("once")})
	kvPuts(t, e, "gone", 5)
	must(t, e, ops.KvDelete{Key: "gone"})
	kvPuts(t, e, "warm", 120)
	must(t, e, ops.Append{Stream: "s", Events: evs("e1")})
	// Close writes a checkpoint covering warm's last put: warm's older
	// puts may go, hot's (all after it) may not.
	e.reopen(opts)
	kvPuts(t, e, "hot", 120)
	before := readKvView(t, e, keys)
	require.True(t, before.badFrom)

	predicted := must(t, e, ops.Stat{}).BytesReclaimable
	du := diskBlocks(t, e.dir)
	res, err := e.s.Compact(e.p(), CompactOptions{})
	require.NoError(t, err)
	freed := (du - diskBlocks(t, e.dir)) * 512
	t.Logf("kv compaction: %d kv changes, %d bytes left unwritten, stat predicted %d, du freed %d (%.1f%%)",
		res.KvChanges, res.Bytes, predicted, freed, 100*float64(freed)/float64(max(res.Bytes, 1)))
	assert.Equal(t, int64(117+3), res.KvChanges, "warm's puts out of history and gone's puts before its delete's history")
	assert.Equal(t, int64(predicted), res.Bytes, "stat predicts what Compact leaves unwritten")
	assert.Greater(t, res.Bytes, int64(100<<10))
	assert.Equal(t, before, readKvView(t, e, keys))

	// A second compaction, once a checkpoint covers hot's puts, takes
	// hot's older puts too.
	for range 2 {
		kvPuts(t, e, "cold", 1)
		e.reopen(opts) // Close keeps the newest two checkpoints
	}
	res2, err := e.s.Compact(e.p(), CompactOptions{})
	require.NoError(t, err)
	assert.Greater(t, res2.KvChanges, int64(100), "hot's puts out of history")
	assert.LessOrEqual(t, res2.KvChanges, int64(117), "hot's puts out of history, in sealed segments")
	before = readKvView(t, e, keys)
	_, err = Verify(e.p(), e.dir)
	require.NoError(t, err)

	e.reopen(opts)
	assert.Equal(t, before, readKvView(t, e, keys), "from the checkpoint")
	e.close()
	removeCheckpoints(t, e.dir)
	_, err = Verify(e.p(), e.dir)
	require.NoError(t, err, "full replay")
	e.open(opts)
	assert.Equal(t, before, readKvView(t, e, keys), "from a full replay")
	assert.Zero(t, must(t, e, ops.Stat{}).BytesReclaimable)
}
