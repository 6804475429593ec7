package file

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/mock"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// damageNewestCheckpoint flips a byte in the middle of the newest
// checkpoint of the store in dir and gives its LSN and the LSN of the
// one before it (0: none).
func damageNewestCheckpoint(t *testing.T, e *env) (newest, prev uint64) {
	t.Helper()
	lsns, err := listCheckpoints(e.p(), filepath.Join(e.dir, logDir))
	require.NoError(t, err)
	require.NotEmpty(t, lsns)
	newest = lsns[len(lsns)-1]
	if len(lsns) > 1 {
		prev = lsns[len(lsns)-2]
	}
	path := filepath.Join(e.dir, logDir, ckptName(newest))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	b[len(b)/2] ^= 0x10
	require.NoError(t, os.WriteFile(path, b, 0o644))
	return newest, prev
}

// runGens is the generations of the kv runs e's store reads.
func runGens(e *env) []uint64 {
	e.s.mu.RLock()
	defer e.s.mu.RUnlock()
	return e.s.st.kvRuns.gens()
}

// An Open that passes over a damaged newest checkpoint starts from the
// one before it, whose kv runs must all still be on the disk (the runs
// a fold replaced stay while a kept checkpoint names them): it uses that
// checkpoint, not a full replay, and every kv answer (gets, histories,
// the list, a watch) is the model's. The checkpoint Close then writes at
// the same LSN replaces the damaged one, and the store opens from it.
// Rounds of changes between fold the runs in every way the tiering does.
func TestKvTierRev2FallbackKeepsOlderRuns(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			opts := Options{SegmentSize: 64 << 10, KvHistory: 3, CheckpointBytes: 6 << 10}
			e := newEnv(t, opts)
			rng := rand.New(rand.NewPCG(seed, 21))
			keys := kvReviewKeys(40)
			m := newHistModel(3)
			fellBack, multi := 0, 0
			for round := range 10 {
				kvWorkload(t, rng, e, m, keys, 120, opts)
				want := m.answers(keys).normal()
				e.close()
				newest, prev := damageNewestCheckpoint(t, e)
				e.open(opts)
				rep := e.s.Recovery()
				what := fmt.Sprintf("round %d: newest checkpoint %d damaged", round, newest)
				require.Equal(t, 1, rep.CheckpointsSkipped, what)
				require.Equal(t, prev, rep.Checkpoint, "%s: opened from the one before (its runs all there)", what)
				if prev != 0 {
					fellBack++
					if len(runGens(e)) > 1 {
						multi++
					}
				}
				require.Equal(t, want, readKvAnswers(t, e, keys).normal(), what)
				e.reopen(opts)
				require.Equal(t, newest, e.s.Recovery().Checkpoint, "%s: Close wrote the checkpoint at its LSN again", what)
				require.Zero(t, e.s.Recovery().CheckpointsSkipped, what)
				require.Equal(t, want, readKvAnswers(t, e, keys).normal(), "%s, reopened", what)
			}
			e.close()
			_, err := Verify(e.p(), e.dir)
			require.NoError(t, err)
			requireKvRunsNamed(t, e)
			require.Greater(t, fellBack, 5)
			t.Logf("fell back %d times, %d of them onto more than one run", fellBack, multi)
		})
	}
}

