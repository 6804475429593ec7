package file

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/mock"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// kvTierRounds are the kv changes of the tier crash tests, one round a
// checkpoint (at Close): a base of 60 keys; a few puts and deletes of
// base keys (a run of tombstones over the base); more puts, which fold
// that run into theirs (not the base: its tombstones stay); many puts,
// which fold every run into one (the tombstones go).
func kvTierRounds() [][]ops.KvChange {
	val := func(r, i int) []byte { return fmt.Appendf(nil, "r%d-%d-%s", r, i, strings.Repeat("v", 40)) }
	var rounds [][]ops.KvChange
	var base []ops.KvChange
	for i := range 60 {
		base = append(base, ops.KvChange{Key: fmt.Sprintf("k%03d", i), Value: val(0, i)})
	}
	rounds = append(rounds, base)
	var r1 []ops.KvChange
	for i := range 4 {
		r1 = append(r1, ops.KvChange{Key: fmt.Sprintf("n%03d", i), Value: val(1, i)})
	}
	for _, i := range []int{3, 17, 40} {
		r1 = append(r1, ops.KvChange{Key: fmt.Sprintf("k%03d", i), Delete: true})
	}
	rounds = append(rounds, r1)
	var r2 []ops.KvChange
	for i := range 12 {
		r2 = append(r2, ops.KvChange{Key: fmt.Sprintf("m%03d", i), Value: val(2, i)})
	}
	r2 = append(r2, ops.KvChange{Key: "k005", Delete: true})
	rounds = append(rounds, r2)
	var r3 []ops.KvChange
	for i := range 70 {
		r3 = append(r3, ops.KvChange{Key: fmt.Sprintf("p%03d", i), Value: val(3, i)})
	}
	r3 = append(r3, ops.KvChange{Key: "k006", Delete: true})
	rounds = append(rounds, r3)
	return rounds
}

// kvTierModel is the kv keys after the first n rounds.
func kvTierModel(rounds [][]ops.KvChange, n int) map[string]string {
	m := map[string]string{}
	for _, r := range rounds[:n] {
		for _, c := range r {
			if c.Delete {
				delete(m, c.Key)
			} else {
				m[c.Key] = string(c.Value)
			}
		}
	}
	return m
}

var kvTierOpts = Options{SegmentSize: 64 << 10, CheckpointBytes: 1 << 30}

// kvTierSetup makes a store on a new mock disk with the first n rounds
// committed, each followed by a checkpoint (Close), and opens it again.
func kvTierSetup(t *testing.T, rounds [][]ops.KvChange, n int, rec bool) (*mock.FS, *Store) {
	t.Helper()
	fs := mock.New(1, mock.Options{Record: rec})
	for i := range n {
		s := kvTierOpen(t, fs, kvTierOpts)
		kvTierCommit(t, s, fs, rounds[i])
		require.NoError(t, s.Close(effect.Handle(context.Background(), fs)))
	}
	return fs, kvTierOpen(t, fs, kvTierOpts)
}

func kvTierOpen(t *testing.T, fs *mock.FS, opts Options) *Store {
	t.Helper()
	s, err := Open(effect.Handle(context.Background(), fs), "/data", opts)
	require.NoError(t, err)
	return s
}

func kvTierCommit(t *testing.T, s *Store, fs *mock.FS, ch []ops.KvChange) {
	t.Helper()
	for i := 0; i < len(ch); i += 10 {
		_, err := effect.Perform(effect.Handle(context.Background(), s, fs), ops.Commit{Kv: ch[i:min(i+10, len(ch))]})
		require.NoError(t, err)
	}
}

// kvTierCheck wants s's kv keys to be m: every key read, the list and
// the count.
func kvTierCheck(t *testing.T, s *Store, fs *mock.FS, m map[string]string, what string) {
	t.Helper()
	p := effect.Handle(context.Background(), s, fs)
	for _, k := range []string{"k003", "k005", "k006", "k017", "k040", "k010", "n000", "m011", "p069", "zzz"} {
		got, err := effect.Perform(p, ops.KvGet{Key: k})
		require.NoError(t, err, what)
		want, ok := m[k]
		require.Equal(t, ok, got != nil, "%s: key %s", what, k)
		if ok {
			require.Equal(t, want, string(got.Value), "%s: key %s", what, k)
		}
	}
	l, err := effect.Perform(p, ops.KvList{Limit: 1000})
	require.NoError(t, err, what)
	var keys []string
	for _, e := range l.Entries {
		keys = append(keys, e.Key)
		require.Equal(t, m[e.Key], string(e.Value), "%s: key %s", what, e.Key)
	}
	var want []string
	for k := range m {
		want = append(want, k)
	}
	slices.Sort(want)
	require.Equal(t, want, keys, what)
	require.Equal(t, len(m), s.Stats().KvKeys, what)
}

// kvTierRunsNamed wants every kv run file on fs to be one a kept
// checkpoint names.
func kvTierRunsNamed(t *testing.T, fs *mock.FS, id [16]byte, what string) {
	t.Helper()
	named := map[string]bool{}
	var runs []string
	for _, f := range fs.Files() {
		name := filepath.Base(f.Path)
		if _, ok := parseCkptName(name); ok {
			b, err := fs.ReadFile(f.Path)
			require.NoError(t, err, what)
			_, st, err := decodeCheckpoint(b, id)
			require.NoError(t, err, what)
			for _, r := range st.kvRefs {
				named[kvRunName(r.gen)] = true
			}
		}
		if _, ok := isKvRunName(name); ok {
			runs = append(runs, name)
		}
	}
	for _, r := range runs {
		require.True(t, named[r], "%s: run %s is named by no kept checkpoint (%v)", what, r, runs)
	}
}

