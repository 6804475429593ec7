package file

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
)

// kvModel is what the store's kv keys must be.
type kvModel map[string]ops.KvEntry

// kvWork changes the kv keys of e in n commits drawn from rng (puts,
// deletes, some of keys never written, several changes a commit), keeping m up to date.
func kvWork(t *testing.T, e *env, rng *rand.Rand, m kvModel, n int) {
	t.Helper()
	for range n {
		var ch []ops.KvChange
		for range 1 + rng.IntN(4) {
			k := fmt.Sprintf("key/%02d/%d", rng.IntN(30), rng.IntN(40))
			if slices.ContainsFunc(ch, func(c ops.KvChange) bool { return c.Key == k }) {
				continue // a commit changes a key once
			}
			if rng.IntN(4) == 0 {
				ch = append(ch, ops.KvChange{Key: k, Delete: true})
			} else {
				ch = append(ch, ops.KvChange{Key: k, Value: fmt.Appendf(nil, "v%d-%s", rng.Uint32(), strings.Repeat("x", rng.IntN(90)))})
			}
		}
		res := must(t, e, ops.Commit{Kv: ch})
		for i, c := range ch {
			_, had := m[c.Key]
			require.Equal(t, had, res.Kv[i].Existed, "existed of %q", c.Key)
			if c.Delete {
				delete(m, c.Key)
			} else {
				m[c.Key] = ops.KvEntry{Key: c.Key, Value: c.Value, Revision: res.Revision}
			}
		}
	}
}

// kvCheck reads every key of the model and a few absent ones, lists all
// keys in pages and by prefix, and compares the key count.
func kvCheck(t *testing.T, e *env, m kvModel) {
	t.Helper()
	for k, want := range m {
		got := must(t, e, ops.KvGet{Key: k})
		require.NotNil(t, got, k)
		require.Equal(t, want.Revision, got.Revision, k)
		require.Equal(t, string(want.Value), string(got.Value), k)
	}
	require.Nil(t, must(t, e, ops.KvGet{Key: "key/99/0"}))
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	})
	for _, limit := range []int{7, 1000} {
		var got []string
		after := ""
		for {
			page := must(t, e, ops.KvList{After: after, Limit: limit})
			for _, en := range page.Entries {
				got = append(got, en.Key)
				require.Equal(t, string(m[en.Key].Value), string(en.Value), en.Key)
				require.Equal(t, m[en.Key].Revision, en.Revision, en.Key)
			}
			if !page.More {
				break
			}
			after = page.Entries[len(page.Entries)-1].Key
		}
		require.Equal(t, keys, got, "list by %d", limit)
	}
	for _, prefix := range []string{"key/0", "key/17/", "key/29/3"} {
		var want []string
		for _, k := range keys {
			if strings.HasPrefix(k, prefix) {
				want = append(want, k)
			}
		}
		page := must(t, e, ops.KvList{Prefix: prefix, Limit: 10000})
		var got []string
		for _, en := range page.Entries {
			got = append(got, en.Key)
		}
		require.Equal(t, want, got, prefix)
	}
	require.Equal(t, len(m), e.s.Stats().KvKeys)
}

// The kv keys a checkpoint covers lie in a kv run, not in memory: what
// the store holds in memory are the changes since, and every read, list,
// count and history agrees with the model across checkpoints, reopens
// and Verify.
func TestKvRunStore(t *testing.T) {
	opts := Options{CheckpointBytes: 8 << 10, IndexCacheBytes: 16 << 10}
	e := newEnv(t, opts)
	rng := rand.New(rand.NewPCG(21, 22))
	m := kvModel{}
	for round := range 4 {
		kvWork(t, e, rng, m, 300)
		kvCheck(t, e, m)
		e.reopen(opts)
		kvCheck(t, e, m)
		require.NotNil(t, e.s.st.kvRuns, "round %d: a run holds the keys", round)
		require.Less(t, len(e.s.st.kv), len(m), "round %d: memory holds the changes since the run only", round)
	}
	h := must(t, e, ops.KvHistory{Key: "key/01/1", Limit: 10})
	if want, ok := m["key/01/1"]; ok {
		require.NotEmpty(t, h.Versions)
		require.Equal(t, want.Revision, h.Versions[0].Revision)
	}
	e.close()
	rep, err := Verify(e.p(), e.dir)
	require.NoError(t, err)
	require.Equal(t, len(m), rep.KvKeys)
	requireKvRunsNamed(t, e)
	e.open(opts)
	kvCheck(t, e, m)
}