// The kv history and watch across folds of runs: after every few
// changes the store is reopened (a checkpoint, which writes a tier or
// folds), and every answer, each key's revisions newest first with none
// twice and no more than the depth, is the model's; the set of runs is
// seen to fold (a set after a checkpoint not holding a run of the set
// before) and to grow, and the answers hold from a full replay too.
func TestKvTierRev2HistoryAcrossFolds(t *testing.T) {
	for _, depth := range []int{1, 3, 6} {
		t.Run(fmt.Sprint(depth), func(t *testing.T) {
			opts := Options{SegmentSize: 64 << 10, KvHistory: depth, CheckpointBytes: 1 << 30}
			e := newEnv(t, opts)
			rng := rand.New(rand.NewPCG(uint64(depth), 5))
			keys := kvReviewKeys(80)
			m := newHistModel(depth)
			var prev []uint64
			folds, grew := 0, 0
			for round := range 40 {
				kvWorkload(t, rng, e, m, keys, 15+rng.IntN(40), opts)
				e.reopen(opts)
				gens := runGens(e)
				require.LessOrEqual(t, len(gens), kvMaxRuns)
				if len(gens) > len(prev) {
					grew++
				}
				for _, g := range prev {
					if !slices.Contains(gens, g) {
						folds++
						break
					}
				}
				prev = gens
				a := readKvAnswers(t, e, keys)
				for k, h := range a.Hist {
					require.LessOrEqual(t, len(h), depth, "round %d: %s", round, k)
					for i := 1; i < len(h); i++ {
						require.Less(t, h[i].Revision, h[i-1].Revision, "round %d: %s's history in order, none twice", round, k)
					}
				}
				for i := 1; i < len(a.Watch); i++ {
					require.LessOrEqual(t, a.Watch[i-1].Revision, a.Watch[i].Revision, "round %d: watch in order", round)
				}
				require.Equal(t, m.answers(keys).normal(), a.normal(), "round %d, runs %v", round, gens)
			}
			require.Greater(t, folds, 3, "checkpoints that folded runs")
			require.Greater(t, grew, 3, "checkpoints that added a tier")
			want := m.answers(keys).normal()
			replayed(t, e, opts, func(f *env) {
				require.Equal(t, want, readKvAnswers(t, f, keys).normal(), "from a full replay")
			})
			t.Logf("folds %d, tiers added %d", folds, grew)
		})
	}
}

// A key deleted after the run that holds its value lies in an older
// run is hidden by the newer run's tombstone (or deleted entry) through
// every checkpoint: tiers, folds of the newer runs only, a fold into
// the oldest, reopens; it never reads back. A tombstone lies only in a
// run that is not the oldest of its set.
func TestKvTierRev2TombstonesNeverResurrect(t *testing.T) {
	opts := Options{SegmentSize: 64 << 10, KvHistory: 1, CheckpointBytes: 1 << 30}
	e := newEnv(t, opts)
	rng := rand.New(rand.NewPCG(77, 78))
	live := map[string]string{}
	gone := map[string]bool{}
	// A base of many keys, in the oldest run.
	var ch []ops.KvChange
	for i := range 1500 {
		k := fmt.Sprintf("b%05d", i)
		v := fmt.Sprintf("base-%d", i)
		ch = append(ch, ops.KvChange{Key: k, Value: []byte(v)})
		live[k] = v
		if len(ch) == 100 {
			must(t, e, ops.Commit{Kv: ch})
			ch = nil
		}
	}
	e.reopen(opts)
	hiders := 0
	for round := range 60 {
		// Delete a few base keys, put a few new ones, put back a few gone.
		for range 1 + rng.IntN(6) {
			k := fmt.Sprintf("b%05d", rng.IntN(1500))
			must(t, e, ops.KvDelete{Key: k})
			delete(live, k)
			gone[k] = true
		}
		for range rng.IntN(8) {
			k := fmt.Sprintf("n%05d", rng.IntN(400))
			v := fmt.Sprintf("r%d", round)
			must(t, e, ops.KvPut{Key: k, Value: []byte(v)})
			live[k] = v
			delete(gone, k)
		}
		if rng.IntN(5) == 0 {
			for k := range gone {
				v := fmt.Sprintf("back-%d", round)
				must(t, e, ops.KvPut{Key: k, Value: []byte(v)})
				live[k] = v
				delete(gone, k)
				break
			}
		}
		e.reopen(opts)
		e.s.mu.RLock()
		rs := e.s.st.kvRuns
		for i, r := range rs.runs {
			require.NoError(t, r.scan(e.p(), nil, "", func(x *kvRunEntry) bool {
				if !x.live && len(x.revs) == 0 {
					require.NotZero(t, i, "round %d: tombstone %q in the oldest run", round, x.key)
				}
				if !x.live && i > 0 {
					hiders++ // hides the key's value in an older run
				}
				return true
			}))
		}
		e.s.mu.RUnlock()
		for k := range gone {
			got := must(t, e, ops.KvGet{Key: k})
			require.Nil(t, got, "round %d: deleted key %s read back", round, k)
		}
		l := must(t, e, ops.KvList{Limit: 5000})
		require.Len(t, l.Entries, len(live), "round %d", round)
		for _, x := range l.Entries {
			require.Equal(t, live[x.Key], string(x.Value), "round %d: %s", round, x.Key)
		}
		require.Equal(t, len(live), e.s.Stats().KvKeys, "round %d", round)
	}
	require.NotZero(t, hiders, "deleted keys' entries in runs over the oldest")
	e.close()
	_, err := Verify(e.p(), e.dir)
	require.NoError(t, err)
}

