package file

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"rose-ash.com/persist/effect"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
)

// histModel is what a store of kv history depth keep answers after a
// sequence of puts and deletes: a delete of an absent key takes a
// revision and makes no version.
type histModel struct {
	keep      int
	rev       uint64
	cur       map[string]*ops.KvEntry
	hist      map[string][]ops.KvVersion // oldest first
	compacted uint64
}

func newHistModel(keep int) *histModel {
	return &histModel{keep: keep, cur: map[string]*ops.KvEntry{}, hist: map[string][]ops.KvVersion{}}
}

// apply records a change and gives whether the key existed before it.
func (m *histModel) apply(key string, value []byte, del bool) bool {
	m.rev++
	return m.change(key, value, del)
}

// change records a change of the commit of revision m.rev.
func (m *histModel) change(key string, value []byte, del bool) bool {
	existed := m.cur[key] != nil
	if del && !existed {
		return false
	}
	if del {
		delete(m.cur, key)
	} else {
		m.cur[key] = &ops.KvEntry{Key: key, Value: value, Revision: m.rev}
	}
	h := append(m.hist[key], ops.KvVersion{Key: key, Revision: m.rev, Value: value, Deleted: del})
	m.hist[key] = h
	m.setKeep(m.keep)
	return existed
}

func (m *histModel) setKeep(n int) {
	m.keep = n
	for k, h := range m.hist {
		if len(h) > n {
			m.compacted = max(m.compacted, h[len(h)-n-1].Revision)
			m.hist[k] = slices.Clone(h[len(h)-n:])
		}
	}
}

// kvAnswers is every kv answer of a store over keys: gets, histories,
// the list, and a watch from the start followed to the end.
type kvAnswers struct {
	Gets    map[string]*ops.KvEntry
	Hist    map[string][]ops.KvVersion
	List    []ops.KvEntry
	Watch   []ops.KvVersion
	Revison uint64
	// Versions is the count of kept versions Stat gives, Keys the keys
	// with a value.
	Versions uint64
	Keys     int
}

func readKvAnswers(t *testing.T, e *env, keys []string) kvAnswers {
	t.Helper()
	a := kvAnswers{Gets: map[string]*ops.KvEntry{}, Hist: map[string][]ops.KvVersion{}}
	for _, k := range keys {
		a.Gets[k] = must(t, e, ops.KvGet{Key: k})
		a.Hist[k] = must(t, e, ops.KvHistory{Key: k}).Versions
	}
	after := ""
	for {
		l := must(t, e, ops.KvList{After: after, Limit: 7})
		a.List = append(a.List, l.Entries...)
		if !l.More {
			break
		}
		after = l.Entries[len(l.Entries)-1].Key
	}
	a.Versions = must(t, e, ops.Stat{}).KvVersions
	a.Keys = e.s.Stats().KvKeys
	from := uint64(0)
	for {
		w := must(t, e, ops.KvWatch{From: from, Limit: 5})
		a.Watch = append(a.Watch, w.Changes...)
		if w.Next > w.Revision {
			a.Revison = w.Revision
			break
		}
		from = w.Next
	}
	return a
}

func (m *histModel) answers(keys []string) kvAnswers {
	a := kvAnswers{Gets: map[string]*ops.KvEntry{}, Hist: map[string][]ops.KvVersion{}, Revison: m.rev}
	for _, k := range keys {
		a.Gets[k] = m.cur[k]
		var h []ops.KvVersion
		for i := len(m.hist[k]) - 1; i >= 0; i-- {
			h = append(h, m.hist[k][i])
		}
		a.Hist[k] = h
		if e := m.cur[k]; e != nil {
			a.List = append(a.List, *e)
			a.Keys++
		}
		a.Versions += uint64(len(m.hist[k]))
	}
	for _, k := range keys {
		for _, v := range m.hist[k] {
			if v.Revision > m.compacted {
				a.Watch = append(a.Watch, v)
			}
		}
	}
	slices.SortStableFunc(a.Watch, func(x, y ops.KvVersion) int {
		if x.Revision != y.Revision {
			return int(x.Revision) - int(y.Revision)
		}
		return 0
	})
	return a
}

