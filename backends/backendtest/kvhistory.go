package backendtest

import (
	"fmt"
	"math/rand/v2"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/programs"
)

func init() {
	registerRetention("kv-history",
		Case{Name: "depth-order", Doc: "history gives the last DefaultKvHistory versions of a key, newest first, deletes included", Run: histDepthOrder},
		Case{Name: "limit", Doc: "history's Limit gives the newest versions and More when older ones are kept", Run: histLimit},
		Case{Name: "absent-key", Doc: "history of a key never written is empty", Run: histAbsent},
		Case{Name: "delete-absent-key", Doc: "deleting an absent key takes a revision but adds no version and no watch change", Run: histDeleteAbsent},
	)
	registerRetention("kv-watch",
		Case{Name: "order-prefix", Doc: "a watch gives the changes under its prefix in revision order, a commit's changes in key order", Run: watchOrder},
		Case{Name: "whole-revisions", Doc: "a page never splits a revision: a commit's changes come together even past Limit", Run: watchWholeRevisions},
		Case{Name: "resume", Doc: "a watcher that resumes at Next sees every later change once", Run: watchResume},
		Case{Name: "compacted", Doc: "a watch from a revision history dropped is a CompactedError naming both; From 0 starts at what history holds", Run: watchCompacted},
		Case{Name: "wait", Doc: "kv-wait answers at once past the revision, and times out (Passed false) at it", Run: watchWait},
		Case{Name: "wait-wakes", Doc: "kv-wait wakes when a kv change commits", Concurrent: true, Run: watchWaitWakes},
	)
	registerRetention("generations",
		Case{Name: "keep", Doc: "a snapshot write keeps the newest Keep generations, each read by its number, older ones gone", Run: genKeep},
		Case{Name: "default-replaces", Doc: "a write without Keep keeps one generation: the newest", Run: genDefault},
		Case{Name: "names-once", Doc: "snapshot-names lists a name once however many generations it keeps", Run: genNamesOnce},
		Case{Name: "bad-keep", Doc: "a negative or too large Keep is an invalid error naming keep, nothing written", Run: genBadKeep},
		Case{Name: "replay-retention", Doc: "snapshot + tail equals the full fold of the visible events, at every cut, under every retention setting", Run: genReplayRetention},
		Case{Name: "checkpoint-policy", Doc: "a projection checkpointed every N events keeps generations at the cuts the policy names and loads to the full fold", Run: genCheckpointPolicy},
	)
}

func history(e *Env, key string, limit int) ops.KvHistoryResult {
	r, err := perform(e, ops.KvHistory{Key: key, Limit: limit})
	if err != nil {
		e.Fatalf("precondition: kv-history %q: %v", key, err)
	}
	return r
}

func mustDelete(e *Env, key string) ops.KvResult {
	r, err := perform(e, ops.KvDelete{Key: key})
	if err != nil {
		e.Fatalf("precondition: kv-delete %q: %v", key, err)
	}
	return r
}

// versions shows versions compactly: "v@rev" or "-@rev" for a delete.
func versions(vs []ops.KvVersion) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		val := string(v.Value)
		if v.Deleted {
			val = "-"
		}
		out[i] = fmt.Sprintf("%s=%s@%d", v.Key, val, v.Revision)
	}
	return out
}

func histDepthOrder(e *Env) {
	for i := 1; i <= 12; i++ {
		mustPut(e, "k", fmt.Sprintf("v%d", i))
	}
	mustPut(e, "other", "o")
	mustDelete(e, "k")
	r := history(e, "k", 0)
	want := []string{"k=-@14"}
	for i := 12; i >= 4; i-- {
		want = append(want, fmt.Sprintf("k=v%d@%d", i, i))
	}
	e.Equal(ops.DefaultKvHistory, len(r.Versions), "versions kept")
	e.Equal(want, versions(r.Versions), "versions, newest first")
	e.Equal(false, r.More, "More")
}

func histLimit(e *Env) {
	for i := 1; i <= 4; i++ {
		mustPut(e, "k", fmt.Sprintf("v%d", i))
	}
	r := history(e, "k", 2)
	e.Equal([]string{"k=v4@4", "k=v3@3"}, versions(r.Versions), "the two newest versions")
	e.Equal(true, r.More, "More")
	r = history(e, "k", 4)
	e.Equal(4, len(r.Versions), "every version with Limit 4")
	e.Equal(false, r.More, "More with Limit 4")
}

