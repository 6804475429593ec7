package backendtest

import (
	"errors"
	"fmt"
	"sync"

	"rose-ash.com/persist/ops"
)

func init() {
	register("idempotent",
		Case{Name: "exact", Doc: "re-appending a batch with IDs expecting Exact(n) answers the original result and writes nothing", Run: idemExact},
		Case{Name: "no-stream", Doc: "re-appending a batch with IDs expecting NoStream answers the original result and writes nothing", Run: idemNoStream},
		Case{Name: "any", Doc: "re-appending the stream's last batch with IDs expecting Any answers the original result and writes nothing", Run: idemAny},
		Case{Name: "exists", Doc: "re-appending the stream's last batch with IDs expecting Exists answers the original result and writes nothing", Run: idemExists},
		Case{Name: "exact-after-more", Doc: "an Exact or NoStream retry is recognised at its place even after later appends", Run: idemExactAfterMore},
		Case{Name: "any-moved", Doc: "with Any, a batch stored whole before the stream's tail answers its original result and is not written again", Run: idemAnyMoved},
		Case{Name: "different-batch", Doc: "a batch overlapping a stored one at its place is refused naming the reused ID; a new ID there is a conflict", Run: idemDifferentBatch},
		Case{Name: "reordered", Doc: "the stored IDs in another order are refused naming the first reused ID", Run: idemReordered},
		Case{Name: "partial-ids", Doc: "a stored ID beside an event without one is refused, never a retry", Run: idemPartialIDs},
		Case{Name: "other-stream", Doc: "IDs stored in another stream do not make an append to this one a retry", Run: idemOtherStream},
		Case{Name: "reuse-any", Doc: "with Any, a batch reusing a stored ID after other events is refused naming the ID and its seq, nothing written", Run: idemReuseAny},
		Case{Name: "reuse-exact", Doc: "a stored batch appended again with Exact at another place is refused naming the ID and its seq", Run: idemReuseExact},
		Case{Name: "partial-overlap", Doc: "a batch whose first IDs are a stored batch's last, followed by new ones, is refused, nothing written", Run: idemPartialOverlap},
		Case{Name: "commit-parts", Doc: "in a commit each append part follows the unique-ID rule: a retried part answers its original result, a reused ID anywhere refuses the whole commit", Run: idemCommitParts},
		Case{Name: "concurrent", Concurrent: true, Doc: "concurrent appends sharing an ID store it once: repeats of one batch all answer its result, batches reusing it beside new IDs are refused", Run: idemConcurrent},
		Case{Name: "after-reopen", Doc: "after the backend is reopened a whole-batch retry answers the original result and a reused ID is refused", Run: idemAfterReopen},
	)
}

// refused checks that err is a *ops.DuplicateIDError equal to want, and
// that nothing changed since before.
func refused(e *Env, err error, want ops.DuplicateIDError, before state, what string) {
	e.DuplicateID(err, want, "%s", what)
	unchanged(e, before, what)
}

// retried checks that appending again (stream, expect, events) answers want
// and writes nothing.
func retried(e *Env, want ops.AppendResult, stream string, expect ops.Expect, events []ops.EventData, what string) {
	before := observe(e)
	r, err := appendTo(e, stream, expect, events...)
	if e.NoError(err, "%s", what) {
		e.Equal(want, r, "%s: result", what)
	}
	unchanged(e, before, what)
}

func idemExact(e *Env) {
	mustAppend(e, "s", ops.Any(), ev("t", "0"))
	batch := []ops.EventData{idEv(1, "t", "1"), idEv(2, "t", "2")}
	first := mustAppend(e, "s", ops.Exact(1), batch...)
	retried(e, first, "s", ops.Exact(1), batch, "retry with Exact(1)")
	retried(e, first, "s", ops.Exact(1), batch, "second retry with Exact(1)")
}

func idemNoStream(e *Env) {
	batch := []ops.EventData{idEv(1, "t", "1"), idEv(2, "t", "2")}
	first := mustAppend(e, "s", ops.NoStream(), batch...)
	retried(e, first, "s", ops.NoStream(), batch, "retry with NoStream")
	retried(e, first, "s", ops.Exact(0), batch, "retry with Exact(0)")
}

func idemAny(e *Env) {
	mustAppend(e, "s", ops.Any(), ev("t", "0"))
	batch := []ops.EventData{idEv(1, "t", "1"), idEv(2, "t", "2")}
	first := mustAppend(e, "s", ops.Any(), batch...)
	retried(e, first, "s", ops.Any(), batch, "retry with Any")
}

func idemExists(e *Env) {
	mustAppend(e, "s", ops.Any(), ev("t", "0"))
	batch := []ops.EventData{idEv(1, "t", "1")}
	first := mustAppend(e, "s", ops.Exists(), batch...)
	retried(e, first, "s", ops.Exists(), batch, "retry with Exists")
}