// normal makes empty and nil alike for comparing.
func (a kvAnswers) normal() kvAnswers {
	for k, h := range a.Hist {
		if len(h) == 0 {
			a.Hist[k] = nil
		}
		for i := range h {
			if len(h[i].Value) == 0 {
				h[i].Value = nil
			}
		}
	}
	for i := range a.Watch {
		if len(a.Watch[i].Value) == 0 {
			a.Watch[i].Value = nil
		}
	}
	if len(a.List) == 0 {
		a.List = nil
	}
	if len(a.Watch) == 0 {
		a.Watch = nil
	}
	return a
}

// kvWorkload runs n random kv changes on e and m: puts, deletes of
// present and absent keys, deletes then puts, with reopens (each Close
// writes a checkpoint) and compactions between; checkpoints also come
// from CheckpointBytes while commits run.
func kvWorkload(t *testing.T, rng *rand.Rand, e *env, m *histModel, keys []string, n int, opts Options) {
	t.Helper()
	var kvCompacted int64
	defer func() { t.Logf("compactions took %d kv changes", kvCompacted) }()
	for i := range n {
		k := keys[rng.IntN(len(keys))]
		switch r := rng.IntN(20); {
		case r < 11:
			v := fmt.Appendf(nil, "%s=%d-%0*d", k, i, rng.IntN(400), 0)
			res := must(t, e, ops.KvPut{Key: k, Value: v})
			require.Equal(t, m.apply(k, v, false), res.Existed, "put %q at %d", k, i)
			require.Equal(t, m.rev, res.Revision)
		case r < 17:
			res := must(t, e, ops.KvDelete{Key: k})
			require.Equal(t, m.apply(k, nil, true), res.Existed, "delete %q at %d", k, i)
			require.Equal(t, m.rev, res.Revision)
		case r < 18:
			// Several keys in one commit, with an append.
			var ch []ops.KvChange
			for _, k := range []string{k, keys[rng.IntN(len(keys))], keys[rng.IntN(len(keys))]} {
				if slices.ContainsFunc(ch, func(c ops.KvChange) bool { return c.Key == k }) {
					continue
				}
				c := ops.KvChange{Key: k, Delete: rng.IntN(2) == 0}
				if !c.Delete {
					c.Value = fmt.Appendf(nil, "%s=%d/%d", k, i, len(ch))
				}
				ch = append(ch, c)
			}
			res := must(t, e, ops.Commit{Appends: []ops.Append{{Stream: "s", Events: evs(fmt.Sprint(i))}}, Kv: ch})
			m.rev++
			require.Equal(t, m.rev, res.Revision)
			for j, c := range ch {
				require.Equal(t, m.change(c.Key, c.Value, c.Delete), res.Kv[j].Existed, "commit of %q at %d", c.Key, i)
			}
		case r < 19:
			e.reopen(opts)
		default:
			res, err := e.s.Compact(e.p(), CompactOptions{})
			require.NoError(t, err)
			kvCompacted += res.KvChanges
		}
	}
}

func kvReviewKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%02d", i)
	}
	return keys
}

// Every kv answer after random puts and deletes (of absent keys too,
// deletes then puts, keys past the depth), checkpoints written while
// commits run, reopens and compactions, is the model's, from the
// checkpoint and from a full replay alike.
func TestKvReviewReplayModel(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			opts := Options{SegmentSize: 64 << 10, KvHistory: 3, CheckpointBytes: 24 << 10}
			e := newEnv(t, opts)
			rng := rand.New(rand.NewPCG(seed, 9))
			keys := kvReviewKeys(12)
			m := newHistModel(3)
			kvWorkload(t, rng, e, m, keys, 500, opts)
			want := m.answers(keys).normal()
			require.Equal(t, want, readKvAnswers(t, e, keys).normal(), "live")
			e.reopen(opts)
			require.Equal(t, want, readKvAnswers(t, e, keys).normal(), "from the checkpoint")
			e.close()
			removeCheckpoints(t, e.dir)
			e.open(opts)
			require.Equal(t, want, readKvAnswers(t, e, keys).normal(), "from a full replay")
		})
	}
}