// kvTierStray reports whether fs holds a kv run file that no checkpoint
// on it names.
func kvTierStray(t *testing.T, fs *mock.FS, id [16]byte) bool {
	t.Helper()
	named := map[string]bool{}
	var runs []string
	for _, f := range fs.Files() {
		name := filepath.Base(f.Path)
		if _, ok := parseCkptName(name); ok {
			if b, err := fs.ReadFile(f.Path); err == nil {
				if _, st, err := decodeCheckpoint(b, id); err == nil {
					for _, r := range st.kvRefs {
						named[kvRunName(r.gen)] = true
					}
				}
			}
		}
		if _, ok := isKvRunName(name); ok {
			runs = append(runs, name)
		}
	}
	for _, r := range runs {
		if !named[r] {
			return true
		}
	}
	return false
}

// A crash at every IO effect of a checkpoint that folds kv runs, before
// and after it, under every crash fault: during the fold (its run's
// writes and syncs), between the folded run's rename and the
// checkpoint's, and while the replaced runs are removed. Every commit
// was acknowledged before the checkpoint began, so the reopened store
// must hold every key as the model says (deleted keys hidden by
// tombstones until a fold into the oldest run drops them), Verify must
// find nothing wrong, a second crash after the recovery must change
// nothing, and once the next checkpoint is in place no run file is left
// that no kept checkpoint names.
func TestCrashKvTierFold(t *testing.T) {
	rounds := kvTierRounds()
	for _, c := range []struct {
		round, runs int // the round whose checkpoint folds; the runs after it
	}{{2, 2}, {3, 1}} {
		t.Run(fmt.Sprintf("round%d", c.round), func(t *testing.T) {
			probe, s := kvTierSetup(t, rounds, c.round, true)
			before := len(s.st.kvRuns.runs)
			id := s.id
			kvTierCommit(t, s, probe, rounds[c.round])
			from := len(probe.Trace())
			require.NoError(t, s.Close(effect.Handle(context.Background(), probe)))
			trace := probe.Trace()[from:]
			n := len(trace)
			// The fault-free checkpoint folds: its run is written to a
			// tmp file and renamed before the checkpoint is.
			runRename, ckptRename, runWrites := -1, -1, 0
			for i, e := range trace {
				switch {
				case e.Name == "io/write-at" && strings.Contains(e.Path, "/kv-") && strings.HasSuffix(e.Path, ".tmp"):
					runWrites++
				case e.Name == "io/rename" && strings.Contains(e.Path, "/kv-"):
					runRename = i
				case e.Name == "io/rename" && strings.Contains(e.Path, "/checkpoint-"):
					ckptRename = i
				}
			}
			require.Positive(t, runWrites, "the checkpoint writes a run")
			require.True(t, runRename >= 0 && runRename < ckptRename, "the run is renamed before the checkpoint: %d, %d", runRename, ckptRename)
			s = kvTierOpen(t, probe, kvTierOpts)
			require.Equal(t, c.runs, len(s.st.kvRuns.runs), "runs after the fold (were %d)", before)
			if c.runs == 1 {
				require.NoError(t, s.st.kvRuns.runs[0].scan(effect.Handle(context.Background(), probe), nil, "", func(e *kvRunEntry) bool {
					require.True(t, e.live || len(e.revs) > 0, "tombstone %q in the one run", e.key)
					return true
				}))
			}
			require.NoError(t, s.Close(effect.Handle(context.Background(), probe)))

			m := kvTierModel(rounds, c.round+1)
			cases, strays := 0, 0
			for k := range n {
				for _, after := range []bool{false, true} {
					for _, f := range mock.FaultKinds() {
						what := fmt.Sprintf("crash at effect %d (%s, after %v) of the checkpoint of round %d under %s", k, trace[k], after, c.round, f)
						fs, s := kvTierSetup(t, rounds, c.round, false)
						kvTierCommit(t, s, fs, rounds[c.round])
						fs.Inject(mock.Fail(k, mock.Any(), mock.Action{Kind: mock.ActCrash, After: after}))
						_ = s.Close(effect.Handle(context.Background(), fs))
						disk, _ := fs.Crash(mock.Fault{Kind: f, Seed: uint64(k)}, 2)
						cases++
						if kvTierStray(t, disk, id) {
							strays++ // the folded run in place, its checkpoint not
						}

						_, verr := Verify(effect.Handle(context.Background(), disk.Clone(3)), "/data")
						require.NoError(t, verr, what)
						s2 := kvTierOpen(t, disk, kvTierOpts)
						kvTierCheck(t, s2, disk, m, what)
						_, err := effect.Perform(effect.Handle(context.Background(), s2, disk), ops.KvPut{Key: "after", Value: []byte("1")})
						require.NoError(t, err, what)
						m2 := kvTierModel(rounds, c.round+1)
						m2["after"] = "1"
						again, _ := disk.Crash(mock.Fault{Kind: mock.Drop}, 3)
						s3 := kvTierOpen(t, again, kvTierOpts)
						kvTierCheck(t, s3, again, m2, what+", then a crash after the recovery")
						require.NoError(t, s3.Close(effect.Handle(context.Background(), again)), what)
						s3 = kvTierOpen(t, again, kvTierOpts)
						kvTierCheck(t, s3, again, m2, what+", then a checkpoint")
						require.NoError(t, s3.Close(effect.Handle(context.Background(), again)), what)
						kvTierRunsNamed(t, again, id, what)
					}
				}
			}
			require.Positive(t, strays, "some crash leaves the folded run in place without its checkpoint")
			t.Logf("%d effects, %d cases, %d left the folded run without its checkpoint", n, cases, strays)
		})
	}
}
