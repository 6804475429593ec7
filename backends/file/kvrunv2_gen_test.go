package file

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// The store of testdata/kvrunv2store.tar.gz was written by the version
// before kv run format 3 (its runs of format 2, blocks without entry
// tables) with this workload, by
//
//	PERSIST_MAKE_KVRUNV2=<dir> go test -run TestMakeKvRunV2Store
//
// and tar'ed as store/; this file alone, copied into that version, builds
// it. TestKvRunV2Store opens it and compares its answers with those of
// the same workload written anew.

// kvRunV2Opts are the options of the workload: a checkpoint after every
// commit, so that each writes a run: tiers, folds and tombstones.
var kvRunV2Opts = Options{CheckpointBytes: 1, KvHistory: 2}

// kvRunV2Keys is the workload's key count.
const kvRunV2Keys = 300

// kvRunV2Key is the workload's key i.
func kvRunV2Key(i int) string { return fmt.Sprintf("k/%04d", i) }

// kvRunV2Work commits rounds of the workload to the store of p from round
// from: puts of every key first, then random puts and deletes, values of
// 0 to 120 bytes and now and then one of 5,000 (a block of its own).
func kvRunV2Work(t testing.TB, p *effect.P, from, rounds int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(from), 21))
	if from == 0 {
		for c := 0; c < kvRunV2Keys; c += 100 {
			var kv []ops.KvChange
			for i := c; i < c+100; i++ {
				kv = append(kv, ops.KvChange{Key: kvRunV2Key(i), Value: fmt.Appendf(nil, "first-%d", i)})
			}
			_, err := effect.Perform(p, ops.Commit{Kv: kv})
			require.NoError(t, err)
		}
	}
	for r := from; r < from+rounds; r++ {
		seen := map[int]bool{}
		var kv []ops.KvChange
		n := 5 + rng.IntN(40)
		if left := from + rounds - r; left <= 3 {
			n = []int{3, 8, 24}[left-1] // smaller and smaller: tiers that stay
		}
		for range n {
			i := rng.IntN(kvRunV2Keys)
			if seen[i] {
				continue
			}
			seen[i] = true
			if rng.IntN(4) == 0 {
				kv = append(kv, ops.KvChange{Key: kvRunV2Key(i), Delete: true})
				continue
			}
			size := rng.IntN(121)
			if rng.IntN(50) == 0 {
				size = 5000
			}
			v := bytes.Repeat([]byte{byte('a' + r%26)}, size)
			copy(v, fmt.Sprintf("r%d-", r))
			kv = append(kv, ops.KvChange{Key: kvRunV2Key(i), Value: v})
		}
		_, err := effect.Perform(p, ops.Commit{Kv: kv})
		require.NoError(t, err)
	}
}

// kvRunV2Build writes the workload's first rounds into a new store at
// dir and closes it.
func kvRunV2Build(t testing.TB, dir string, rounds int) {
	t.Helper()
	h := &platform.OS{}
	s, err := Open(effect.Handle(context.Background(), h), dir, kvRunV2Opts)
	require.NoError(t, err)
	kvRunV2Work(t, effect.Handle(context.Background(), s, h), 0, rounds)
	require.NoError(t, s.Close(effect.Handle(context.Background(), h)))
}

// kvRunV2Rounds is how many rounds the store in testdata holds.
const kvRunV2Rounds = 40

func TestMakeKvRunV2Store(t *testing.T) {
	dir := os.Getenv("PERSIST_MAKE_KVRUNV2")
	if dir == "" {
		t.Skip("PERSIST_MAKE_KVRUNV2 names where to write the store")
	}
	kvRunV2Build(t, dir, kvRunV2Rounds)
}
