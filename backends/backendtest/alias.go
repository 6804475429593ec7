package backendtest

import (
	"rose-ash.com/persist/ops"
)

func init() {
	register("alias",
		Case{Name: "append-input", Doc: "changing the data slice given to append afterwards does not change the stored event", Run: aliasAppendInput},
		Case{Name: "read-output", Doc: "changing the data of events returned by read does not change the store", Run: aliasReadOutput},
		Case{Name: "read-all-output", Doc: "changing the data of events returned by read-all does not change the store", Run: aliasReadAllOutput},
		Case{Name: "read-page", Doc: "a read or read-all that lends a page answers the events of one that does not, and changing them does not change the store", Run: aliasReadPage},
		Case{Name: "kv-put-input", Doc: "changing the value slice given to kv-put afterwards does not change the stored value", Run: aliasKvPutInput},
		Case{Name: "kv-get-output", Doc: "changing a value returned by kv-get does not change the store", Run: aliasKvGetOutput},
		Case{Name: "kv-list-output", Doc: "changing a value returned by kv-list does not change the store", Run: aliasKvListOutput},
		Case{Name: "commit-input", Doc: "changing the slices given to a commit afterwards does not change what it stored", Run: aliasCommitInput},
		Case{Name: "snapshot-input", Doc: "changing the value slice given to snapshot-write afterwards does not change the snapshot", Run: aliasSnapshotInput},
		Case{Name: "snapshot-output", Doc: "changing a value returned by snapshot-read does not change the snapshot", Run: aliasSnapshotOutput},
	)
}

func scribble(b []byte) {
	for i := range b {
		b[i] = 'X'
	}
}

func aliasAppendInput(e *Env) {
	data := []byte("original")
	events := []ops.EventData{{Type: "t", Data: data}}
	mustAppend(e, "s", ops.Any(), events...)
	scribble(data)
	events[0].Type = "changed"
	page := mustRead(e, "s", 1, 0)
	e.Equal([]string{"original"}, dataOf(page.Events), "stored data")
	e.Equal([]string{"t"}, typesOf(page.Events), "stored type")
}

func aliasReadOutput(e *Env) {
	mustAppend(e, "s", ops.Any(), ev("t", "original"))
	scribble(mustRead(e, "s", 1, 0).Events[0].Data)
	e.Equal([]string{"original"}, dataOf(mustRead(e, "s", 1, 0).Events), "data read again")
}

func aliasReadAllOutput(e *Env) {
	mustAppend(e, "s", ops.Any(), ev("t", "original"))
	r, err := perform(e, ops.ReadAll{})
	if !e.NoError(err, "read-all") || !e.Equal(1, len(r.Events), "events") {
		return
	}
	scribble(r.Events[0].Data)
	e.Equal([]string{"original"}, dataOf(mustRead(e, "s", 1, 0).Events), "data read again")
	r, err = perform(e, ops.ReadAll{})
	e.NoError(err, "read-all again")
	e.Equal([]string{"original"}, dataOf(r.Events), "data read-all again")
}

func aliasReadPage(e *Env) {
	mustAppend(e, "s", ops.Any(), ev("t", "one"), ev("t", "two"))
	mustAppend(e, "other", ops.Any(), ev("t", "x"))
	mustAppend(e, "s", ops.Any(), ev("t", "three"))
	var pg ops.Page
	want := mustRead(e, "s", 2, 0)
	got, err := perform(e, ops.Read{Stream: "s", From: 2, Page: &pg})
	if !e.NoError(err, "read into a page") {
		return
	}
	e.Equal(want, got, "read into a page")
	for _, ev := range got.Events {
		scribble(ev.Data)
	}
	e.Equal(want, mustRead(e, "s", 2, 0), "read again after the lent data changed")
	wantAll, err := perform(e, ops.ReadAll{From: 2})
	if !e.NoError(err, "read-all") {
		return
	}
	gotAll, err := perform(e, ops.ReadAll{From: 2, Page: &pg})
	if !e.NoError(err, "read-all into a page") {
		return
	}
	e.Equal(wantAll, gotAll, "read-all into a page")
	for _, ev := range gotAll.Events {
		scribble(ev.Data)
	}
	again, err := perform(e, ops.ReadAll{From: 2})
	e.NoError(err, "read-all again")
	e.Equal(wantAll, again, "read-all again after the lent data changed")
}

func aliasKvPutInput(e *Env) {
	v := []byte("original")
	if _, err := perform(e, ops.KvPut{Key: "k", Value: v}); err != nil {
		e.Fatalf("precondition: put: %v", err)
	}
	scribble(v)
	e.Equal("original", string(mustGet(e, "k").Entry.Value), "stored value")
}

func aliasKvGetOutput(e *Env) {
	mustPut(e, "k", "original")
	scribble(mustGet(e, "k").Entry.Value)
	e.Equal("original", string(mustGet(e, "k").Entry.Value), "value got again")
}

func aliasKvListOutput(e *Env) {
	mustPut(e, "k", "original")
	r, err := perform(e, ops.KvList{})
	if !e.NoError(err, "kv-list") || !e.Equal(1, len(r.Entries), "entries") {
		return
	}
	scribble(r.Entries[0].Value)
	e.Equal("original", string(mustGet(e, "k").Entry.Value), "value got again")
}

func aliasCommitInput(e *Env) {
	data, value := []byte("event"), []byte("value")
	c := ops.Commit{
		Appends: []ops.Append{{Stream: "s", Events: []ops.EventData{{Type: "t", Data: data}}}},
		Kv:      []ops.KvChange{{Key: "k", Value: value}},
	}
	if _, err := perform(e, c); err != nil {
		e.Fatalf("precondition: commit: %v", err)
	}
	scribble(data)
	scribble(value)
	c.Appends[0].Stream = "changed"
	c.Kv[0].Key = "changed"
	e.Equal([]string{"event"}, dataOf(mustRead(e, "s", 1, 0).Events), "stored event")
	e.Equal("value", string(mustGet(e, "k").Entry.Value), "stored value")
}

func aliasSnapshotInput(e *Env) {
	v := []byte("original")
	if _, err := perform(e, ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "p", Version: 1, Seq: 3, Value: v}}); err != nil {
		e.Fatalf("precondition: snapshot-write: %v", err)
	}
	scribble(v)
	r, err := perform(e, ops.SnapshotRead{Name: "p"})
	e.NoError(err, "snapshot-read")
	e.Equal("original", string(r.Snapshot.Value), "stored snapshot")
}

func aliasSnapshotOutput(e *Env) {
	if _, err := perform(e, ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "p", Version: 1, Seq: 3, Value: []byte("original")}}); err != nil {
		e.Fatalf("precondition: snapshot-write: %v", err)
	}
	r, err := perform(e, ops.SnapshotRead{Name: "p"})
	e.NoError(err, "snapshot-read")
	scribble(r.Snapshot.Value)
	r, err = perform(e, ops.SnapshotRead{Name: "p"})
	e.NoError(err, "snapshot-read again")
	e.Equal("original", string(r.Snapshot.Value), "snapshot read again")
}
