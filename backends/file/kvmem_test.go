package file

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
)

// A sealed segment read for its index file (scanSegment) keeps none of
// its kv changes, and its positions, streams and IDs are those of the
// events it holds as before.
func TestScanSegmentKeepsNoKv(t *testing.T) {
	e := newEnv(t, Options{SegmentSize: minSegmentSize, CheckpointBytes: -1})
	for i := range 600 {
		c := ops.Commit{Kv: []ops.KvChange{{Key: fmt.Sprintf("k%05d", i), Value: make([]byte, 100)}}}
		if i%3 == 0 {
			c.Appends = []ops.Append{{Stream: fmt.Sprint("s", i%4), Events: evs(fmt.Sprint(i))}}
		}
		must(t, e, c)
	}
	sg := e.s.segs[1]
	require.NotNil(t, sg)
	require.Greater(t, e.s.active.id, uint64(1), "segment 1 is sealed")
	st, err := scanSegment(e.p(), e.s.id, sg, true, 1<<20, nil)
	require.NoError(t, err)
	require.Empty(t, st.kv, "the segment's kv keys")
	require.Empty(t, st.ret.hist.keys, "the segment's kv history")
	require.Empty(t, st.ret.hist.recs, "the segment's kv records")
	require.Positive(t, st.rev, "the segment's last kv revision")
	require.NotEmpty(t, st.positions, "the segment's events")
	require.Equal(t, len(st.positions), int(st.events), "one event a commit")
	require.Len(t, st.streams, 4)
}
