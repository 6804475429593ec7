package backendtest

import (
	"rose-ash.com/persist/ops"
)

func init() {
	registerRetention("delete",
		Case{Name: "soft-reads-absent", Doc: "a soft-deleted stream reads empty, is left out of the listing and of read-all, and keeps its stored head", Run: delSoftAbsent},
		Case{Name: "soft-then-append", Doc: "an append after a soft delete holds NoStream, continues the numbering at the old head+1 and keeps the old events hidden", Run: delSoftThenAppend},
		Case{Name: "soft-expectations", Doc: "on a soft-deleted stream Exists fails and Exact speaks of the stored head", Run: delSoftExpect},
		Case{Name: "hard-refuses-writes", Doc: "append, commit part, metadata and delete of a hard-deleted stream are StreamDeletedErrors naming it, nothing changed", Run: delHardRefuses},
		Case{Name: "hard-hides", Doc: "a hard-deleted stream's events are hidden from read, read-all and the listing", Run: delHardHides},
		Case{Name: "expect", Doc: "a delete whose expectation fails is a conflict naming the head, nothing changed", Run: delExpect},
		Case{Name: "absent-stream", Doc: "deleting a stream never written is allowed; a hard delete of it reserves the name", Run: delAbsent},
		Case{Name: "meta-undeletes", Doc: "a metadata write on a soft-deleted stream ends the deletion and its limits alone decide what shows", Run: delMetaUndeletes},
		Case{Name: "list-deleted", Doc: "the streams listing with Deleted set names deleted streams and streams with metadata only, with their stored heads", Run: delListDeleted},
		Case{Name: "hidden-id-free", Doc: "the ID of a hidden event is free again: appending it stores a new event", Run: delHiddenIDFree},
	)
}

func deleteStream(e *Env, stream string, expect ops.Expect, hard bool) (ops.StreamMetaResult, error) {
	return perform(e, ops.StreamDelete{Stream: stream, Expect: expect, Hard: hard})
}

func listedNames(s state) []string {
	var out []string
	for _, si := range s.streams {
		out = append(out, si.Name)
	}
	return out
}

func delSoftAbsent(e *Env) {
	mustAppend(e, "s", ops.Any(), numbered(3, "t", "s")...)
	mustAppend(e, "o", ops.Any(), ev("t", "o"))
	r, err := deleteStream(e, "s", ops.Exact(3), false)
	e.NoError(err, "soft delete")
	want := ops.StreamMetaResult{Stream: "s", Head: 3, StreamState: ops.StreamState{Deleted: true, StreamMeta: ops.StreamMeta{TruncateBefore: 4}}}
	e.Equal(want, r, "delete answer")
	e.Equal(want, mustMetaRead(e, "s"), "stream-meta-read after the delete")
	rd := mustRead(e, "s", 1, 0)
	e.Equal(0, len(rd.Events), "events read")
	e.Equal(uint64(3), rd.Head, "Head of the read: the stored head")
	e.Equal(uint64(3), mustHead(e, "s"), "persist/head")
	s := observe(e)
	e.Equal([]string{"o"}, listedNames(s), "streams listed")
	e.Equal([]string{"o"}, dataOf(s.log), "read-all")
}

func delSoftThenAppend(e *Env) {
	mustAppend(e, "s", ops.Any(), numbered(3, "t", "old")...)
	_, err := deleteStream(e, "s", ops.Any(), false)
	e.NoError(err, "soft delete")
	r, err := appendTo(e, "s", ops.NoStream(), ev("t", "new"))
	e.NoError(err, "append expecting no stream")
	e.Equal(uint64(4), r.FirstSeq, "seq of the append: the old head+1")
	e.Equal([]string{"new"}, dataOf(readVisible(e, "s", 1, 0)), "events read")
	e.Equal([]string{"s"}, listedNames(observe(e)), "the stream is listed again")
	e.Equal(false, mustMetaRead(e, "s").Absent(4), "the stream reads as present")
}

func delSoftExpect(e *Env) {
	mustAppend(e, "s", ops.Any(), numbered(2, "t", "s")...)
	_, err := deleteStream(e, "s", ops.Any(), false)
	e.NoError(err, "soft delete")
	before := observe(e)
	_, err = appendTo(e, "s", ops.Exists(), ev("t", "x"))
	e.Conflict(err, ops.Conflict{Stream: "s", Expected: ops.Exists(), Actual: 2}, "append expecting the stream to exist")
	_, err = appendTo(e, "s", ops.Exact(1), ev("t", "x"))
	e.Conflict(err, ops.Conflict{Stream: "s", Expected: ops.Exact(1), Actual: 2}, "append expecting head 1")
	unchanged(e, before, "after refused appends")
	r, err := appendTo(e, "s", ops.Exact(2), ev("t", "x"))
	e.NoError(err, "append expecting the stored head")
	e.Equal(uint64(3), r.FirstSeq, "seq of the append")
}

