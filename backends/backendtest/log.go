package backendtest

import (
	"fmt"
	"strings"

	"rose-ash.com/persist/ops"
)

func init() {
	register("log",
		Case{Name: "empty-head", Doc: "a stream never written has head 0 and reads as no events", Run: logEmptyHead},
		Case{Name: "first-seq", Doc: "the first append to a stream answers FirstSeq 1 and Head n", Run: logFirstSeq},
		Case{Name: "seq-contiguous", Doc: "seqs continue 1, 2, 3, … across appends with no gap", Run: logSeqContiguous},
		Case{Name: "result-positions", Doc: "an append answers the positions its events were stored at, one per event", Run: logResultPositions},
		Case{Name: "read", Doc: "read returns a stream's events in seq order, as appended", Run: logRead},
		Case{Name: "read-from", Doc: "read from seq k starts at k; 0 and 1 both mean the start; past the head reads nothing and still tells the head", Run: logReadFrom},
		Case{Name: "read-limit", Doc: "read returns at most Limit events and the stream's full head", Run: logReadLimit},
		Case{Name: "read-paging", Doc: "paging through a stream by From and Limit gives every event once", Run: logReadPaging},
		Case{Name: "read-default-page", Doc: "Limit 0 reads DefaultPage events, Limit MaxPage reads more", Run: logReadDefaultPage},
		Case{Name: "head", Doc: "persist/head answers the stream's last seq", Run: logHead},
		Case{Name: "stream-isolation", Doc: "streams, even with names that prefix each other, have their own seqs and events", Run: logStreamIsolation},
		Case{Name: "batch-contiguous", Doc: "a batch's events get consecutive seqs and positions", Run: logBatchContiguous},
		Case{Name: "batch-atomic-conflict", Doc: "a batch whose expectation fails writes none of its events", Run: logBatchAtomicConflict},
		Case{Name: "batch-atomic-invalid", Doc: "a batch with one invalid event writes none of its events", Run: logBatchAtomicInvalid},
		Case{Name: "expect-holds", Doc: "Any, NoStream on an empty stream, Exists on a non-empty one and Exact(head) all append", Run: logExpectHolds},
	)
	register("read-all",
		Case{Name: "empty", Doc: "read-all of an empty store answers no events and head 0", Run: readAllEmpty},
		Case{Name: "global-order", Doc: "read-all returns every stream's events in the order they were appended, at positions 1, 2, 3, …", Run: readAllGlobalOrder},
		Case{Name: "paging", Doc: "read-all pages by From and Limit and always tells the last position", Run: readAllPaging},
		Case{Name: "matches-read", Doc: "an event read through read-all equals the same event read from its stream", Run: readAllMatchesRead},
	)
	register("streams",
		Case{Name: "empty", Doc: "an empty store lists no streams", Run: streamsEmpty},
		Case{Name: "list", Doc: "streams are listed in byte order with their heads", Run: streamsList},
		Case{Name: "prefix", Doc: "a prefix lists only the streams whose names start with it", Run: streamsPrefix},
		Case{Name: "after", Doc: "After lists only names above it, and may lie outside the prefix", Run: streamsAfter},
		Case{Name: "paging", Doc: "Limit pages the listing and More tells whether more follow", Run: streamsPaging},
	)
}

func logEmptyHead(e *Env) {
	h, err := perform(e, ops.Head{Stream: "never"})
	e.NoError(err, "head")
	e.Equal(uint64(0), h, "head of a stream never written")
	page, err := perform(e, ops.Read{Stream: "never"})
	e.NoError(err, "read")
	e.Equal(0, len(page.Events), "events read")
	e.Equal(uint64(0), page.Head, "Head of the read")
	mustAppend(e, "other", ops.Any(), ev("t", "x"))
	h, err = perform(e, ops.Head{Stream: "never"})
	e.NoError(err, "head after another stream was written")
	e.Equal(uint64(0), h, "head of a stream never written, after another stream was written")
}

func logFirstSeq(e *Env) {
	r, err := appendTo(e, "s", ops.Any(), ev("a", "1"), ev("b", "2"), ev("c", "3"))
	e.NoError(err, "append")
	e.Equal("s", r.Stream, "result's Stream")
	e.Equal(uint64(1), r.FirstSeq, "FirstSeq")
	e.Equal(uint64(3), r.Head, "Head")
}