func histAbsent(e *Env) {
	mustPut(e, "a", "1")
	r := history(e, "b", 0)
	e.Equal(0, len(r.Versions), "versions of a key never written")
	e.Equal(false, r.More, "More")
}

func histDeleteAbsent(e *Env) {
	mustPut(e, "a", "1")
	r := mustDelete(e, "nope")
	e.Equal(ops.KvResult{Key: "nope", Revision: 2, Existed: false}, r, "delete of an absent key")
	e.Equal(0, len(history(e, "nope", 0).Versions), "versions of the absent key")
	w, err := perform(e, ops.KvWatch{From: 1})
	e.NoError(err, "watch")
	e.Equal([]string{"a=1@1"}, versions(w.Changes), "changes watched")
	e.Equal(uint64(2), w.Revision, "the store's revision counts the delete")
	e.Equal(uint64(3), w.Next, "Next")
	e.Equal(uint64(3), mustPut(e, "a", "2").Revision, "the next change's revision")
}

// watchAll watches prefix from from to the end, page by page.
func watchAll(e *Env, prefix string, from uint64, limit int) (ops.KvWatchResult, []ops.KvVersion, int) {
	var all []ops.KvVersion
	for pages := 1; ; pages++ {
		r, err := perform(e, ops.KvWatch{Prefix: prefix, From: from, Limit: limit})
		if err != nil {
			e.Fatalf("precondition: kv-watch %q from %d: %v", prefix, from, err)
		}
		all = append(all, r.Changes...)
		if r.Next <= from && len(r.Changes) == 0 && r.Next <= r.Revision {
			e.Errorf("kv-watch from %d: Next %d does not move on", from, r.Next)
			return r, all, pages
		}
		from = r.Next
		if from > r.Revision || pages > 1000 {
			return r, all, pages
		}
	}
}

func watchOrder(e *Env) {
	mustPut(e, "p/b", "1")
	mustPut(e, "q/x", "2")
	_, err := perform(e, ops.Commit{Kv: []ops.KvChange{{Key: "p/c", Value: []byte("3")}, {Key: "p/a", Value: []byte("3")}, {Key: "q/y", Value: []byte("3")}}})
	e.NoError(err, "commit of three keys")
	mustDelete(e, "p/b")
	_, got, _ := watchAll(e, "p/", 1, 0)
	e.Equal([]string{"p/b=1@1", "p/a=3@3", "p/c=3@3", "p/b=-@4"}, versions(got), "changes under p/")
	_, got, _ = watchAll(e, "", 2, 0)
	e.Equal([]string{"q/x=2@2", "p/a=3@3", "p/c=3@3", "q/y=3@3", "p/b=-@4"}, versions(got), "every change from revision 2")
}

func watchWholeRevisions(e *Env) {
	mustPut(e, "a", "1")
	_, err := perform(e, ops.Commit{Kv: []ops.KvChange{{Key: "b", Value: []byte("2")}, {Key: "c", Value: []byte("2")}, {Key: "d", Value: []byte("2")}}})
	e.NoError(err, "commit of three keys")
	mustPut(e, "e", "3")
	r, err := perform(e, ops.KvWatch{From: 1, Limit: 2})
	e.NoError(err, "first page")
	e.Equal([]string{"a=1@1"}, versions(r.Changes), "first page: revision 2 does not fit whole")
	e.Equal(uint64(2), r.Next, "Next of the first page")
	r, err = perform(e, ops.KvWatch{From: 2, Limit: 2})
	e.NoError(err, "second page")
	e.Equal([]string{"b=2@2", "c=2@2", "d=2@2"}, versions(r.Changes), "second page: revision 2 whole, past Limit")
	e.Equal(uint64(3), r.Next, "Next of the second page")
	_, all, _ := watchAll(e, "", 1, 1)
	e.Equal(5, len(all), "changes watched a page of one at a time")
}

func watchResume(e *Env) {
	mustPut(e, "w/a", "1")
	mustPut(e, "w/b", "1")
	last, got, _ := watchAll(e, "w/", 0, 0)
	e.Equal(2, len(got), "changes before resuming")
	mustPut(e, "w/a", "2")
	mustPut(e, "x", "no")
	mustDelete(e, "w/b")
	_, got, _ = watchAll(e, "w/", last.Next, 0)
	e.Equal([]string{"w/a=2@3", "w/b=-@5"}, versions(got), "changes after resuming at Next")
}