// A depth lowered at an Open trims the history the kv run holds as a
// full replay at that depth does, and raised again keeps more from then
// on.
func TestKvReviewDepthLoweredRaised(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			opts := Options{SegmentSize: 64 << 10, KvHistory: 5, CheckpointBytes: 24 << 10}
			e := newEnv(t, opts)
			rng := rand.New(rand.NewPCG(seed, 11))
			keys := kvReviewKeys(8)
			m := newHistModel(5)
			kvWorkload(t, rng, e, m, keys, 300, opts)
			opts.KvHistory = 2
			m.setKeep(2)
			e.reopen(opts)
			want := m.answers(keys).normal()
			require.Equal(t, want, readKvAnswers(t, e, keys).normal(), "lowered")
			kvWorkload(t, rng, e, m, keys, 100, opts)
			want = m.answers(keys).normal()
			require.Equal(t, want, readKvAnswers(t, e, keys).normal(), "lowered, after more changes")
			e.reopen(opts)
			require.Equal(t, want, readKvAnswers(t, e, keys).normal(), "lowered, reopened")
			replayed(t, e, opts, func(f *env) {
				require.Equal(t, want, readKvAnswers(t, f, keys).normal(), "lowered, from a full replay")
			})
			opts.KvHistory = 4
			m.keep = 4
			e.reopen(opts)
			require.Equal(t, want, readKvAnswers(t, e, keys).normal(), "raised")
			kvWorkload(t, rng, e, m, keys, 200, opts)
			want = m.answers(keys).normal()
			require.Equal(t, want, readKvAnswers(t, e, keys).normal(), "raised, after more changes")
			e.reopen(opts)
			require.Equal(t, want, readKvAnswers(t, e, keys).normal(), "raised, reopened")
		})
	}
}

// hasKvRun tells whether dir's log holds a kv run file.
func hasKvRun(t *testing.T, dir string) bool {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, logDir))
	require.NoError(t, err)
	for _, de := range ents {
		if _, ok := isKvRunName(de.Name()); ok {
			return true
		}
	}
	return false
}

// A key deleted by the first commit after the checkpoint that wrote the
// store's first kv run, before the store takes the run, stays deleted:
// the run holds its value, and the delete must still hide it.
func TestKvReviewDeleteBeforeFirstRunTaken(t *testing.T) {
	opts := Options{SegmentSize: 64 << 10, KvHistory: 3, CheckpointBytes: 8 << 10}
	e := newEnv(t, opts)
	big := bytes.Repeat([]byte("v"), 1<<10)
	for i := 0; !hasKvRun(t, e.dir); i++ {
		require.Less(t, i, 100, "no checkpoint wrote a kv run")
		must(t, e, ops.KvPut{Key: "a", Value: big})
	}
	res := must(t, e, ops.KvDelete{Key: "a"})
	require.True(t, res.Existed)
	if got := must(t, e, ops.KvGet{Key: "a"}); got != nil {
		t.Fatalf("the deleted key reads its value of revision %d", got.Revision)
	}
	require.Empty(t, must(t, e, ops.KvList{}).Entries)
	require.Zero(t, e.s.Stats().KvKeys)
	hist := must(t, e, ops.KvHistory{Key: "a"}).Versions
	require.True(t, hist[0].Deleted, "the newest version is the delete")
	// The next checkpoint merges the run with the delete.
	e.reopen(opts)
	if got := must(t, e, ops.KvGet{Key: "a"}); got != nil {
		t.Fatalf("the deleted key reads its value of revision %d, reopened", got.Revision)
	}
	require.True(t, must(t, e, ops.KvHistory{Key: "a"}).Versions[0].Deleted)
}