func delHardRefuses(e *Env) {
	mustAppend(e, "s", ops.Any(), numbered(2, "t", "s")...)
	mustPut(e, "k", "v")
	_, err := deleteStream(e, "s", ops.Exact(2), true)
	e.NoError(err, "hard delete")
	before := observe(e)
	_, err = appendTo(e, "s", ops.Any(), ev("t", "x"))
	e.StreamDeleted(err, "s", "append")
	_, err = appendTo(e, "s", ops.NoStream(), ev("t", "x"))
	e.StreamDeleted(err, "s", "append expecting no stream")
	_, err = perform(e, ops.Commit{
		Appends: []ops.Append{{Stream: "other", Events: []ops.EventData{ev("t", "y")}}, {Stream: "s", Events: []ops.EventData{ev("t", "x")}}},
		Kv:      []ops.KvChange{{Key: "k", Value: []byte("w")}},
	})
	e.StreamDeleted(err, "s", "commit with a part for the deleted stream")
	_, err = setMeta(e, "s", ops.Any(), ops.StreamMeta{})
	e.StreamDeleted(err, "s", "stream-meta-write")
	_, err = deleteStream(e, "s", ops.Any(), false)
	e.StreamDeleted(err, "s", "soft delete")
	_, err = deleteStream(e, "s", ops.Any(), true)
	e.StreamDeleted(err, "s", "hard delete again")
	unchanged(e, before, "after refused writes")
	e.Equal(ops.StreamMetaResult{Stream: "s", Head: 2, StreamState: ops.StreamState{Deleted: true, Tombstone: true, StreamMeta: ops.StreamMeta{TruncateBefore: 3}}}, mustMetaRead(e, "s"), "state of the deleted stream")
}

func delHardHides(e *Env) {
	mustAppend(e, "s", ops.Any(), numbered(2, "t", "s")...)
	mustAppend(e, "o", ops.Any(), ev("t", "o"))
	mustMeta(e, "s", ops.StreamMeta{MaxCount: 5})
	_, err := deleteStream(e, "s", ops.Any(), true)
	e.NoError(err, "hard delete")
	e.Equal(0, len(mustRead(e, "s", 1, 0).Events), "events read")
	s := observe(e)
	e.Equal([]string{"o"}, listedNames(s), "streams listed")
	e.Equal([]string{"o"}, dataOf(s.log), "read-all")
	e.Equal(uint64(5), mustMetaRead(e, "s").MaxCount, "a delete keeps the stream's max-count")
}

func delExpect(e *Env) {
	mustAppend(e, "s", ops.Any(), numbered(2, "t", "s")...)
	before := observe(e)
	for _, hard := range []bool{false, true} {
		_, err := deleteStream(e, "s", ops.Exact(1), hard)
		e.Conflict(err, ops.Conflict{Stream: "s", Expected: ops.Exact(1), Actual: 2}, "delete (hard %v) expecting head 1", hard)
	}
	unchanged(e, before, "after refused deletes")
	e.Equal(ops.StreamMetaResult{Stream: "s", Head: 2}, mustMetaRead(e, "s"), "state after refused deletes")
}

func delAbsent(e *Env) {
	r, err := deleteStream(e, "ghost", ops.NoStream(), false)
	e.NoError(err, "soft delete of a stream never written")
	e.Equal(uint64(0), r.Head, "head")
	mustAppend(e, "ghost", ops.NoStream(), ev("t", "g"))
	e.Equal([]string{"g"}, dataOf(readVisible(e, "ghost", 1, 0)), "an append after it is read")
	_, err = deleteStream(e, "reserved", ops.Any(), true)
	e.NoError(err, "hard delete of a stream never written")
	_, err = appendTo(e, "reserved", ops.Any(), ev("t", "x"))
	e.StreamDeleted(err, "reserved", "append to a name reserved by a hard delete")
	e.Equal([]string{"ghost"}, listedNames(observe(e)), "streams listed")
}

func delMetaUndeletes(e *Env) {
	mustAppend(e, "s", ops.Any(), numbered(4, "t", "e")...)
	_, err := deleteStream(e, "s", ops.Any(), false)
	e.NoError(err, "soft delete")
	mustMeta(e, "s", ops.StreamMeta{MaxCount: 3})
	e.Equal([]string{"e2", "e3", "e4"}, dataOf(readVisible(e, "s", 1, 0)), "events shown after the metadata write")
	e.Equal([]string{"s"}, listedNames(observe(e)), "streams listed")
}

func delHiddenIDFree(e *Env) {
	mustAppend(e, "s", ops.Any(), idEv(1, "t", "a"))
	_, err := deleteStream(e, "s", ops.Any(), false)
	e.NoError(err, "soft delete")
	r, err := appendTo(e, "s", ops.Any(), idEv(1, "t", "again"))
	e.NoError(err, "append of the hidden event's ID")
	e.Equal(uint64(2), r.FirstSeq, "stored as a new event at seq")
	e.Equal([]string{"again"}, dataOf(readVisible(e, "s", 1, 0)), "events read")
}

func delListDeleted(e *Env) {
	mustAppend(e, "a", ops.Any(), ev("t", "a"))
	mustAppend(e, "b", ops.Any(), numbered(2, "t", "b")...)
	_, err := deleteStream(e, "b", ops.Any(), false)
	e.NoError(err, "soft delete b")
	_, err = deleteStream(e, "c", ops.Any(), true)
	e.NoError(err, "hard delete c, never written")
	mustMeta(e, "d", ops.StreamMeta{MaxCount: 1})
	r, err := perform(e, ops.Streams{Deleted: true})
	e.NoError(err, "streams with Deleted")
	e.Equal([]ops.StreamInfo{{Name: "a", Head: 1}, {Name: "b", Head: 2}, {Name: "c"}, {Name: "d"}}, r.Streams, "streams listed with Deleted")
	r, err = perform(e, ops.Streams{Deleted: true, After: "a", Limit: 2})
	e.NoError(err, "a page of them")
	e.Equal([]ops.StreamInfo{{Name: "b", Head: 2}, {Name: "c"}}, r.Streams, "the page after a")
	e.Equal(true, r.More, "More")
	r, err = perform(e, ops.Streams{})
	e.NoError(err, "streams")
	e.Equal([]ops.StreamInfo{{Name: "a", Head: 1}}, r.Streams, "streams listed without Deleted")
}