func watchCompacted(e *Env) {
	for i := 1; i <= 12; i++ {
		mustPut(e, "k", fmt.Sprintf("v%d", i))
	}
	_, err := perform(e, ops.KvWatch{From: 1})
	e.Compacted(err, ops.CompactedError{Revision: 1, Compacted: 2}, "watch from revision 1")
	_, err = perform(e, ops.KvWatch{From: 2})
	e.Compacted(err, ops.CompactedError{Revision: 2, Compacted: 2}, "watch from revision 2")
	r, err := perform(e, ops.KvWatch{From: 3, Limit: 1})
	e.NoError(err, "watch from revision 3")
	e.Equal([]string{"k=v3@3"}, versions(r.Changes), "first change from revision 3")
	r, err = perform(e, ops.KvWatch{Limit: 1})
	e.NoError(err, "watch from 0")
	e.Equal([]string{"k=v3@3"}, versions(r.Changes), "first change from 0: the oldest kept")
}

func watchWait(e *Env) {
	rev := mustPut(e, "k", "v").Revision
	w, err := perform(e, ops.KvWait{After: rev - 1})
	e.NoError(err, "kv-wait below the revision")
	e.Equal(ops.WaitResult{Head: rev, Passed: true}, w, "kv-wait below the revision")
	mustAppend(e, "s", ops.Any(), ev("t", "no kv"))
	w, err = perform(e, ops.KvWait{After: rev, Timeout: 20 * time.Millisecond})
	e.NoError(err, "kv-wait at the revision")
	e.Equal(ops.WaitResult{Head: rev}, w, "kv-wait at the revision times out, an append notwithstanding")
	_, err = perform(e, ops.KvWait{Timeout: -time.Second})
	e.Invalid(err, "timeout", "kv-wait with a negative timeout")
}

func watchWaitWakes(e *Env) {
	rev := mustPut(e, "k", "v").Revision
	done := make(chan struct{})
	var w ops.WaitResult
	var err error
	go func() {
		defer close(done)
		w, err = perform(e, ops.KvWait{After: rev, Timeout: 30 * time.Second})
	}()
	time.Sleep(20 * time.Millisecond)
	mustPut(e, "k", "w")
	<-done
	e.NoError(err, "kv-wait")
	e.Equal(ops.WaitResult{Head: rev + 1, Passed: true}, w, "kv-wait woken by a put")
}

func snapGenerations(e *Env, name string) []uint64 {
	r, err := perform(e, ops.SnapshotGenerations{Name: name})
	if err != nil {
		e.Fatalf("precondition: snapshot-generations %q: %v", name, err)
	}
	var out []uint64
	for _, g := range r.Generations {
		out = append(out, g.Generation)
	}
	return out
}

func genKeep(e *Env) {
	for i := 1; i <= 4; i++ {
		_, err := perform(e, ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "p", Version: 1, Seq: uint64(i * 10), Value: []byte(fmt.Sprint(i))}, Keep: 2})
		e.NoError(err, "snapshot-write %d", i)
	}
	e.Equal([]uint64{4, 3}, snapGenerations(e, "p"), "generations kept, newest first")
	r, err := perform(e, ops.SnapshotRead{Name: "p"})
	e.NoError(err, "read newest")
	e.Equal(ops.SnapshotResult{Snapshot: ops.Snapshot{Name: "p", Version: 1, Seq: 40, Value: []byte("4")}, Found: true, Generation: 4}, r, "newest")
	r, err = perform(e, ops.SnapshotRead{Name: "p", Generation: 3})
	e.NoError(err, "read generation 3")
	e.Equal(ops.SnapshotResult{Snapshot: ops.Snapshot{Name: "p", Version: 1, Seq: 30, Value: []byte("3")}, Found: true, Generation: 3}, r, "generation 3")
	r, err = perform(e, ops.SnapshotRead{Name: "p", Generation: 2})
	e.NoError(err, "read generation 2")
	e.Equal(false, r.Found, "generation 2 is no longer kept")
}

func genDefault(e *Env) {
	for i := 1; i <= 3; i++ {
		_, err := perform(e, ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "p", Seq: uint64(i)}})
		e.NoError(err, "snapshot-write %d", i)
	}
	e.Equal([]uint64{3}, snapGenerations(e, "p"), "generations kept without Keep")
	e.Equal(0, len(snapGenerations(e, "never")), "generations of a name never written")
}

