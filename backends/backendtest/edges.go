package backendtest

import (
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

func init() {
	registerRetention("delete",
		Case{Name: "retry-after-soft-delete", Doc: "re-sending an append a soft delete hid stores it anew after the old head, and a second re-send is its retry", Run: edgeRetrySoft},
	)
	registerRetention("retention",
		Case{Name: "retry-after-hard-delete", Doc: "re-sending an append stored before a hard delete is a StreamDeletedError, not its original answer", Run: edgeRetryHard},
		Case{Name: "retry-partly-hidden", Doc: "re-sending an append whose first events a max-count hides is a duplicate of its first visible event", Run: edgeRetryPartlyHidden},
		Case{Name: "retry-aged-out", Doc: "re-sending an append whose events max-age hides stores it anew", Run: edgeRetryAged},
		Case{Name: "multi-part-hard", Doc: "a commit of several appends and kv changes with one part for a hard-deleted stream writes nothing", Run: edgeMultiPartHard},
		Case{Name: "read-all-hidden-tail", Doc: "read-all whose last events are hidden gives a Next past Head", Run: edgeHiddenTail},
		Case{Name: "batch-over-max-count", Doc: "a batch longer than max-count hides its own first events at once, in read and read-all", Run: edgeBatchOverCount},
	)
	registerRetention("kv-watch",
		Case{Name: "watch-past-revision", Doc: "a watch from beyond the store's revision is empty, its Next not behind the revision, and a later change is seen", Run: edgeWatchPast},
		Case{Name: "watch-ends", Doc: "a watcher paging by Next reaches the end (Next past Revision) over revisions with no change under its prefix", Run: edgeWatchEnds},
		Case{Name: "watch-delete-recreate", Doc: "a watch sees a key's put, delete and re-put, each once, in order", Run: edgeWatchRecreate},
	)
	registerRetention("kv-history",
		Case{Name: "history-after-delete", Doc: "history of a deleted and re-created key keeps the delete between its values", Run: edgeHistoryRecreate},
	)
}

func edgeRetrySoft(e *Env) {
	batch := []ops.EventData{idEv(1, "t", "a"), idEv(2, "t", "b")}
	mustAppend(e, "s", ops.Any(), batch...)
	_, err := deleteStream(e, "s", ops.Any(), false)
	e.NoError(err, "soft delete")
	r, err := appendTo(e, "s", ops.Any(), batch...)
	e.NoError(err, "re-send after the soft delete")
	e.Equal(uint64(3), r.FirstSeq, "stored anew at the old head+1")
	r2, err := appendTo(e, "s", ops.Any(), batch...)
	e.NoError(err, "second re-send")
	e.Equal(r, r2, "the second re-send is a retry of the new events")
	e.NoError(e.Reopen(), "reopen")
	r2, err = appendTo(e, "s", ops.Any(), batch...)
	e.NoError(err, "re-send after a reopen")
	e.Equal(r, r2, "the re-send after a reopen is a retry of the new events")
	e.Equal([]uint64{3, 4}, seqsOf(readVisible(e, "s", 1, 0)), "events read")
}

func edgeRetryHard(e *Env) {
	batch := []ops.EventData{idEv(1, "t", "a"), idEv(2, "t", "b")}
	mustAppend(e, "s", ops.NoStream(), batch...)
	_, err := deleteStream(e, "s", ops.Any(), true)
	e.NoError(err, "hard delete")
	before := observe(e)
	_, err = appendTo(e, "s", ops.NoStream(), batch...)
	e.StreamDeleted(err, "s", "retry of the first append, expecting no stream")
	_, err = appendTo(e, "s", ops.Any(), batch...)
	e.StreamDeleted(err, "s", "retry of the first append, any")
	_, err = perform(e, ops.Commit{Appends: []ops.Append{{Stream: "s", Expect: ops.NoStream(), Events: batch}}})
	e.StreamDeleted(err, "s", "retry as a commit")
	unchanged(e, before, "after refused retries")
}

func edgeRetryPartlyHidden(e *Env) {
	batch := []ops.EventData{idEv(1, "t", "a"), idEv(2, "t", "b"), idEv(3, "t", "c")}
	mustAppend(e, "s", ops.Any(), batch...)
	mustMeta(e, "s", ops.StreamMeta{MaxCount: 2})
	before := observe(e)
	_, err := appendTo(e, "s", ops.Any(), batch...)
	e.DuplicateID(err, ops.DuplicateIDError{Stream: "s", ID: batch[1].ID, Seq: 2, Index: 1}, "re-send of a partly hidden append")
	unchanged(e, before, "after the refused re-send")
}

func edgeRetryAged(e *Env) {
	batch := []ops.EventData{idEv(1, "t", "a")}
	first := mustAppend(e, "s", ops.Any(), batch...)
	_, err := Do(e, func(p *effect.P) (struct{}, error) {
		for range 200 {
			if _, err := effect.Perform(p, ops.Now{}); err != nil {
				return struct{}{}, err
			}
		}
		return struct{}{}, nil
	})
	e.NoError(err, "let the clock run")
	mustAppend(e, "o", ops.Any(), ev("t", "o"))
	evs := mustRead(e, "s", 1, 0).Events
	o := mustRead(e, "o", 1, 0).Events
	if len(evs) != 1 || len(o) != 1 {
		e.Fatalf("precondition: one event each")
	}
	gap := o[0].At.Sub(evs[0].At)
	if gap <= 0 {
		e.Fatalf("precondition: the clock moved on")
	}
	mustMeta(e, "s", ops.StreamMeta{MaxAge: gap})
	e.Equal(0, len(readVisible(e, "s", 1, 0)), "the aged event is hidden")
	r, err := appendTo(e, "s", ops.Any(), batch...)
	e.NoError(err, "re-send of the aged-out append")
	e.Equal(first.Head+1, r.FirstSeq, "stored anew")
	e.Equal([]string{"a"}, dataOf(readVisible(e, "s", 1, 0)), "events read")
}

func edgeMultiPartHard(e *Env) {
	mustAppend(e, "a", ops.Any(), ev("t", "a"))
	mustAppend(e, "h", ops.Any(), idEv(9, "t", "h"))
	_, err := deleteStream(e, "h", ops.Any(), true)
	e.NoError(err, "hard delete")
	before := observe(e)
	for i, c := range []ops.Commit{
		{Appends: []ops.Append{{Stream: "a", Events: []ops.EventData{ev("t", "a2")}}, {Stream: "b", Events: []ops.EventData{ev("t", "b")}}, {Stream: "h", Events: []ops.EventData{ev("t", "x")}}}},
		{Appends: []ops.Append{{Stream: "h", Expect: ops.NoStream(), Events: []ops.EventData{idEv(9, "t", "h")}}, {Stream: "a", Events: []ops.EventData{ev("t", "a2")}}}, Kv: []ops.KvChange{{Key: "k", Value: []byte("v")}}},
		{Appends: []ops.Append{{Stream: "a", Expect: ops.Exact(1), Events: []ops.EventData{ev("t", "a2")}}, {Stream: "h", Expect: ops.Any(), Events: []ops.EventData{ev("t", "x")}}}, Kv: []ops.KvChange{{Key: "k", Delete: true}}},
	} {
		_, err := perform(e, c)
		e.StreamDeleted(err, "h", "commit %d", i)
	}
	unchanged(e, before, "after refused commits")
}

func edgeHiddenTail(e *Env) {
	mustAppend(e, "v", ops.Any(), ev("t", "v"))
	mustAppend(e, "h", ops.Any(), numbered(5, "t", "h")...)
	mustMeta(e, "h", ops.StreamMeta{TruncateBefore: 6})
	r, err := perform(e, ops.ReadAll{From: 1, Limit: 10})
	e.NoError(err, "read-all")
	e.Equal([]string{"v"}, dataOf(r.Events), "events")
	e.True(r.Next > r.Head, "Next %d past Head %d", r.Next, r.Head)
	r, err = perform(e, ops.ReadAll{From: 2, Limit: 2})
	e.NoError(err, "read-all from a hidden position")
	e.Equal(0, len(r.Events), "events from 2")
	e.True(r.Next > 2, "Next %d moves on", r.Next)
}

func edgeWatchPast(e *Env) {
	k := mustPut(e, "p/a", "1")
	r, err := perform(e, ops.KvWatch{Prefix: "p/", From: k.Revision + 5})
	e.NoError(err, "watch past the revision")
	e.Equal(0, len(r.Changes), "changes")
	e.Equal(k.Revision, r.Revision, "Revision")
	e.True(r.Next >= k.Revision+1, "Next %d", r.Next)
	k2 := mustPut(e, "p/b", "2")
	r, err = perform(e, ops.KvWatch{Prefix: "p/", From: k.Revision + 1})
	e.NoError(err, "watch from the next revision")
	e.Equal(1, len(r.Changes), "changes")
	if len(r.Changes) == 1 {
		e.Equal(k2.Revision, r.Changes[0].Revision, "revision of the change")
	}
}

func edgeWatchRecreate(e *Env) {
	a := mustPut(e, "p/a", "1")
	d, err := perform(e, ops.KvDelete{Key: "p/a"})
	e.NoError(err, "delete")
	b := mustPut(e, "p/a", "2")
	r, err := perform(e, ops.KvWatch{Prefix: "p/", From: a.Revision})
	e.NoError(err, "watch")
	want := []ops.KvVersion{{Key: "p/a", Revision: a.Revision, Value: []byte("1")}, {Key: "p/a", Revision: d.Revision, Deleted: true}, {Key: "p/a", Revision: b.Revision, Value: []byte("2")}}
	e.Equal(want, r.Changes, "changes")
	r, err = perform(e, ops.KvWatch{Prefix: "p/", From: d.Revision, Limit: 1})
	e.NoError(err, "watch from the delete")
	e.Equal(want[1:2], r.Changes, "page of one")
	e.Equal(d.Revision+1, r.Next, "Next")
}

func edgeHistoryRecreate(e *Env) {
	a := mustPut(e, "k", "1")
	d, err := perform(e, ops.KvDelete{Key: "k"})
	e.NoError(err, "delete")
	_, err = perform(e, ops.KvDelete{Key: "k"})
	e.NoError(err, "delete of the absent key")
	b := mustPut(e, "k", "2")
	h, err := perform(e, ops.KvHistory{Key: "k"})
	e.NoError(err, "history")
	e.Equal([]ops.KvVersion{{Key: "k", Revision: b.Revision, Value: []byte("2")}, {Key: "k", Revision: d.Revision, Deleted: true}, {Key: "k", Revision: a.Revision, Value: []byte("1")}}, h.Versions, "versions")
}

func edgeBatchOverCount(e *Env) {
	mustMeta(e, "s", ops.StreamMeta{MaxCount: 2})
	r := mustAppend(e, "s", ops.Any(), numbered(4, "t", "e")...)
	e.Equal(uint64(4), r.Head, "head")
	e.Equal([]string{"e3", "e4"}, dataOf(readVisible(e, "s", 1, 0)), "read")
	got, _ := readAllVisible(e, 1, 0)
	e.Equal([]string{"e3", "e4"}, dataOf(got), "read-all")
}

// watchToEnd pages a watch from from on as a watcher does, until Next
// passes Revision, and gives the changes seen.
func watchToEnd(e *Env, prefix string, from uint64, limit int) []ops.KvVersion {
	var out []ops.KvVersion
	for pages := 0; ; pages++ {
		r, err := perform(e, ops.KvWatch{Prefix: prefix, From: from, Limit: limit})
		if err != nil {
			e.Fatalf("precondition: watch %q from %d: %v", prefix, from, err)
		}
		out = append(out, r.Changes...)
		if r.Next > r.Revision {
			return out
		}
		if r.Next <= from && len(r.Changes) == 0 {
			e.Errorf("watch %q from %d: an empty page whose Next %d does not move on (revision %d)", prefix, from, r.Next, r.Revision)
			return out
		}
		if pages > 1000 {
			e.Errorf("watch %q: no end after %d pages", prefix, pages)
			return out
		}
		from = r.Next
	}
}

func edgeWatchEnds(e *Env) {
	a := mustPut(e, "p/a", "1")
	_, err := perform(e, ops.KvDelete{Key: "p/x"})
	e.NoError(err, "delete of an absent key")
	for i := 0; i < 5; i++ {
		mustPut(e, "q/b", "2")
	}
	got := watchToEnd(e, "p/", 1, 1)
	e.Equal([]ops.KvVersion{{Key: "p/a", Revision: a.Revision, Value: []byte("1")}}, got, "changes under p/")
	got = watchToEnd(e, "p/", 0, 0)
	e.Equal(1, len(got), "changes under p/ from 0")
}