// kvDamagedStore builds a store of 300 keys, each put four times (past
// its history depth of three) and some deleted, over sealed segments,
// closes it (its checkpoint writes a kv run) and damages block 0 of
// every run; it gives a key of block 0 and one of a later block.
func kvDamagedStore(t *testing.T, opts Options) (e *env, bad, good string) {
	t.Helper()
	e = newEnv(t, opts)
	val := bytes.Repeat([]byte("v"), 200)
	for round := range 4 {
		for i := range 300 {
			must(t, e, ops.KvPut{Key: fmt.Sprintf("a%04d", i), Value: fmt.Appendf(val[:200:200], "%d", round)})
		}
	}
	for i := 0; i < 300; i += 7 {
		must(t, e, ops.KvDelete{Key: fmt.Sprintf("a%04d", i)})
	}
	e.close()
	damageKvRuns(t, e.dir)
	return e, "a0001", "a0299"
}

// damageKvRuns flips a byte of block 0 of every kv run in dir's log.
func damageKvRuns(t *testing.T, dir string) {
	t.Helper()
	runs, _ := filepath.Glob(filepath.Join(dir, logDir, "kv-*.run"))
	require.NotEmpty(t, runs)
	for _, path := range runs {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		b[kvRunHeader+100] ^= 1 // in block 0
		require.NoError(t, os.WriteFile(path, b, 0o644))
	}
}

// requireRunBlock0 wants err to be a CorruptError naming a kv run file
// and its block 0's offset.
func requireRunBlock0(t *testing.T, err error, what string) {
	t.Helper()
	var ce *CorruptError
	require.ErrorAs(t, err, &ce, what)
	require.Contains(t, ce.File, kvRunSuffix, what)
	require.Equal(t, int64(kvRunHeader), ce.Offset, what)
}

// Every read path that needs a damaged block of a kv run (get, list,
// history, the delete filter of a watch, a commit's Existed lookup, a
// compaction's oldest kept revision) is a CorruptError naming the run
// and the block's offset, and a commit refused so leaves nothing
// behind: the revision does not move and a reopen sees no trace of it.
func TestKvReviewDamagedBlockReads(t *testing.T) {
	opts := Options{SegmentSize: 64 << 10, KvHistory: 3}
	e, bad, good := kvDamagedStore(t, opts)
	e.open(opts)
	_, err := perform(e, ops.KvGet{Key: bad})
	requireRunBlock0(t, err, "get")
	_, err = perform(e, ops.KvList{Limit: 10})
	requireRunBlock0(t, err, "list")
	_, err = perform(e, ops.KvHistory{Key: bad})
	requireRunBlock0(t, err, "history")
	_, err = perform(e, ops.KvWatch{From: 0, Limit: 1000})
	requireRunBlock0(t, err, "watch over a delete of a key of the block")
	got := must(t, e, ops.KvGet{Key: good})
	require.NotNil(t, got)

	rev := e.s.Stats().Revision
	_, err = perform(e, ops.Commit{Kv: []ops.KvChange{{Key: good, Value: []byte("x")}, {Key: bad, Value: []byte("y")}}})
	requireRunBlock0(t, err, "commit")
	_, err = perform(e, ops.KvDelete{Key: bad})
	requireRunBlock0(t, err, "delete")
	require.Equal(t, rev, e.s.Stats().Revision, "a refused commit takes no revision")
	require.Equal(t, got, must(t, e, ops.KvGet{Key: good}), "a refused commit changes no key")

	_, err = e.s.Compact(e.p(), CompactOptions{})
	requireRunBlock0(t, err, "compaction")

	res := must(t, e, ops.KvPut{Key: good, Value: []byte("z")})
	require.Equal(t, rev+1, res.Revision)
	// The checkpoint of Close writes the changed key as a new tier over
	// the damaged run, reading none of its blocks; a read of the damaged
	// block still fails after the reopen.
	require.NoError(t, e.s.Close(e.p()))
	e.s = nil
	e.open(Options{SegmentSize: 64 << 10, KvHistory: 3, CheckpointBytes: 1 << 30})
	require.Equal(t, rev+1, e.s.Stats().Revision)
	_, err = perform(e, ops.KvGet{Key: bad})
	requireRunBlock0(t, err, "get after the reopen")
	h := must(t, e, ops.KvHistory{Key: good}).Versions
	require.Equal(t, "z", string(h[0].Value))
	require.Equal(t, rev+1, h[0].Revision)
}