func genNamesOnce(e *Env) {
	for i := 1; i <= 3; i++ {
		_, err := perform(e, ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "p", Seq: uint64(i)}, Keep: 3})
		e.NoError(err, "snapshot-write p %d", i)
	}
	_, err := perform(e, ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "q", Seq: 1}})
	e.NoError(err, "snapshot-write q")
	names, err := perform(e, ops.SnapshotNames{})
	e.NoError(err, "snapshot-names")
	e.Equal([]string{"p", "q"}, names, "names with three generations and with one")
}

func genBadKeep(e *Env) {
	_, err := perform(e, ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "p", Seq: 1}, Keep: 1})
	e.NoError(err, "a first snapshot")
	before := observe(e, "p")
	for _, keep := range []int{-1, ops.MaxSnapshotGenerations + 1} {
		_, err := perform(e, ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "p", Seq: 2}, Keep: keep})
		e.Invalid(err, "keep", "snapshot-write with Keep %d", keep)
	}
	unchanged(e, before, "after refused snapshot writes", "p")
	e.Equal([]uint64{1}, snapGenerations(e, "p"), "generations after refused writes")
}

// retentionSettings are the limits the replay property runs under, on a
// 12-event ledger, before the drawn ones (truncate-before 13 is head+1:
// everything hidden).
var retentionSettings = []ops.StreamMeta{
	{},
	{MaxCount: 5},
	{TruncateBefore: 4},
	{TruncateBefore: 3, MaxCount: 7},
	{TruncateBefore: 13},
	{MaxCount: 1},
}

// randomSettings adds n limits drawn from a fixed seed (the same in both
// modes) to the settings the replay property runs under.
func randomSettings(n int) []ops.StreamMeta {
	r := rand.New(rand.NewPCG(13, 17))
	out := append([]ops.StreamMeta(nil), retentionSettings...)
	for range n {
		var m ops.StreamMeta
		if r.IntN(2) == 0 {
			m.MaxCount = uint64(r.IntN(14))
		}
		if r.IntN(2) == 0 {
			m.TruncateBefore = uint64(r.IntN(14))
		}
		out = append(out, m)
	}
	return out
}

func genReplayRetention(e *Env) {
	ledger(e, "acct")
	proj := ledgerProjection(1)
	for _, m := range randomSettings(10) {
		mustMeta(e, "acct", m)
		visible := readVisible(e, "acct", 1, 0)
		full, err := Do(e, projectProg("acct"))
		if !e.NoError(err, "full projection under %+v", m) {
			continue
		}
		want := programs.State[tally]{}
		for _, ev := range visible {
			want = programs.State[tally]{Value: tallyFold(want.Value, ev), Seq: ev.Seq}
		}
		e.Equal(want, full, "full projection under %+v against the fold of the visible events", m)
		// A cut after each visible event, and before the first.
		cuts := []programs.State[tally]{{}}
		for _, ev := range visible {
			last := cuts[len(cuts)-1]
			cuts = append(cuts, programs.State[tally]{Value: tallyFold(last.Value, ev), Seq: ev.Seq})
		}
		for _, cut := range cuts {
			st, err := Do(e, func(p *effect.P) (programs.State[tally], error) {
				if err := programs.Checkpoint(p, proj, cut); err != nil {
					return programs.State[tally]{}, err
				}
				return programs.Load(p, proj)
			})
			if e.NoError(err, "checkpoint at %d under %+v and load", cut.Seq, m) {
				e.Equal(full, st, "snapshot at %d + tail under %+v against the full fold", cut.Seq, m)
			}
		}
	}
	mustMeta(e, "acct", ops.StreamMeta{})
}

func genCheckpointPolicy(e *Env) {
	ledger(e, "acct")
	proj := ledgerProjection(1)
	policy := programs.CheckpointPolicy{Every: 5, Keep: 2}
	st, err := Do(e, func(p *effect.P) (programs.State[tally], error) {
		return programs.ProjectCheckpointed(p, proj, policy)
	})
	e.NoError(err, "project with checkpoints")
	full, err := Do(e, projectProg("acct"))
	e.NoError(err, "full projection")
	e.Equal(full, st, "checkpointed projection against the full fold")
	r, err := perform(e, ops.SnapshotGenerations{Name: proj.Name})
	e.NoError(err, "snapshot-generations")
	var seqs []uint64
	for _, g := range r.Generations {
		seqs = append(seqs, g.Seq)
	}
	e.Equal([]uint64{12, 10}, seqs, "seqs of the kept generations: every 5 events, and the end")
	loaded, err := Do(e, func(p *effect.P) (programs.State[tally], error) { return programs.Load(p, proj) })
	e.NoError(err, "load")
	e.Equal(full, loaded, "load after the checkpointed projection")
}