func logSeqContiguous(e *Env) {
	type want struct{ first, head uint64 }
	var got []want
	for _, n := range []int{1, 3, 2} {
		r := mustAppend(e, "s", ops.Any(), numbered(n, "t", "d")...)
		got = append(got, want{r.FirstSeq, r.Head})
	}
	e.Equal([]want{{1, 1}, {2, 4}, {5, 6}}, got, "FirstSeq and Head of three appends")
	e.Equal(span(1, 6), seqsOf(mustRead(e, "s", 1, 0).Events), "seqs read")
}

func logResultPositions(e *Env) {
	a := mustAppend(e, "a", ops.Any(), ev("t", "1"), ev("t", "2"))
	b := mustAppend(e, "b", ops.Any(), ev("t", "3"))
	c := mustAppend(e, "a", ops.Any(), ev("t", "4"), ev("t", "5"), ev("t", "6"))
	for _, x := range []struct {
		stream string
		r      ops.AppendResult
	}{{"a", a}, {"b", b}, {"a", c}} {
		page := mustRead(e, x.stream, x.r.FirstSeq, int(x.r.Head-x.r.FirstSeq+1))
		e.Equal(span(x.r.FirstPos, x.r.LastPos), posOf(page.Events), "positions of %s#%d..%d", x.stream, x.r.FirstSeq, x.r.Head)
	}
	e.True(a.LastPos < b.FirstPos && b.LastPos < c.FirstPos, "positions do not rise with the order of appends: %+v %+v %+v", a, b, c)
}

func logRead(e *Env) {
	mustAppend(e, "s", ops.NoStream(), ev("opened", "o"), ev("added", "a1"))
	mustAppend(e, "s", ops.Exact(2), ev("added", "a2"))
	page := mustRead(e, "s", 0, 0)
	e.Equal([]string{"opened", "added", "added"}, typesOf(page.Events), "types read")
	e.Equal([]string{"o", "a1", "a2"}, dataOf(page.Events), "data read")
	e.Equal(span(1, 3), seqsOf(page.Events), "seqs read")
	e.Equal(uint64(3), page.Head, "Head")
}

func logReadFrom(e *Env) {
	mustAppend(e, "s", ops.Any(), numbered(5, "t", "e")...)
	for _, from := range []uint64{0, 1} {
		page := mustRead(e, "s", from, 0)
		e.Equal(span(1, 5), seqsOf(page.Events), "seqs read from %d", from)
	}
	page := mustRead(e, "s", 3, 0)
	e.Equal(span(3, 5), seqsOf(page.Events), "seqs read from 3")
	e.Equal([]string{"e3", "e4", "e5"}, dataOf(page.Events), "data read from 3")
	page = mustRead(e, "s", 5, 0)
	e.Equal(span(5, 5), seqsOf(page.Events), "seqs read from the head")
	for _, from := range []uint64{6, 1 << 40} {
		page = mustRead(e, "s", from, 0)
		e.Equal(0, len(page.Events), "events read from %d, past the head", from)
		e.Equal(uint64(5), page.Head, "Head of a read from %d, past the head", from)
	}
}

func logReadLimit(e *Env) {
	mustAppend(e, "s", ops.Any(), numbered(5, "t", "e")...)
	page := mustRead(e, "s", 1, 2)
	e.Equal(span(1, 2), seqsOf(page.Events), "seqs read with Limit 2")
	e.Equal(uint64(5), page.Head, "Head of a limited read")
	page = mustRead(e, "s", 4, 3)
	e.Equal(span(4, 5), seqsOf(page.Events), "seqs read from 4 with Limit 3")
	page = mustRead(e, "s", 2, 1)
	e.Equal([]string{"e2"}, dataOf(page.Events), "data read from 2 with Limit 1")
}

func logReadPaging(e *Env) {
	mustAppend(e, "s", ops.Any(), numbered(10, "t", "e")...)
	var got []ops.Event
	pages := 0
	for from := uint64(1); pages < 20; pages++ {
		page := mustRead(e, "s", from, 3)
		if len(page.Events) == 0 {
			break
		}
		e.True(len(page.Events) <= 3, "page %d holds %d events, over its Limit 3", pages, len(page.Events))
		got = append(got, page.Events...)
		from = page.Events[len(page.Events)-1].Seq + 1
	}
	e.Equal(span(1, 10), seqsOf(got), "seqs read in pages of 3")
	e.Equal(4, pages, "pages holding events")
}