func idemExactAfterMore(e *Env) {
	a := []ops.EventData{idEv(1, "t", "1"), idEv(2, "t", "2")}
	b := []ops.EventData{idEv(3, "t", "3")}
	first := mustAppend(e, "s", ops.NoStream(), a...)
	second := mustAppend(e, "s", ops.Exact(2), b...)
	mustAppend(e, "s", ops.Any(), ev("t", "4"), ev("t", "5"))
	mustAppend(e, "other", ops.Any(), ev("t", "x"))
	retried(e, first, "s", ops.NoStream(), a, "NoStream retry after later appends")
	retried(e, second, "s", ops.Exact(2), b, "Exact(2) retry after later appends")
}

func idemAnyMoved(e *Env) {
	batch := []ops.EventData{idEv(1, "t", "1"), idEv(2, "t", "2")}
	first := mustAppend(e, "s", ops.Any(), batch...)
	mustAppend(e, "s", ops.Any(), ev("t", "3"))
	retried(e, first, "s", ops.Any(), batch, "retry with Any after a later append")
	retried(e, first, "s", ops.Exists(), batch, "retry with Exists after a later append")
	one := mustAppend(e, "s", ops.Any(), idEv(4, "t", "4"))
	mustAppend(e, "s", ops.Any(), ev("t", "5"))
	retried(e, one, "s", ops.Any(), []ops.EventData{idEv(4, "t", "4")}, "one-event retry with Any after a later append")
	e.Equal(uint64(5), mustHead(e, "s"), "head: nothing stored twice")
}

func idemDifferentBatch(e *Env) {
	mustAppend(e, "s", ops.NoStream(), idEv(1, "t", "1"), idEv(2, "t", "2"))
	before := observe(e)
	_, err := appendTo(e, "s", ops.NoStream(), idEv(1, "t", "1"), idEv(9, "t", "2"))
	refused(e, err, ops.DuplicateIDError{Stream: "s", ID: caseID(1), Seq: 1}, before, "NoStream batch whose second ID differs")
	_, err = appendTo(e, "s", ops.Exact(1), idEv(8, "t", "x"))
	e.Conflict(err, ops.Conflict{Stream: "s", Expected: ops.Exact(1), Actual: 2}, "Exact(1) batch with a new ID")
	_, err = appendTo(e, "s", ops.NoStream(), idEv(1, "t", "1"), idEv(2, "t", "2"), idEv(3, "t", "3"))
	refused(e, err, ops.DuplicateIDError{Stream: "s", ID: caseID(1), Seq: 1}, before, "NoStream batch longer than the stored one")
	unchanged(e, before, "after the refused batches")
}

func idemReordered(e *Env) {
	mustAppend(e, "s", ops.NoStream(), idEv(1, "t", "1"), idEv(2, "t", "2"))
	before := observe(e)
	_, err := appendTo(e, "s", ops.NoStream(), idEv(2, "t", "2"), idEv(1, "t", "1"))
	refused(e, err, ops.DuplicateIDError{Stream: "s", ID: caseID(2), Seq: 2}, before, "the stored IDs in another order")
	_, err = appendTo(e, "s", ops.Any(), idEv(2, "t", "2"), idEv(1, "t", "1"))
	refused(e, err, ops.DuplicateIDError{Stream: "s", ID: caseID(2), Seq: 2}, before, "the stored IDs in another order, with Any")
}

func idemPartialIDs(e *Env) {
	mustAppend(e, "s", ops.NoStream(), idEv(1, "t", "1"), ev("t", "2"))
	page := mustRead(e, "s", 1, 0)
	if !e.Equal(2, len(page.Events), "events stored") {
		return
	}
	before := observe(e)
	_, err := appendTo(e, "s", ops.NoStream(), idEv(1, "t", "1"), ev("t", "2"))
	refused(e, err, ops.DuplicateIDError{Stream: "s", ID: caseID(1), Seq: 1}, before, "the same batch again, one event without ID")
	_, err = appendTo(e, "s", ops.Any(), ev("t", "x"), idEv(1, "t", "1"))
	refused(e, err, ops.DuplicateIDError{Stream: "s", ID: caseID(1), Seq: 1, Index: 1}, before, "an event without ID, then a stored one")
}

