package file

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// kvRunV2Answers is every answer the store of p gives about the
// workload's keys: each key's kv-get and kv-history, and the kv-list of
// all keys, and of prefix k/01, in pages of 7.
type kvRunV2Answers struct {
	gets  []*ops.KvEntry
	hists []ops.KvHistoryResult
	pages []ops.KvListResult
}

func kvRunV2Ask(t *testing.T, p *effect.P) kvRunV2Answers {
	t.Helper()
	var a kvRunV2Answers
	for i := range kvRunV2Keys {
		e, err := effect.Perform(p, ops.KvGet{Key: kvRunV2Key(i)})
		require.NoError(t, err)
		a.gets = append(a.gets, e)
		h, err := effect.Perform(p, ops.KvHistory{Key: kvRunV2Key(i)})
		require.NoError(t, err)
		a.hists = append(a.hists, h)
	}
	for _, prefix := range []string{"", "k/01"} {
		after := ""
		for {
			pg, err := effect.Perform(p, ops.KvList{Prefix: prefix, After: after, Limit: 7})
			require.NoError(t, err)
			a.pages = append(a.pages, pg)
			if !pg.More {
				break
			}
			after = pg.Entries[len(pg.Entries)-1].Key
		}
	}
	return a
}

// kvRunV2Open opens the store at dir with the workload's options.
// It closes the store at the test's end, unless closed before through
// the handle given (which answers the platform's effects).
func kvRunV2Open(t *testing.T, dir string) (*Store, *effect.P, *effect.P) {
	t.Helper()
	os := &platform.OS{}
	h := effect.Handle(context.Background(), os)
	s, err := Open(h, dir, kvRunV2Opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close(h) })
	return s, effect.Handle(context.Background(), s, os), h
}

// kvRunV2Versions gives the format version of each run of s's set,
// oldest first.
func kvRunV2Versions(s *Store) []uint32 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var vs []uint32
	for _, r := range s.st.kvRuns.runs {
		vs = append(vs, r.version)
	}
	return vs
}

// A store whose kv runs were written in format 2 by the version before
// format 3 (testdata/kvrunv2store.tar.gz, see kvrunv2_gen_test.go: four
// tiers, with filters, tombstones and history, values of 0 to 5,000
// bytes) opens and answers every kv-get, kv-history and kv-list page as
// the same workload written anew in format 3 does; commits after it
// write runs of format 3 over those of format 2 and fold them, every
// answer holding, across a reopen, and Verify passes both stores.
func TestKvRunV2Store(t *testing.T) {
	old := untarStore(t, "kvrunv2store.tar.gz")
	fresh := filepath.Join(t.TempDir(), "fresh")
	kvRunV2Build(t, fresh, kvRunV2Rounds)

	so, po, ho := kvRunV2Open(t, old)
	sf, pf, hf := kvRunV2Open(t, fresh)
	require.NotZero(t, so.Recovery().Checkpoint, "opened from its checkpoint")
	require.Zero(t, so.Recovery().CheckpointsSkipped)
	vs := kvRunV2Versions(so)
	require.GreaterOrEqual(t, len(vs), 3, "tiers of runs")
	for _, v := range vs {
		require.Equal(t, uint32(kvRunVersion2), v)
	}
	so.mu.RLock()
	for _, r := range so.st.kvRuns.runs {
		require.False(t, r.table, "a run of format 2 has no entry tables")
	}
	require.NotEmpty(t, so.st.kvRuns.newest().bloomSums, "the newest run has a filter")
	so.mu.RUnlock()
	for _, v := range kvRunV2Versions(sf) {
		require.Equal(t, uint32(kvRunVersion), v)
	}
	require.Equal(t, kvRunV2Ask(t, pf), kvRunV2Ask(t, po), "format 2 against format 3")

	// Runs of format 3 over those of format 2, then folds of them.
	v2 := len(vs)
	for round := kvRunV2Rounds; round < kvRunV2Rounds+60; round += 10 {
		kvRunV2Work(t, po, round, 10)
		kvRunV2Work(t, pf, round, 10)
		require.Equal(t, kvRunV2Ask(t, pf), kvRunV2Ask(t, po), "round %d", round)
	}
	vs = kvRunV2Versions(so)
	n2 := 0
	for _, v := range vs {
		if v == kvRunVersion2 {
			n2++
		}
	}
	require.Less(t, n2, v2, "runs of format 2 folded into one of format 3: %v", vs)
	require.Contains(t, vs, uint32(kvRunVersion))
	want := kvRunV2Ask(t, pf)

	require.NoError(t, so.Close(ho))
	require.NoError(t, sf.Close(hf))
	for _, dir := range []string{old, fresh} {
		_, err := Verify(effect.Handle(context.Background(), &platform.OS{}), dir)
		require.NoError(t, err, dir)
	}
	_, po, _ = kvRunV2Open(t, old)
	require.Equal(t, want, kvRunV2Ask(t, po), "reopened")
}