func logReadDefaultPage(e *Env) {
	n := ops.DefaultPage + 5
	mustAppend(e, "s", ops.Any(), numbered(n, "t", "")...)
	page := mustRead(e, "s", 1, 0)
	e.Equal(ops.DefaultPage, len(page.Events), "events read with Limit 0")
	e.Equal(uint64(n), page.Head, "Head")
	page = mustRead(e, "s", 1, ops.MaxPage)
	e.Equal(n, len(page.Events), "events read with Limit MaxPage")
}

func logHead(e *Env) {
	mustAppend(e, "s", ops.Any(), numbered(3, "t", "")...)
	e.Equal(uint64(3), mustHead(e, "s"), "head after 3 events")
	mustAppend(e, "s", ops.Any(), numbered(2, "t", "")...)
	e.Equal(uint64(5), mustHead(e, "s"), "head after 5 events")
}

func logStreamIsolation(e *Env) {
	names := []string{"a", "a/b", "ab", "a-", "A"}
	for round := range 3 {
		for i, name := range names {
			for range i + 1 {
				mustAppend(e, name, ops.Any(), ev("t", fmt.Sprintf("%s:%d", name, round)))
			}
		}
	}
	for i, name := range names {
		n := uint64(3 * (i + 1))
		e.Equal(n, mustHead(e, name), "head of %q", name)
		page := mustRead(e, name, 1, 0)
		e.Equal(span(1, n), seqsOf(page.Events), "seqs of %q", name)
		for _, got := range page.Events {
			e.Equal(name, got.Stream, "Stream of an event read from %q", name)
			e.True(strings.HasPrefix(string(got.Data), name+":"), "data %q of an event read from %q", got.Data, name)
		}
	}
}

func logBatchContiguous(e *Env) {
	mustAppend(e, "x", ops.Any(), ev("t", "x"))
	r := mustAppend(e, "s", ops.Any(), numbered(4, "t", "")...)
	e.Equal(uint64(4), r.Head-r.FirstSeq+1, "seqs of a batch of 4")
	e.Equal(uint64(4), r.LastPos-r.FirstPos+1, "positions of a batch of 4")
	page := mustRead(e, "s", 1, 0)
	e.Equal(span(r.FirstPos, r.LastPos), posOf(page.Events), "positions read")
}

func logBatchAtomicConflict(e *Env) {
	mustAppend(e, "s", ops.Any(), ev("t", "1"))
	before := observe(e)
	_, err := appendTo(e, "s", ops.Exact(5), numbered(3, "t", "x")...)
	e.Conflict(err, ops.Conflict{Stream: "s", Expected: ops.Exact(5), Actual: 1}, "append of 3 expecting head 5")
	unchanged(e, before, "after the refused batch")
}

func logBatchAtomicInvalid(e *Env) {
	mustAppend(e, "s", ops.Any(), ev("t", "1"))
	before := observe(e)
	_, err := appendTo(e, "s", ops.Any(), ev("t", "ok"), ev("t", "ok"), ops.EventData{Type: "", Data: []byte("bad")})
	e.Invalid(err, "events[2].type", "batch whose third event has no type")
	unchanged(e, before, "after the invalid batch")
}

func logExpectHolds(e *Env) {
	r, err := appendTo(e, "s", ops.NoStream(), ev("t", "1"))
	e.NoError(err, "NoStream on an empty stream")
	e.Equal(uint64(1), r.Head, "head after NoStream")
	r, err = appendTo(e, "s", ops.Exists(), ev("t", "2"))
	e.NoError(err, "Exists on a non-empty stream")
	e.Equal(uint64(2), r.Head, "head after Exists")
	r, err = appendTo(e, "s", ops.Exact(2), ev("t", "3"))
	e.NoError(err, "Exact(2) at head 2")
	e.Equal(uint64(3), r.Head, "head after Exact(2)")
	r, err = appendTo(e, "s", ops.Any(), ev("t", "4"))
	e.NoError(err, "Any on a non-empty stream")
	e.Equal(uint64(4), r.Head, "head after Any")
	r, err = appendTo(e, "t", ops.Any(), ev("t", "1"))
	e.NoError(err, "Any on an empty stream")
	e.Equal(uint64(1), r.Head, "head after Any on an empty stream")
	r, err = appendTo(e, "u", ops.Exact(0), ev("t", "1"))
	e.NoError(err, "Exact(0) on an empty stream")
	e.Equal(uint64(1), r.Head, "head after Exact(0)")
}