// A kv run that is missing, torn or has a bit flipped in its header or
// sparse index (what Open reads of it) is rebuilt from the log (the
// checkpoint naming it is passed over): the keys read back as they were,
// and the next checkpoint writes a good run again.
func TestKvRunDamagedRebuilt(t *testing.T) {
	opts := Options{CheckpointBytes: 8 << 10}
	for _, fault := range []string{"missing", "torn", "bitflip-header", "bitflip-index"} {
		t.Run(fault, func(t *testing.T) {
			e := newEnv(t, opts)
			rng := rand.New(rand.NewPCG(31, 32))
			m := kvModel{}
			kvWork(t, e, rng, m, 400)
			e.close()
			runs, _ := filepath.Glob(filepath.Join(e.dir, logDir, "kv-*.run"))
			require.NotEmpty(t, runs)
			for _, path := range runs {
				b, err := os.ReadFile(path)
				require.NoError(t, err)
				switch fault {
				case "missing":
					require.NoError(t, os.Remove(path))
					continue
				case "torn":
					b = b[:len(b)/2]
				case "bitflip-header":
					b[40] ^= 4
				case "bitflip-index":
					b[len(b)-10] ^= 0x80
				}
				require.NoError(t, os.WriteFile(path, b, 0o644))
			}
			rep, err := Verify(e.p(), e.dir)
			require.NoError(t, err, "the log stands in for the run")
			require.NotEmpty(t, rep.Skipped, "Verify names the damaged run")
			for _, ce := range rep.Skipped {
				require.True(t, errors.Is(ce, ErrCorrupt))
				require.Contains(t, ce.File, ".run")
			}
			e.open(opts)
			require.Positive(t, e.s.Recovery().CheckpointsSkipped)
			kvCheck(t, e, m)
			kvWork(t, e, rng, m, 200)
			e.reopen(opts)
			kvCheck(t, e, m)
			e.close()
			_, err = Verify(e.p(), e.dir)
			require.NoError(t, err)
		})
	}
}

// A bit flipped in a block of a kv run is not read by Open, which trusts
// the run to what the checkpoint records of it (rule 8 of recovery): the
// store opens without passing the checkpoint over, every read of the
// damaged block is a CorruptError naming the run and the block's offset
// and never a wrong value, the keys of other blocks read as they were,
// and Verify, which reads every block, fails naming the run. Removing
// the run makes the next Open pass its checkpoint over and rebuild the
// keys from the log.
func TestKvRunDamagedBlock(t *testing.T) {
	opts := Options{CheckpointBytes: 8 << 10}
	e := newEnv(t, opts)
	rng := rand.New(rand.NewPCG(33, 34))
	m := kvModel{}
	kvWork(t, e, rng, m, 400)
	e.close()
	runs, _ := filepath.Glob(filepath.Join(e.dir, logDir, "kv-*.run"))
	require.NotEmpty(t, runs)
	for _, path := range runs {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		b[kvRunHeader+100] ^= 1 // in block 0
		require.NoError(t, os.WriteFile(path, b, 0o644))
	}

	e.open(opts)
	require.Zero(t, e.s.Recovery().CheckpointsSkipped, "Open reads no block")
	require.NotNil(t, e.s.st.kvRuns)
	bad := 0
	for k, want := range m {
		got, err := perform(e, ops.KvGet{Key: k})
		if err != nil {
			var ce *CorruptError
			require.ErrorAs(t, err, &ce, k)
			require.Contains(t, ce.File, ".run")
			require.Equal(t, int64(kvRunHeader), ce.Offset, "block 0's offset")
			bad++
			continue
		}
		require.NotNil(t, got, k)
		require.Equal(t, want.Revision, got.Revision, k)
		require.Equal(t, string(want.Value), string(got.Value), k)
	}
	require.Positive(t, bad, "some keys lie in the damaged block")
	require.Less(t, bad, len(m), "the other blocks read")
	_, err := perform(e, ops.KvList{Limit: 1000})
	require.ErrorIs(t, err, ErrCorrupt, "a list through the damaged block")
	e.close()

	_, err = Verify(e.p(), e.dir)
	var ce *CorruptError
	require.ErrorAs(t, err, &ce, "Verify reads every block")
	require.Contains(t, ce.Error(), ".run")

	for _, path := range runs {
		require.NoError(t, os.Remove(path))
	}
	e.open(opts)
	require.Positive(t, e.s.Recovery().CheckpointsSkipped)
	kvCheck(t, e, m)
	e.close()
	_, err = Verify(e.p(), e.dir)
	require.NoError(t, err)
}