// A checkpoint file ends in "pers" after its checksum, which the
// checksum does not cover, and has four zero bytes after its format
// version: a file whose trailer or zero bytes are other bytes does not
// validate (a decoder that ignored them took a damaged file for a good
// one, and FuzzDecodeCheckpoint found it re-encoding to other bytes).
func TestCheckpointTrailerChecked(t *testing.T) {
	id := [16]byte{3}
	st, r := indexedState(id)
	good := encodeCheckpoint(id, r, st)
	_, _, err := decodeCheckpoint(good, id)
	require.NoError(t, err)
	bad := slices.Clone(good)
	copy(bad[len(bad)-4:], "0000")
	_, _, err = decodeCheckpoint(bad, id)
	require.ErrorContains(t, err, "trailer")
	bad = slices.Clone(good)
	bad[13] = 1
	end := len(bad) - 8
	binary.LittleEndian.PutUint32(bad[end:], crc32.Checksum(bad[:end], castagnoli))
	_, _, err = decodeCheckpoint(bad, id)
	require.ErrorContains(t, err, "zero")
}

// toFormat9 rewrites the store in e.dir (closed, one checkpoint of the
// current format naming one run) as a store of format 9 naming a run of
// version 1, as the code before tiers wrote them: the run's entries in a
// run without history blocks, filter or the version 2 part of the sparse
// index, and every history record in the checkpoint's section.
func toFormat9(t *testing.T, e *env) {
	t.Helper()
	p := e.p()
	id := e.s0id(t)
	lsns, err := listCheckpoints(p, filepath.Join(e.dir, logDir))
	require.NoError(t, err)
	for _, l := range lsns[:len(lsns)-1] {
		require.NoError(t, os.Remove(filepath.Join(e.dir, logDir, ckptName(l))))
	}
	cpath := filepath.Join(e.dir, logDir, ckptName(lsns[len(lsns)-1]))
	b, err := os.ReadFile(cpath)
	require.NoError(t, err)
	r, st, err := decodeCheckpoint(b, id)
	require.NoError(t, err)
	require.Len(t, st.kvRefs, 1)
	require.Empty(t, st.indexed, "no index files: a view of an older format names none")
	ref := st.kvRefs[0]
	path := filepath.Join(e.dir, logDir, kvRunName(ref.gen))
	run, err := openKvRun(p, path, id, ref.gen, ref.hdrCRC)
	require.NoError(t, err)
	var changes []kvRunChange
	require.NoError(t, run.scan(p, nil, "", func(x *kvRunEntry) bool {
		require.True(t, x.live || len(x.revs) > 0, "no tombstone in the only run")
		c := kvRunChange{kvRunEntry: *x}
		c.value, c.revs = cloneBytes(x.value), slices.Clone(x.revs)
		changes = append(changes, c)
		return true
	}))
	var recs []kvLoc
	_, err = run.recScan(p, nil, 0, func(x kvLoc) bool { recs = append(recs, x); return true })
	require.NoError(t, err)
	require.NoError(t, run.close(p))
	// Written as version 2 (blocks without entry tables), then made 1.
	w, err := mergeKvRunAs(kvRunVersion2, p, path+".v1", id, ref.gen, run.rev, nil, nil, changes, kvRunTestKeep, true, nil, 0, nil)
	require.NoError(t, err)
	rb, err := os.ReadFile(path + ".v1")
	require.NoError(t, err)
	require.NoError(t, os.Remove(path+".v1"))
	// The version 2 part of the sparse index with no history and no
	// filter is four zero uvarints before its checksum.
	idxOff := int(binary.LittleEndian.Uint64(rb[52:]))
	n := len(rb) - 4
	require.Equal(t, []byte{0, 0, 0, 0}, rb[n-4:n])
	idx := slices.Clone(rb[idxOff : n-4])
	rb = append(append(rb[:idxOff], idx...), binary.LittleEndian.AppendUint32(nil, crc32.Checksum(idx, castagnoli))...)
	binary.LittleEndian.PutUint32(rb[8:], kvRunVersion1)
	binary.LittleEndian.PutUint32(rb[60:], kvHeaderSum(rb[:60], len(idx), w.live))
	require.NoError(t, os.WriteFile(path, rb, 0o644))
	st.kvRefs = []kvRunRef{{gen: ref.gen, hdrCRC: binary.LittleEndian.Uint32(rb[60:]), entries: w.entries, live: w.live}}
	st.ret.hist.recs = append(recs, st.ret.hist.recs...)
	v := viewOf(r, st)
	v.version = ckptVersionIDFiles
	require.NoError(t, os.WriteFile(cpath, v.encode(id), 0o644))
}

