package backendtest

import (
	"encoding/json"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/programs"
)

func init() {
	register("snapshot",
		Case{Name: "missing", Doc: "reading a snapshot never written answers Found false and its name", Run: snapMissing},
		Case{Name: "write-read", Doc: "a written snapshot is read back with its name, version, seq and value", Run: snapWriteRead},
		Case{Name: "replace", Doc: "writing a snapshot again replaces it", Run: snapReplace},
		Case{Name: "independent", Doc: "snapshots of different names do not affect each other, nor the log or kv", Run: snapIndependent},
		Case{Name: "checkpoint-load", Doc: "Load after Checkpoint gives the checkpointed state, folding only the tail", Run: snapCheckpointLoad},
		Case{Name: "replay-equals-full", Doc: "replay = snapshot + tail equals the full fold, for a checkpoint at every seq", Run: snapReplayEqualsFull},
		Case{Name: "version-mismatch", Doc: "a snapshot of another projection version is ignored: full replay, never misapplied", Run: snapVersionMismatch},
		Case{Name: "no-snapshot", Doc: "Load without a snapshot folds the whole stream from the seed", Run: snapNoSnapshot},
	)
}

func snapMissing(e *Env) {
	r, err := perform(e, ops.SnapshotRead{Name: "nope"})
	e.NoError(err, "snapshot-read")
	e.Equal(false, r.Found, "Found")
	e.Equal("nope", r.Snapshot.Name, "Snapshot.Name")
	e.Equal(uint64(0), r.Snapshot.Seq, "Snapshot.Seq")
}

func snapWriteRead(e *Env) {
	want := ops.Snapshot{Name: "balances", Version: 3, Seq: 42, Value: []byte(`{"a":1}`)}
	_, err := perform(e, ops.SnapshotWrite{Snapshot: want})
	e.NoError(err, "snapshot-write")
	r, err := perform(e, ops.SnapshotRead{Name: "balances"})
	e.NoError(err, "snapshot-read")
	e.Equal(true, r.Found, "Found")
	e.Equal(want, r.Snapshot, "snapshot")
}

func snapReplace(e *Env) {
	_, err := perform(e, ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "p", Version: 1, Seq: 5, Value: []byte("old")}})
	e.NoError(err, "first snapshot-write")
	want := ops.Snapshot{Name: "p", Version: 2, Seq: 3, Value: []byte("new")}
	_, err = perform(e, ops.SnapshotWrite{Snapshot: want})
	e.NoError(err, "second snapshot-write")
	r, err := perform(e, ops.SnapshotRead{Name: "p"})
	e.NoError(err, "snapshot-read")
	e.Equal(want, r.Snapshot, "snapshot after replacing")
}

func snapIndependent(e *Env) {
	mustAppend(e, "s", ops.Any(), ev("t", "1"))
	mustPut(e, "p", "kv")
	before := observe(e)
	a := ops.Snapshot{Name: "p", Version: 1, Seq: 1, Value: []byte("a")}
	b := ops.Snapshot{Name: "p2", Version: 1, Seq: 1, Value: []byte("b")}
	for _, s := range []ops.Snapshot{a, b} {
		_, err := perform(e, ops.SnapshotWrite{Snapshot: s})
		e.NoError(err, "snapshot-write %q", s.Name)
	}
	unchanged(e, before, "after snapshot-writes")
	for _, s := range []ops.Snapshot{a, b} {
		r, err := perform(e, ops.SnapshotRead{Name: s.Name})
		e.NoError(err, "snapshot-read %q", s.Name)
		e.Equal(s, r.Snapshot, "snapshot %q", s.Name)
	}
}

func ledgerProjection(version uint64) programs.Projection[tally] {
	return programs.Projection[tally]{Name: "ledger-tally", Stream: "acct", Version: version, Step: tallyStep}
}