// An Open that needs a damaged block of the run its checkpoint names
// (the tail replays a change of a key in it, or a lowered depth trims
// the run) passes that checkpoint over, and every older one naming the
// run, and rebuilds from the log, which holds every record: the key
// reads as the log has it, and Verify, which passes the checkpoint over
// as Open does, agrees and names the run.
func TestKvReviewDamagedBlockOpen(t *testing.T) {
	opts := Options{SegmentSize: 64 << 10, KvHistory: 3}
	e, bad, _ := kvDamagedStore(t, opts)
	want := fmt.Sprintf("%s3", bytes.Repeat([]byte("v"), 200))
	low := t.TempDir() + "/data"
	copyDir(t, e.dir, low)
	s, err := Open(e.p(), low, Options{SegmentSize: 64 << 10, KvHistory: 2})
	require.NoError(t, err, "open with a lowered depth")
	require.Positive(t, s.Recovery().CheckpointsSkipped, "open with a lowered depth")
	require.Zero(t, s.Recovery().Checkpoint, "every checkpoint names a damaged run")
	lowEnv := &env{t: t, dir: low, os: e.os, s: s}
	require.Equal(t, want, string(must(t, lowEnv, ops.KvGet{Key: bad}).Value), "open with a lowered depth")
	lowEnv.close()

	// A crash image whose tail puts a key of block 0 after the
	// checkpoint: replaying it looks the key up in the run.
	runs, err := filepath.Glob(filepath.Join(e.dir, logDir, "kv-*.run"))
	require.NoError(t, err)
	for _, path := range runs {
		require.NoError(t, os.Remove(path))
	}
	e.open(opts) // passes the checkpoints over, rebuilds from the log
	e.close()    // a checkpoint with a good run
	e.open(opts)
	must(t, e, ops.KvPut{Key: bad, Value: []byte("tail")})
	crash := t.TempDir() + "/data"
	copyDir(t, e.dir, crash)
	e.close()
	damageKvRuns(t, crash)
	rep, err := Verify(e.p(), crash)
	require.NoError(t, err, "Verify of the store replaying a change of a key of the block")
	require.NotEmpty(t, rep.Skipped)
	requireRunBlock0(t, rep.Skipped[0], "Verify names the run")
	c := &env{t: t, dir: crash, os: e.os}
	c.open(opts)
	require.Positive(t, c.s.Recovery().CheckpointsSkipped, "open replaying a change of a key of the block")
	require.Equal(t, rep.Checkpoint, c.s.Recovery().Checkpoint, "Verify starts where Open does")
	require.Equal(t, "tail", string(must(t, c, ops.KvGet{Key: bad}).Value))
	c.close()
}