// A store of checkpoint format 9 naming a kv run of version 1 opens from
// that checkpoint and answers as the model does (gets, histories, the
// list, a watch); checkpoints after it write runs of version 2 as tiers
// over it, then fold it, and every answer holds through them, reopens,
// Verify and a full replay.
func TestKvTierRev2Format9RunV1(t *testing.T) {
	opts := Options{SegmentSize: 64 << 20, KvHistory: 3, CheckpointBytes: 1 << 30}
	e := newEnv(t, opts)
	rng := rand.New(rand.NewPCG(5, 6))
	keys := kvReviewKeys(60)
	m := newHistModel(3)
	for _, k := range keys {
		v := []byte("first-" + k)
		must(t, e, ops.KvPut{Key: k, Value: v})
		m.apply(k, v, false)
	}
	kvWorkload(t, rng, e, m, keys, 200, opts)
	e.close()
	// One run, as the store before tiers held: fold whatever tiers there
	// are by a full replay's checkpoint.
	removeCheckpoints(t, e.dir)
	e.open(opts)
	e.close()
	toFormat9(t, e)
	_, err := Verify(e.p(), e.dir)
	require.NoError(t, err)
	e.open(opts)
	require.NotZero(t, e.s.Recovery().Checkpoint, "opened from the format 9 checkpoint")
	require.Zero(t, e.s.Recovery().CheckpointsSkipped)
	require.Equal(t, uint32(kvRunVersion1), e.s.st.kvRuns.runs[0].version)
	want := m.answers(keys).normal()
	require.Equal(t, want, readKvAnswers(t, e, keys).normal(), "format 9")
	tierOverV1, foldedV1 := false, false
	for round := range 30 {
		n := 3 + rng.IntN(10)
		if round%8 == 7 {
			n = 3 * len(keys) // enough to fold the oldest run
		}
		for range n {
			k := keys[rng.IntN(len(keys))]
			if rng.IntN(3) == 0 {
				must(t, e, ops.KvDelete{Key: k})
				m.apply(k, nil, true)
				continue
			}
			v := fmt.Appendf(nil, "r%d-%s", round, k)
			must(t, e, ops.KvPut{Key: k, Value: v})
			m.apply(k, v, false)
		}
		e.reopen(opts)
		rs := e.s.st.kvRuns.runs
		if rs[0].version == kvRunVersion1 && len(rs) > 1 {
			tierOverV1 = true
		}
		if rs[0].version == kvRunVersion {
			foldedV1 = true
		}
		require.Equal(t, m.answers(keys).normal(), readKvAnswers(t, e, keys).normal(), "round %d", round)
		if foldedV1 && round > 20 {
			break
		}
	}
	require.True(t, tierOverV1, "a tier over the run of version 1")
	require.True(t, foldedV1, "the run of version 1 folded into one of version 2")
	want = m.answers(keys).normal()
	e.close()
	_, err = Verify(e.p(), e.dir)
	require.NoError(t, err)
	e.open(opts)
	replayed(t, e, opts, func(f *env) {
		require.Equal(t, want, readKvAnswers(t, f, keys).normal(), "from a full replay")
	})
}