func snapCheckpointLoad(e *Env) {
	ledger(e, "acct")
	proj := ledgerProjection(1)
	_, err := Do(e, func(p *effect.P) (struct{}, error) {
		st, err := programs.Project(p, proj.Stream, proj.Step, proj.Seed)
		if err != nil {
			return struct{}{}, err
		}
		return struct{}{}, programs.Checkpoint(p, proj, st)
	})
	e.NoError(err, "project and checkpoint")
	snap, err := perform(e, ops.SnapshotRead{Name: proj.Name})
	if e.NoError(err, "snapshot-read") {
		e.Equal(uint64(12), snap.Snapshot.Seq, "snapshot's Seq")
		e.Equal(uint64(1), snap.Snapshot.Version, "snapshot's Version")
	}
	mustAppend(e, "acct", ops.Any(), ev("credit", "5"), ev("debit", "2"))
	var folded []uint64
	counting := proj
	counting.Step = func(t tally, ev ops.Event) (tally, error) { folded = append(folded, ev.Seq); return tallyStep(t, ev) }
	st, err := Do(e, func(p *effect.P) (programs.State[tally], error) { return programs.Load(p, counting) })
	e.NoError(err, "load")
	e.Equal([]uint64{13, 14}, folded, "seqs folded by the load")
	full, err := Do(e, projectProg("acct"))
	e.NoError(err, "full projection")
	e.Equal(full, st, "loaded state against the full fold")
}

func snapReplayEqualsFull(e *Env) {
	ledger(e, "acct")
	proj := ledgerProjection(1)
	full, err := Do(e, projectProg("acct"))
	if !e.NoError(err, "full projection") {
		return
	}
	for k := 0; k <= 12; k++ {
		cut := programs.State[tally]{}
		if k > 0 {
			for _, got := range mustRead(e, "acct", 1, k).Events {
				cut = programs.State[tally]{Value: tallyFold(cut.Value, got), Seq: got.Seq}
			}
		}
		st, err := Do(e, func(p *effect.P) (programs.State[tally], error) {
			if err := programs.Checkpoint(p, proj, cut); err != nil {
				return programs.State[tally]{}, err
			}
			return programs.Load(p, proj)
		})
		if e.NoError(err, "checkpoint at %d and load", k) {
			e.Equal(full, st, "snapshot at %d + tail against the full fold", k)
		}
	}
}

func snapVersionMismatch(e *Env) {
	ledger(e, "acct")
	// A snapshot written by version 1, whose value would mislead version 2
	// if it were applied: a huge balance at seq 12.
	bogus, err := json.Marshal(tally{Balance: 1 << 30, Count: 12})
	if err != nil {
		e.Fatalf("encode: %v", err)
	}
	_, err = perform(e, ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "ledger-tally", Version: 1, Seq: 12, Value: bogus}})
	e.NoError(err, "snapshot-write of version 1")
	calls := 0
	v2 := ledgerProjection(2)
	v2.Step = func(t tally, ev ops.Event) (tally, error) { calls++; return tallyStep(t, ev) }
	st, err := Do(e, func(p *effect.P) (programs.State[tally], error) { return programs.Load(p, v2) })
	e.NoError(err, "load of version 2")
	e.Equal(programs.State[tally]{Value: ledgerTally(12), Seq: 12}, st, "state of version 2")
	e.Equal(12, calls, "events folded by version 2 (a full replay)")
	// Version 1 does apply it.
	st, err = Do(e, func(p *effect.P) (programs.State[tally], error) { return programs.Load(p, ledgerProjection(1)) })
	e.NoError(err, "load of version 1")
	e.Equal(1<<30, st.Value.Balance, "balance of version 1, from its snapshot")
}

func snapNoSnapshot(e *Env) {
	ledger(e, "acct")
	st, err := Do(e, func(p *effect.P) (programs.State[tally], error) { return programs.Load(p, ledgerProjection(1)) })
	e.NoError(err, "load")
	e.Equal(programs.State[tally]{Value: ledgerTally(12), Seq: 12}, st, "state")
	r, err := perform(e, ops.SnapshotRead{Name: "ledger-tally"})
	e.NoError(err, "snapshot-read")
	e.Equal(false, r.Found, "a snapshot after Load (Load writes none)")
}
