package file

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// A kv-get from the runs of a block the cache holds allocates its
// answer and the value and nothing else, as the package doc says: not
// the entry it decodes from the block on the way.
func TestKvGetFromRunsAllocatesAnswerAndValue(t *testing.T) {
	opts := Options{CheckpointBytes: 1}
	e := newEnv(t, opts)
	sp := e.sp()
	for c := range 12 {
		var kv []ops.KvChange
		for i := c * 500; i < c*500+500; i++ {
			kv = append(kv, ops.KvChange{Key: fmt.Sprintf("key-%06d", i), Value: fmt.Appendf(nil, "%064d", i)})
		}
		_, err := effect.Perform(sp, ops.Commit{Kv: kv})
		require.NoError(t, err)
	}
	e.reopen(opts)
	e.s.mu.RLock()
	require.NotNil(t, e.s.st.kvRuns)
	require.Empty(t, e.s.st.kv, "every key in the runs")
	runs := len(e.s.st.kvRuns.runs)
	e.s.mu.RUnlock()
	require.Positive(t, runs)
	p := e.p()
	for _, key := range []string{"key-000007", "key-001234", "key-005999"} {
		got, err := e.s.kvGet(p, key) // the block into the cache
		require.NoError(t, err)
		require.NotNil(t, got, key)
		allocs := testing.AllocsPerRun(50, func() {
			if _, err := e.s.kvGet(p, key); err != nil {
				t.Fatal(err)
			}
		})
		assert.Equal(t, 2.0, allocs, "allocations of a kv-get of %s from %d runs: the answer and its value", key, runs)
	}
}