func readAllEmpty(e *Env) {
	r, err := perform(e, ops.ReadAll{})
	e.NoError(err, "read-all")
	e.Equal(0, len(r.Events), "events")
	e.Equal(uint64(0), r.Head, "Head")
}

func readAllGlobalOrder(e *Env) {
	mustAppend(e, "b", ops.Any(), ev("t", "b1"))
	mustAppend(e, "a", ops.Any(), ev("t", "a1"), ev("t", "a2"))
	mustAppend(e, "c", ops.Any(), ev("t", "c1"))
	mustAppend(e, "b", ops.Any(), ev("t", "b2"))
	r, err := perform(e, ops.ReadAll{})
	e.NoError(err, "read-all")
	e.Equal([]string{"b1", "a1", "a2", "c1", "b2"}, dataOf(r.Events), "data in global order")
	e.Equal(span(1, 5), posOf(r.Events), "positions")
	e.Equal([]uint64{1, 1, 2, 1, 2}, seqsOf(r.Events), "seqs within their streams")
	e.Equal(uint64(5), r.Head, "Head")
}

func readAllPaging(e *Env) {
	for i := range 7 {
		mustAppend(e, fmt.Sprintf("s%d", i%3), ops.Any(), ev("t", fmt.Sprint(i+1)))
	}
	var got []ops.Event
	for from, pages := uint64(0), 0; pages < 10; pages++ {
		r, err := perform(e, ops.ReadAll{From: from, Limit: 3})
		if !e.NoError(err, "read-all from %d", from) {
			break
		}
		e.Equal(uint64(7), r.Head, "Head of the page from %d", from)
		if len(r.Events) == 0 {
			break
		}
		e.True(len(r.Events) <= 3, "page from %d holds %d events, over its Limit 3", from, len(r.Events))
		got = append(got, r.Events...)
		from = r.Events[len(r.Events)-1].Pos + 1
	}
	e.Equal(span(1, 7), posOf(got), "positions read in pages of 3")
	e.Equal([]string{"1", "2", "3", "4", "5", "6", "7"}, dataOf(got), "data read in pages of 3")
	for _, from := range []uint64{8, 1 << 40} {
		r, err := perform(e, ops.ReadAll{From: from})
		e.NoError(err, "read-all from %d", from)
		e.Equal(0, len(r.Events), "events read from %d, past the end", from)
		e.Equal(uint64(7), r.Head, "Head of a read from %d, past the end", from)
	}
	r, err := perform(e, ops.ReadAll{From: 1})
	e.NoError(err, "read-all from 1")
	r0, err := perform(e, ops.ReadAll{From: 0})
	e.NoError(err, "read-all from 0")
	e.Equal(posOf(r.Events), posOf(r0.Events), "read-all from 0 and from 1")
}

func readAllMatchesRead(e *Env) {
	mustAppend(e, "a", ops.Any(), ev("x", "1"), idEv(7, "y", "2"))
	mustAppend(e, "b", ops.Any(), ev("z", "3"))
	all, err := perform(e, ops.ReadAll{})
	e.NoError(err, "read-all")
	for _, g := range all.Events {
		page := mustRead(e, g.Stream, g.Seq, 1)
		if e.Equal(1, len(page.Events), "events read at %s#%d", g.Stream, g.Seq) {
			s := page.Events[0]
			e.True(sameEvents([]ops.Event{g}, []ops.Event{s}), "%s#%d: read-all gives %+v, read gives %+v", g.Stream, g.Seq, g, s)
		}
	}
}

func streamsEmpty(e *Env) {
	r, err := perform(e, ops.Streams{})
	e.NoError(err, "streams")
	e.Equal(0, len(r.Streams), "streams listed")
	e.Equal(false, r.More, "More")
}