// Writers of puts and deletes (of absent keys too, several keys a
// commit, in groups), readers of gets, lists, histories and watches, and
// compactions run at once while checkpoints write kv runs and retire
// them; every answer after is the same from the checkpoint and from a
// full replay, and Verify agrees.
func TestKvReviewConcurrentCheckpoints(t *testing.T) {
	opts := Options{SegmentSize: 64 << 10, KvHistory: 3, CheckpointBytes: 16 << 10, IndexCacheBytes: 8 << 10}
	e := newEnv(t, opts)
	keys := kvReviewKeys(40)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 16)
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 5))
			for i := range 400 {
				var ch []ops.KvChange
				for range 1 + rng.IntN(3) {
					k := keys[rng.IntN(len(keys))]
					if slices.ContainsFunc(ch, func(c ops.KvChange) bool { return c.Key == k }) {
						continue
					}
					if rng.IntN(3) == 0 {
						ch = append(ch, ops.KvChange{Key: k, Delete: true})
					} else {
						ch = append(ch, ops.KvChange{Key: k, Value: fmt.Appendf(nil, "%d/%d-%0*d", w, i, rng.IntN(300), 0)})
					}
				}
				if _, err := perform(e, ops.Commit{Kv: ch}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var rd sync.WaitGroup
	for r := range 2 {
		rd.Add(1)
		go func() {
			defer rd.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 6))
			for {
				select {
				case <-stop:
					return
				default:
				}
				k := keys[rng.IntN(len(keys))]
				var err error
				switch rng.IntN(4) {
				case 0:
					_, err = perform(e, ops.KvGet{Key: k})
				case 1:
					_, err = perform(e, ops.KvHistory{Key: k})
				case 2:
					_, err = perform(e, ops.KvList{Limit: 10})
				default:
					_, err = perform(e, ops.KvWatch{Limit: 20})
					var ce *ops.CompactedError
					if errors.As(err, &ce) {
						err = nil // history moved past the page meanwhile
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	rd.Add(1)
	go func() {
		defer rd.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := e.s.Compact(e.p(), CompactOptions{}); err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	rd.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	live := readKvAnswers(t, e, keys).normal()
	e.reopen(opts)
	require.Equal(t, live, readKvAnswers(t, e, keys).normal(), "from the checkpoint")
	e.close()
	_, err := Verify(e.p(), e.dir)
	require.NoError(t, err)
	removeCheckpoints(t, e.dir)
	e.open(opts)
	require.Equal(t, live, readKvAnswers(t, e, keys).normal(), "from a full replay")
}

// replayed closes e, opens a copy of its directory without checkpoints
// or kv runs (a full replay) for check, and opens e again.
func replayed(t *testing.T, e *env, opts Options, check func(f *env)) {
	t.Helper()
	e.close()
	f := &env{t: t, dir: t.TempDir() + "/data", os: e.os, hs: e.hs}
	copyDir(t, e.dir, f.dir)
	removeCheckpoints(t, f.dir)
	_, err := Verify(f.p(), e.dir)
	require.NoError(t, err)
	f.open(opts)
	check(f)
	f.close()
	e.open(opts)
}

// A follower opened from a checkpoint naming a kv run, while the writer
// goes on deleting and putting keys and its checkpoints write new runs
// and remove the follower's, answers every kv read as the writer does.
func TestKvReviewFollower(t *testing.T) {
	opts := Options{SegmentSize: 64 << 10, KvHistory: 3, CheckpointBytes: 24 << 10}
	e := newEnv(t, opts)
	rng := rand.New(rand.NewPCG(4, 4))
	keys := kvReviewKeys(12)
	m := newHistModel(3)
	kvWorkload(t, rng, e, m, keys, 150, opts)
	e.reopen(opts)
	require.True(t, hasKvRun(t, e.dir))
	f := openFollower(t, e.dir, opts)
	fe := &env{t: t, dir: e.dir, os: f.os, s: f.s}
	want := m.answers(keys).normal()
	require.Equal(t, want, readKvAnswers(t, fe, keys).normal(), "at open")
	for range 3 {
		kvWorkload(t, rng, e, m, keys, 150, opts)
		want = m.answers(keys).normal()
		require.Equal(t, want, readKvAnswers(t, e, keys).normal(), "writer")
		require.Equal(t, want, readKvAnswers(t, fe, keys).normal(), "follower")
	}
}

// A follower's Stat plans a compaction against its kv run, which the
// writer's checkpoints remove once two more have written runs: Stat
// still answers, as it did before they did.
func TestKvReviewFollowerStatRunRemoved(t *testing.T) {
	opts := Options{SegmentSize: 64 << 10, KvHistory: 2}
	e := newEnv(t, opts)
	kvPuts(t, e, "k", 5) // past the depth: history dropped some
	e.reopen(opts)
	f := openFollower(t, e.dir, opts)
	before := fdo(f, ops.Stat{})
	path := f.s.st.kvRuns.newest().path
	var err error
	for i := 0; i < 3 || err == nil && i < 3+2*kvMaxRuns; i++ {
		// Tiered runs: the follower's run goes once a checkpoint folded
		// it into a newer one and the checkpoint after superseded that.
		kvPuts(t, e, fmt.Sprint("k", i), 1)
		e.reopen(opts)
		_, err = os.Stat(path)
	}
	require.ErrorIs(t, err, os.ErrNotExist, "the writer removed the follower's run")
	got, err := effect.Perform(f.p(context.Background()), ops.Stat{})
	require.NoError(t, err)
	require.GreaterOrEqual(t, got.KvRevision, before.KvRevision)
}
