package file

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// A malformed entry in an older run of a set (its block's checksum
// good: a writer's fault, not the disk's) is a CorruptError naming that
// run and the offset of its block, not the set's newest run at offset 0.
func TestStreamRunScanNamesTheRun(t *testing.T) {
	p := osP()
	dir := t.TempDir()
	path := filepath.Join(dir, streamRunName(4))
	w, err := newKvRunWriter(p, path, kvRunTestID, 4)
	require.NoError(t, err)
	w.kind, w.bloomN = streamRunKind, 1
	w.bloom = make([]byte, kvRunBlockSize)
	for i := range 2000 {
		e := kvRunEntry{key: fmt.Sprintf("s%04d", i), live: true, rev: 1, value: []byte{0}}
		if i == 1500 {
			e.value = []byte{0x80} // not a uvarint
		}
		require.NoError(t, w.add(&e))
	}
	bw, err := w.end(nil, 104)
	require.NoError(t, err)
	bad, err := openStreamRun(p, path, kvRunTestID, 4, bw.hdrCRC)
	require.NoError(t, err)
	bad.live = bad.entries
	require.Greater(t, len(bad.blocks), 1)
	good := writeStreamRunAt(t, dir, 8, nil, []streamHead{{name: "t", head: 2}})
	set := &kvRunSet{runs: []*kvRun{bad, good}}
	blk := bad.blocks[bad.blockFor("s1500")]
	err = scanStreamRuns(p, set, nil, "", func(streamHead) bool { return true })
	require.ErrorIs(t, err, ErrCorrupt)
	var ce *CorruptError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, bad.path, ce.File)
	require.Equal(t, blk.off, ce.Offset)
}