// fillStreams appends to each named stream as many events as its index + 1.
func fillStreams(e *Env, names ...string) {
	for i, name := range names {
		mustAppend(e, name, ops.Any(), numbered(i+1, "t", "")...)
	}
}

func streamNames(r ops.StreamsResult) []string {
	out := []string{}
	for _, s := range r.Streams {
		out = append(out, s.Name)
	}
	return out
}

func streamsList(e *Env) {
	fillStreams(e, "order-2", "Order-9", "order-10", "user-1", "é")
	r, err := perform(e, ops.Streams{})
	e.NoError(err, "streams")
	e.Equal([]ops.StreamInfo{{Name: "Order-9", Head: 2}, {Name: "order-10", Head: 3}, {Name: "order-2", Head: 1}, {Name: "user-1", Head: 4}, {Name: "é", Head: 5}}, r.Streams, "streams listed")
	e.Equal(false, r.More, "More")
}

func streamsPrefix(e *Env) {
	fillStreams(e, "order-2", "order-1", "orders", "user-1", "order")
	r, err := perform(e, ops.Streams{Prefix: "order-"})
	e.NoError(err, "streams with prefix order-")
	e.Equal([]string{"order-1", "order-2"}, streamNames(r), "streams with prefix order-")
	r, err = perform(e, ops.Streams{Prefix: "order"})
	e.NoError(err, "streams with prefix order")
	e.Equal([]string{"order", "order-1", "order-2", "orders"}, streamNames(r), "streams with prefix order")
	r, err = perform(e, ops.Streams{Prefix: "zzz"})
	e.NoError(err, "streams with prefix zzz")
	e.Equal([]string{}, streamNames(r), "streams with prefix zzz")
}

func streamsAfter(e *Env) {
	fillStreams(e, "a", "b", "c", "d")
	r, err := perform(e, ops.Streams{After: "b"})
	e.NoError(err, "streams after b")
	e.Equal([]string{"c", "d"}, streamNames(r), "streams after b")
	r, err = perform(e, ops.Streams{After: "bb"})
	e.NoError(err, "streams after bb")
	e.Equal([]string{"c", "d"}, streamNames(r), "streams after bb, a name not stored")
	r, err = perform(e, ops.Streams{After: "d"})
	e.NoError(err, "streams after d")
	e.Equal([]string{}, streamNames(r), "streams after the last one")
	fillStreams(e, "x-1", "x-2", "x-3")
	r, err = perform(e, ops.Streams{Prefix: "x-", After: "x-1"})
	e.NoError(err, "streams with prefix x- after x-1")
	e.Equal([]string{"x-2", "x-3"}, streamNames(r), "streams with prefix x- after x-1")
	r, err = perform(e, ops.Streams{Prefix: "x-", After: "a"})
	e.NoError(err, "streams with prefix x- after a")
	e.Equal([]string{"x-1", "x-2", "x-3"}, streamNames(r), "streams with prefix x- after a name below the prefix")
	r, err = perform(e, ops.Streams{Prefix: "b", After: "x"})
	e.NoError(err, "streams with prefix b after x")
	e.Equal([]string{}, streamNames(r), "streams with prefix b after a name above the prefix")
}

func streamsPaging(e *Env) {
	fillStreams(e, "s1", "s2", "s3", "s4", "s5")
	var got []string
	var mores []bool
	after := ""
	for pages := 0; pages < 10; pages++ {
		r, err := perform(e, ops.Streams{Prefix: "s", After: after, Limit: 2})
		if !e.NoError(err, "streams after %q", after) {
			break
		}
		got = append(got, streamNames(r)...)
		mores = append(mores, r.More)
		if !r.More || len(r.Streams) == 0 {
			break
		}
		after = r.Streams[len(r.Streams)-1].Name
	}
	e.Equal([]string{"s1", "s2", "s3", "s4", "s5"}, got, "streams listed in pages of 2")
	e.Equal([]bool{true, true, false}, mores, "More of each page")
	r, err := perform(e, ops.Streams{Prefix: "s", After: "s1", Limit: 4})
	e.NoError(err, "streams after s1, limit 4")
	e.Equal(false, r.More, "More when the page holds exactly the rest")
	e.Equal(4, len(r.Streams), "streams listed after s1 with Limit 4")
}
