package backendtest

import (
	"rose-ash.com/persist/ops"
)

func init() {
	register("idempotent",
		Case{Name: "exact", Doc: "re-appending a batch with IDs expecting Exact(n) answers the original result and writes nothing", Run: idemExact},
		Case{Name: "no-stream", Doc: "re-appending a batch with IDs expecting NoStream answers the original result and writes nothing", Run: idemNoStream},
		Case{Name: "any", Doc: "re-appending the stream's last batch with IDs expecting Any answers the original result and writes nothing", Run: idemAny},
		Case{Name: "exists", Doc: "re-appending the stream's last batch with IDs expecting Exists answers the original result and writes nothing", Run: idemExists},
		Case{Name: "exact-after-more", Doc: "an Exact or NoStream retry is recognised at its place even after later appends", Run: idemExactAfterMore},
		Case{Name: "any-moved", Doc: "with Any, a batch whose IDs are no longer the stream's tail is written again", Run: idemAnyMoved},
		Case{Name: "different-batch", Doc: "a different batch at the place of a stored one is a conflict, not a retry", Run: idemDifferentBatch},
		Case{Name: "reordered", Doc: "the same IDs in another order are not a retry", Run: idemReordered},
		Case{Name: "partial-ids", Doc: "a batch where some events lack an ID is never a retry", Run: idemPartialIDs},
		Case{Name: "other-stream", Doc: "IDs stored in another stream do not make an append to this one a retry", Run: idemOtherStream},
	)
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
	batch := []ops.EventData{idEv(1, "t", "1")}
	mustAppend(e, "s", ops.Any(), batch...)
	mustAppend(e, "s", ops.Any(), ev("t", "2"))
	r, err := appendTo(e, "s", ops.Any(), batch...)
	if e.NoError(err, "append with Any of a batch stored before the tail") {
		e.Equal([]uint64{3, 3}, []uint64{r.FirstSeq, r.Head}, "FirstSeq and Head")
	}
	page := mustRead(e, "s", 1, 0)
	e.Equal(3, len(page.Events), "events in the stream")
	if len(page.Events) == 3 {
		e.Equal(caseID(1), page.Events[2].ID, "ID of the event written again")
	}
}

func idemDifferentBatch(e *Env) {
	mustAppend(e, "s", ops.NoStream(), idEv(1, "t", "1"), idEv(2, "t", "2"))
	before := observe(e)
	_, err := appendTo(e, "s", ops.NoStream(), idEv(1, "t", "1"), idEv(9, "t", "2"))
	e.Conflict(err, ops.Conflict{Stream: "s", Expected: ops.NoStream(), Actual: 2}, "NoStream batch whose second ID differs")
	_, err = appendTo(e, "s", ops.Exact(1), idEv(8, "t", "x"))
	e.Conflict(err, ops.Conflict{Stream: "s", Expected: ops.Exact(1), Actual: 2}, "Exact(1) batch with a new ID")
	_, err = appendTo(e, "s", ops.NoStream(), idEv(1, "t", "1"), idEv(2, "t", "2"), idEv(3, "t", "3"))
	e.Conflict(err, ops.Conflict{Stream: "s", Expected: ops.NoStream(), Actual: 2}, "NoStream batch longer than the stored one")
	unchanged(e, before, "after the refused batches")
}

func idemReordered(e *Env) {
	mustAppend(e, "s", ops.NoStream(), idEv(1, "t", "1"), idEv(2, "t", "2"))
	before := observe(e)
	_, err := appendTo(e, "s", ops.NoStream(), idEv(2, "t", "2"), idEv(1, "t", "1"))
	e.Conflict(err, ops.Conflict{Stream: "s", Expected: ops.NoStream(), Actual: 2}, "the stored IDs in another order")
	unchanged(e, before, "after the refused batch")
}

func idemPartialIDs(e *Env) {
	first := mustAppend(e, "s", ops.NoStream(), idEv(1, "t", "1"), ev("t", "2"))
	page := mustRead(e, "s", 1, 0)
	if !e.Equal(2, len(page.Events), "events stored") {
		return
	}
	before := observe(e)
	_, err := appendTo(e, "s", ops.NoStream(), idEv(1, "t", "1"), ev("t", "2"))
	e.Conflict(err, ops.Conflict{Stream: "s", Expected: ops.NoStream(), Actual: first.Head}, "the same batch again, one event without ID")
	unchanged(e, before, "after the refused batch")
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