// kvHistModel is every version each key made, oldest first.
type kvHistModel map[string][]ops.KvVersion

// kvHistWork is kvWork that also records the versions each commit made
// (a delete of an absent key makes none).
func kvHistWork(t *testing.T, e *env, rng *rand.Rand, m kvModel, hm kvHistModel, n int) {
	t.Helper()
	for range n {
		var ch []ops.KvChange
		for range 1 + rng.IntN(3) {
			k := fmt.Sprintf("key/%02d/%d", rng.IntN(20), rng.IntN(10))
			if slices.ContainsFunc(ch, func(c ops.KvChange) bool { return c.Key == k }) {
				continue
			}
			if rng.IntN(4) == 0 {
				ch = append(ch, ops.KvChange{Key: k, Delete: true})
			} else {
				ch = append(ch, ops.KvChange{Key: k, Value: fmt.Appendf(nil, "v%d", rng.Uint32())})
			}
		}
		res := must(t, e, ops.Commit{Kv: ch})
		for _, c := range ch {
			_, had := m[c.Key]
			if c.Delete {
				if had {
					hm[c.Key] = append(hm[c.Key], ops.KvVersion{Key: c.Key, Revision: res.Revision, Deleted: true})
				}
				delete(m, c.Key)
				continue
			}
			m[c.Key] = ops.KvEntry{Key: c.Key, Value: c.Value, Revision: res.Revision}
			hm[c.Key] = append(hm[c.Key], ops.KvVersion{Key: c.Key, Revision: res.Revision, Value: c.Value})
		}
	}
}

// kvHistCheck reads every key's history and wants its last depth
// versions, newest first.
func kvHistCheck(t *testing.T, e *env, hm kvHistModel, depth int) {
	t.Helper()
	for k, vs := range hm {
		got := must(t, e, ops.KvHistory{Key: k})
		want := slices.Clone(vs[max(0, len(vs)-depth):])
		slices.Reverse(want)
		require.Len(t, got.Versions, len(want), k)
		for i := range want {
			require.Equal(t, want[i].Revision, got.Versions[i].Revision, "%s version %d", k, i)
			require.Equal(t, want[i].Deleted, got.Versions[i].Deleted, "%s version %d", k, i)
			require.Equal(t, string(want[i].Value), string(got.Versions[i].Value), "%s version %d", k, i)
		}
	}
}

// The kept revisions of the keys a checkpoint covers lie in its kv run,
// deleted keys' too: in memory are those of the keys changed since, and
// every history agrees with the model across checkpoints, reopens, a
// lowered depth and Verify.
func TestKvRunHistory(t *testing.T) {
	opts := Options{CheckpointBytes: 4 << 10, IndexCacheBytes: 16 << 10, KvHistory: 4}
	e := newEnv(t, opts)
	rng := rand.New(rand.NewPCG(41, 42))
	m, hm := kvModel{}, kvHistModel{}
	for round := range 3 {
		kvHistWork(t, e, rng, m, hm, 300)
		kvHistCheck(t, e, hm, 4)
		e.reopen(opts)
		kvHistCheck(t, e, hm, 4)
		require.NotNil(t, e.s.st.kvRuns, "round %d", round)
		require.Less(t, len(e.s.st.ret.hist.keys), len(hm), "round %d: memory holds the history of the keys changed since the run only", round)
		kvCheck(t, e, m)
	}
	// A watch from the start of what history keeps reads every change.
	w := must(t, e, ops.KvWatch{Limit: 10})
	require.NotEmpty(t, w.Changes)
	e.close()
	_, err := Verify(e.p(), e.dir)
	require.NoError(t, err)

	// A lowered depth drops what it no longer keeps from the run's keys
	// too, and the next checkpoint writes them so.
	low := opts
	low.KvHistory = 2
	e.open(low)
	kvHistCheck(t, e, hm, 2)
	kvHistWork(t, e, rng, m, hm, 50)
	e.reopen(low)
	require.Less(t, len(e.s.st.ret.hist.keys), len(hm))
	kvHistCheck(t, e, hm, 2)
	kvCheck(t, e, m)
	e.close()
	_, err = Verify(e.p(), e.dir)
	require.NoError(t, err)
}