func idemReuseAny(e *Env) {
	mustAppend(e, "s", ops.Any(), idEv(1, "t", "1"))
	mustAppend(e, "s", ops.Any(), ev("t", "2"), ev("t", "3"))
	before := observe(e)
	_, err := appendTo(e, "s", ops.Any(), idEv(1, "t", "again"), idEv(5, "t", "new"))
	refused(e, err, ops.DuplicateIDError{Stream: "s", ID: caseID(1), Seq: 1}, before, "a stored ID first, then a new one")
	_, err = appendTo(e, "s", ops.Any(), idEv(6, "t", "new"), idEv(1, "t", "again"))
	refused(e, err, ops.DuplicateIDError{Stream: "s", ID: caseID(1), Seq: 1, Index: 1}, before, "a new ID first, then a stored one")
	// An ID the backend assigned counts as stored too.
	page := mustRead(e, "s", 2, 1)
	if e.Equal(1, len(page.Events), "events at seq 2") {
		_, err = appendTo(e, "s", ops.Any(), ops.EventData{ID: page.Events[0].ID, Type: "t"}, ev("t", "x"))
		refused(e, err, ops.DuplicateIDError{Stream: "s", ID: page.Events[0].ID, Seq: 2}, before, "the ID the backend assigned at seq 2")
	}
}

func idemReuseExact(e *Env) {
	batch := []ops.EventData{idEv(1, "t", "1")}
	mustAppend(e, "s", ops.NoStream(), batch...)
	mustAppend(e, "s", ops.Exact(1), ev("t", "2"))
	before := observe(e)
	_, err := appendTo(e, "s", ops.Exact(2), batch...)
	refused(e, err, ops.DuplicateIDError{Stream: "s", ID: caseID(1), Seq: 1}, before, "Exact(head) with a batch stored at seq 1")
	_, err = appendTo(e, "s", ops.Exact(1), batch...)
	refused(e, err, ops.DuplicateIDError{Stream: "s", ID: caseID(1), Seq: 1}, before, "Exact(1) with a batch stored at seq 1")
}

func idemPartialOverlap(e *Env) {
	mustAppend(e, "s", ops.NoStream(), idEv(1, "t", "1"), idEv(2, "t", "2"))
	before := observe(e)
	_, err := appendTo(e, "s", ops.Any(), idEv(2, "t", "2"), idEv(3, "t", "3"))
	refused(e, err, ops.DuplicateIDError{Stream: "s", ID: caseID(2), Seq: 2}, before, "Any: the stored tail, then a new ID")
	_, err = appendTo(e, "s", ops.Exact(1), idEv(2, "t", "2"), idEv(3, "t", "3"))
	refused(e, err, ops.DuplicateIDError{Stream: "s", ID: caseID(2), Seq: 2}, before, "Exact(1): the stored tail, then a new ID")
	_, err = appendTo(e, "s", ops.Exact(2), idEv(3, "t", "3"), idEv(2, "t", "2"))
	refused(e, err, ops.DuplicateIDError{Stream: "s", ID: caseID(2), Seq: 2, Index: 1}, before, "Exact(2): a new ID, then the stored tail")
}

func idemCommitParts(e *Env) {
	first := mustAppend(e, "a", ops.NoStream(), idEv(1, "t", "1"), idEv(2, "t", "2"))
	mustAppend(e, "b", ops.NoStream(), idEv(3, "t", "3"))
	before := observe(e)
	commit := func(c ops.Commit) (ops.CommitResult, error) { return perform(e, c) }

	// A retried part and a part reusing a stored ID of its stream: refused.
	_, err := commit(ops.Commit{Appends: []ops.Append{
		{Stream: "a", Expect: ops.NoStream(), Events: []ops.EventData{idEv(1, "t", "1"), idEv(2, "t", "2")}},
		{Stream: "b", Expect: ops.Any(), Events: []ops.EventData{idEv(4, "t", "4"), idEv(3, "t", "3")}},
	}})
	refused(e, err, ops.DuplicateIDError{Stream: "b", ID: caseID(3), Seq: 1, Index: 1}, before, "commit whose second part reuses an ID")
	// A new part with a reused ID beside kv changes: refused, kv untouched.
	_, err = commit(ops.Commit{
		Appends: []ops.Append{{Stream: "a", Expect: ops.Any(), Events: []ops.EventData{idEv(2, "t", "2"), idEv(5, "t", "5")}}},
		Kv:      []ops.KvChange{{Key: "k", Value: []byte("v")}},
	})
	refused(e, err, ops.DuplicateIDError{Stream: "a", ID: caseID(2), Seq: 2}, before, "commit reusing an ID beside a kv put")

	// A retried part beside a new one: the retry answers its original
	// result, the new part is written once.
	r, err := commit(ops.Commit{Appends: []ops.Append{
		{Stream: "a", Expect: ops.NoStream(), Events: []ops.EventData{idEv(1, "t", "1"), idEv(2, "t", "2")}},
		{Stream: "c", Expect: ops.NoStream(), Events: []ops.EventData{idEv(1, "t", "c1")}},
	}})
	if e.NoError(err, "commit of a retried part and a new one") && e.Equal(2, len(r.Appends), "parts answered") {
		e.Equal(first, r.Appends[0], "the retried part's result")
		e.Equal([]uint64{1, 1}, []uint64{r.Appends[1].FirstSeq, r.Appends[1].Head}, "the new part's seqs")
		// The whole commit again: both parts are retries.
		again, err := commit(ops.Commit{Appends: []ops.Append{
			{Stream: "a", Expect: ops.NoStream(), Events: []ops.EventData{idEv(1, "t", "1"), idEv(2, "t", "2")}},
			{Stream: "c", Expect: ops.NoStream(), Events: []ops.EventData{idEv(1, "t", "c1")}},
		}})
		if e.NoError(err, "the same commit again") {
			e.Equal(r, again, "the same commit again: its original result")
		}
	}
	e.Equal([]uint64{2, 1, 1}, []uint64{mustHead(e, "a"), mustHead(e, "b"), mustHead(e, "c")}, "heads of a, b and c")
}