// A read of a kv run that fails with an IO error at Open is not damage:
// Open fails with the error, as for the checkpoint file itself, rather
// than pass a good checkpoint over (and let the next checkpoint remove
// the runs it names, so that it never opens again).
func TestKvTierRev2OpenRunReadEIO(t *testing.T) {
	rounds := kvTierRounds()
	fs, s := kvTierSetup(t, rounds, 3, false)
	require.NoError(t, s.Close(effect.Handle(context.Background(), fs)))
	inj := mock.Fail(0, mock.And(mock.Reads(), mock.PathContains(kvRunSuffix)), mock.Action{Kind: mock.ActEIO})
	fs.Inject(inj)
	s, err := Open(effect.Handle(context.Background(), fs), "/data", kvTierOpts)
	require.True(t, inj.Fired(), "a read of a kv run at Open")
	if err == nil {
		rep := s.Recovery()
		_ = s.Close(effect.Handle(context.Background(), fs))
		t.Fatalf("Open took a read error of a kv run for damage: %d checkpoints skipped, opened from %d", rep.CheckpointsSkipped, rep.Checkpoint)
	}
	require.ErrorIs(t, err, syscall.EIO)
	require.NotErrorIs(t, err, ErrCorrupt)
	s = kvTierOpen(t, fs, kvTierOpts)
	require.Zero(t, s.Recovery().CheckpointsSkipped)
	kvTierCheck(t, s, fs, kvTierModel(rounds, 3), "after the read error")
	require.NoError(t, s.Close(effect.Handle(context.Background(), fs)))
}

// A checkpoint that fails after its drop is published (here: listing
// the checkpoints to remove the old ones) while a commit's leader has
// applied that drop meanwhile (a group's publish applies a pending
// drop) must leave the state's runs open: the state reads the new run
// from then on, and closing it under the state made every kv-get of a
// key it holds fail.
func TestKvTierRev2FailedCheckpointKeepsTakenRunOpen(t *testing.T) {
	rounds := kvTierRounds()
	fs := mock.New(1, mock.Options{})
	s := kvTierOpen(t, fs, kvTierOpts)
	p := effect.Handle(context.Background(), s, fs)
	kvTierCommit(t, s, fs, rounds[0])
	require.NoError(t, s.checkpoint(p))
	kvTierCommit(t, s, fs, rounds[1])
	armed, fired := false, false
	hook := effect.HandlerFunc(func(hp *effect.P, e effect.Effect) (any, error) {
		if r, ok := e.(platform.Rename); ok && filepath.Ext(r.To) == ".ckpt" {
			armed = true
		}
		if armed && !fired && e.EffectName() == platform.NameList {
			fired = true
			// A commit meanwhile, from another goroutine, as a leader
			// beside a background checkpoint: its publish takes the drop.
			done := make(chan error)
			go func() {
				_, err := effect.Perform(effect.Handle(context.Background(), s, fs), ops.KvPut{Key: "late", Value: []byte("x")})
				done <- err
			}()
			if err := <-done; err != nil {
				return nil, err
			}
			return nil, syscall.EIO
		}
		return fs.Handle(hp, e)
	})
	err := s.checkpoint(effect.Handle(context.Background(), s, hook))
	require.True(t, fired, "the checkpoint listed the log directory after its rename")
	require.Error(t, err)
	m := kvTierModel(rounds, 2)
	m["late"] = "x"
	kvTierCheck(t, s, fs, m, "after the failed checkpoint")
	require.NoError(t, s.Close(p))
	s = kvTierOpen(t, fs, kvTierOpts)
	kvTierCheck(t, s, fs, m, "reopened")
	require.NoError(t, s.Close(p))
}