// A store whose checkpoint is of format 7 (its kv run's entries with the
// current revision only, every key's history in the checkpoint's
// section; testdata/ckptv7store.tar.gz: key k<i> put i+1 times, at
// revisions 1 to i+1, value "v<i>-<j>", then k3 and k7 deleted at
// revision 11) opens from it with every key's history, and the next
// checkpoint, of format 8, puts the history into its run, deleted keys'
// included, and holds none in memory.
func TestCheckpointVersion7KvHistory(t *testing.T) {
	dir := untarStore(t, "ckptv7store.tar.gz")
	e := &env{t: t, dir: dir, os: newEnv(t, Options{}).os}
	e.open(Options{})
	t.Cleanup(func() {
		if e.s != nil {
			_ = e.s.Close(e.p())
		}
	})
	require.NotZero(t, e.s.Recovery().Checkpoint, "opened from the format 7 checkpoint")
	require.NotNil(t, e.s.st.kvRuns)
	check := func(what string, extra int) {
		t.Helper()
		for i := range 10 {
			k := fmt.Sprintf("k%d", i)
			var want []ops.KvVersion
			for j := 0; j <= i; j++ {
				want = append(want, ops.KvVersion{Key: k, Revision: uint64(j + 1), Value: fmt.Appendf(nil, "v%d-%d", i, j)})
			}
			if i == 3 || i == 7 {
				want = append(want, ops.KvVersion{Key: k, Revision: 11, Deleted: true})
			}
			if i == 0 {
				for x := range extra {
					want = append(want, ops.KvVersion{Key: k, Revision: uint64(12 + x), Value: []byte("again")})
				}
			}
			slices.Reverse(want)
			got := must(t, e, ops.KvHistory{Key: k})
			require.Equal(t, want, got.Versions, "%s: %s", what, k)
		}
	}
	check("format 7", 0)
	_, err := Verify(e.p(), filepath.Clean(dir))
	require.NoError(t, err)

	must(t, e, ops.KvPut{Key: "k0", Value: []byte("again")})
	e.reopen(Options{})
	b, err := os.ReadFile(filepath.Join(dir, logDir, ckptName(e.s.Recovery().Checkpoint)))
	require.NoError(t, err)
	require.Equal(t, uint32(ckptVersion), binary.LittleEndian.Uint32(b[8:]), "the next checkpoint is of the current format")
	require.Empty(t, e.s.st.ret.hist.keys, "the run holds every key's history")
	check("format 8", 1)
	e.close()
	_, err = Verify(e.p(), filepath.Clean(dir))
	require.NoError(t, err)
}

// requireKvRunsNamed wants every kv run file in e's log to be one a kept
// checkpoint names: the others are removed once the checkpoint after the
// one that named them last is in place.
func requireKvRunsNamed(t *testing.T, e *env) {
	t.Helper()
	named := map[string]bool{}
	ckpts, _ := filepath.Glob(filepath.Join(e.dir, logDir, "checkpoint-*.ckpt"))
	require.NotEmpty(t, ckpts)
	for _, path := range ckpts {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		_, st, err := decodeCheckpoint(b, e.s0id(t))
		require.NoError(t, err, path)
		require.LessOrEqual(t, len(st.kvRefs), kvMaxRuns, path)
		for _, r := range st.kvRefs {
			named[kvRunName(r.gen)] = true
		}
	}
	runs, _ := filepath.Glob(filepath.Join(e.dir, logDir, "kv-*.run"))
	require.NotEmpty(t, runs)
	for _, path := range runs {
		require.True(t, named[filepath.Base(path)], "run %s is named by no kept checkpoint", path)
	}
}