func idemAfterReopen(e *Env) {
	batch := []ops.EventData{idEv(1, "t", "1"), idEv(2, "t", "2")}
	first := mustAppend(e, "s", ops.NoStream(), batch...)
	mustAppend(e, "s", ops.Any(), ev("t", "3"))
	if err := e.Reopen(); err != nil {
		e.Fatalf("reopen: %v", err)
	}
	retried(e, first, "s", ops.NoStream(), batch, "NoStream retry after reopen")
	retried(e, first, "s", ops.Any(), batch, "Any retry after reopen")
	before := observe(e)
	_, err := appendTo(e, "s", ops.Any(), idEv(2, "t", "2"), idEv(9, "t", "9"))
	refused(e, err, ops.DuplicateIDError{Stream: "s", ID: caseID(2), Seq: 2}, before, "a reused ID after reopen")
	// What is appended after the reopen is indexed as well, and survives
	// another reopen.
	second := mustAppend(e, "s", ops.Any(), idEv(3, "t", "4"))
	if err := e.Reopen(); err != nil {
		e.Fatalf("reopen: %v", err)
	}
	retried(e, second, "s", ops.Exact(3), []ops.EventData{idEv(3, "t", "4")}, "retry of an append made after the first reopen")
	before = observe(e)
	_, err = appendTo(e, "s", ops.Any(), idEv(3, "t", "4"), ev("t", "x"))
	refused(e, err, ops.DuplicateIDError{Stream: "s", ID: caseID(3), Seq: 4}, before, "reuse of an ID appended after the first reopen")
}

func idemOtherStream(e *Env) {
	batch := []ops.EventData{idEv(1, "t", "1")}
	mustAppend(e, "a", ops.NoStream(), batch...)
	r, err := appendTo(e, "b", ops.NoStream(), batch...)
	if e.NoError(err, "the batch appended to another stream") {
		e.Equal([]uint64{1, 1}, []uint64{r.FirstSeq, r.Head}, "FirstSeq and Head in b")
	}
	e.Equal(uint64(1), mustHead(e, "b"), "head of b")
	all, err := perform(e, ops.ReadAll{})
	e.NoError(err, "read-all")
	e.Equal(2, len(all.Events), "events in the global log")
}

func idemConcurrent(e *Env) {
	const writers = 8
	results := make([]ops.AppendResult, writers)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			// Every writer sends the same batch to "same", and to "mixed" a
			// batch of the shared ID and one of its own.
			results[w], errs[w] = appendTo(e, "same", ops.Any(), idEv(1, "t", "1"), idEv(2, "t", "2"))
			_, err := appendTo(e, "mixed", ops.Any(), idEv(3, "t", "shared"), idEv(uint64(100+w), "t", fmt.Sprint(w)))
			var dup *ops.DuplicateIDError
			if err != nil && !errors.As(err, &dup) {
				e.Errorf("writer %d: mixed batch: want success or a *ops.DuplicateIDError, got %v", w, err)
			}
		})
	}
	wg.Wait()
	for w := range writers {
		if e.NoError(errs[w], "writer %d: the shared batch", w) {
			e.Equal(ops.AppendResult{Stream: "same", FirstSeq: 1, Head: 2, FirstPos: results[w].FirstPos, LastPos: results[w].FirstPos + 1}, results[w], "writer %d: result", w)
			e.Equal(results[0], results[w], "writer %d: the same result as writer 0", w)
		}
	}
	e.Equal(uint64(2), mustHead(e, "same"), "head of the stream every writer sent one batch to")
	e.Equal(uint64(2), mustHead(e, "mixed"), "head of the stream where one mixed batch may land")
	page := mustRead(e, "mixed", 1, 0)
	if e.Equal(2, len(page.Events), "events of mixed") {
		e.Equal(caseID(3), page.Events[0].ID, "the shared ID, stored once")
	}
}
