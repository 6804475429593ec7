package backendtest

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/programs"
)

func init() {
	registerRetention("retention",
		Case{Name: "meta-read-write", Doc: "metadata written is read back with the stored head, and takes no seq and no position", Run: retMetaReadWrite},
		Case{Name: "meta-expect", Doc: "a metadata write whose expectation fails is a conflict naming the head, nothing changed", Run: retMetaExpect},
		Case{Name: "meta-absent-stream", Doc: "metadata set on a stream never written is kept, the stream stays unlisted, and its limits govern its first appends", Run: retMetaAbsent},
		Case{Name: "bad-limits", Doc: "negative or absurd limits and a truncate-before beyond head+1 are invalid errors naming the field, nothing changed", Run: retBadLimits},
		Case{Name: "max-count-read", Doc: "max-count n hides all but the last n events from read; Head stays the stored head", Run: retMaxCountRead},
		Case{Name: "max-count-read-all", Doc: "max-count hides the stream's older events from read-all too", Run: retMaxCountReadAll},
		Case{Name: "truncate-before-read", Doc: "truncate-before s hides seqs below s from read", Run: retTruncateRead},
		Case{Name: "truncate-before-read-all", Doc: "truncate-before hides the same events from read-all", Run: retTruncateReadAll},
		Case{Name: "max-age-read", Doc: "max-age hides events as old as it by the backend's clock from read and read-all, and lifting it shows them again", Run: retMaxAge},
		Case{Name: "positions-unchanged", Doc: "the events a limit leaves visible keep their seqs, positions, IDs and data", Run: retPositionsUnchanged},
		Case{Name: "resume-hidden-seq", Doc: "a read from a hidden seq goes on at the next visible one", Run: retResumeHiddenSeq},
		Case{Name: "resume-hidden-position", Doc: "a read-all from a hidden position goes on at the next visible one", Run: retResumeHiddenPos},
		Case{Name: "read-all-hidden-run", Doc: "paging read-all by Next over a long hidden run always moves on and reaches the visible events after it", Run: retHiddenRun},
		Case{Name: "follow-hidden", Doc: "a follower of the global log and of a stream is never handed an event max-count hides, and catches up past them", Run: retFollowHidden},
		Case{Name: "follow-truncated", Doc: "a follower is never handed an event truncate-before or a soft delete hides", Run: retFollowTruncated},
		Case{Name: "project-hidden", Doc: "a projection folds only the visible events", Run: retProjectHidden},
		Case{Name: "concurrent-truncate", Concurrent: true, Doc: "appends racing with metadata writes lose nothing: numbering stays gapless and what shows is what the last truncation leaves", Run: retConcurrentTruncate},
		Case{Name: "stat-counts", Doc: "stat counts visible against stored events and deleted streams", Run: retStat},
	)
}

// registerRetention registers cases that need Options.Retention.
func registerRetention(suite string, cs ...Case) {
	for i := range cs {
		cs[i].Retention = true
	}
	register(suite, cs...)
}

func setMeta(e *Env, stream string, expect ops.Expect, m ops.StreamMeta) (ops.StreamMetaResult, error) {
	return perform(e, ops.StreamMetaWrite{Stream: stream, Expect: expect, Meta: m})
}

func mustMeta(e *Env, stream string, m ops.StreamMeta) ops.StreamMetaResult {
	r, err := setMeta(e, stream, ops.Any(), m)
	if err != nil {
		e.Fatalf("precondition: stream-meta-write %q %+v: %v", stream, m, err)
	}
	return r
}

func mustMetaRead(e *Env, stream string) ops.StreamMetaResult {
	r, err := perform(e, ops.StreamMetaRead{Stream: stream})
	if err != nil {
		e.Fatalf("precondition: stream-meta-read %q: %v", stream, err)
	}
	return r
}

// readVisible reads a whole stream by following Next, as a reader must.
func readVisible(e *Env, stream string, from uint64, limit int) []ops.Event {
	var out []ops.Event
	for pages := 0; ; pages++ {
		r := mustRead(e, stream, from, limit)
		out = append(out, r.Events...)
		if r.Next <= from && len(r.Events) == 0 {
			e.Errorf("read %q from %d: an empty page whose Next %d does not move on", stream, from, r.Next)
			return out
		}
		from = max(r.Next, from+1)
		if len(r.Events) > 0 {
			from = max(from, r.Events[len(r.Events)-1].Seq+1)
		}
		if from > r.Head || pages > 10000 {
			return out
		}
	}
}

// readAllVisible reads the global log by following Next.
func readAllVisible(e *Env, from uint64, limit int) ([]ops.Event, int) {
	var out []ops.Event
	pages := 0
	for ; ; pages++ {
		r, err := perform(e, ops.ReadAll{From: from, Limit: limit})
		if err != nil {
			e.Fatalf("precondition: read-all from %d: %v", from, err)
		}
		out = append(out, r.Events...)
		if r.Next <= from {
			e.Errorf("read-all from %d: Next %d does not move on", from, r.Next)
			return out, pages + 1
		}
		from = r.Next
		if from > r.Head || pages > 10000 {
			return out, pages + 1
		}
	}
}

func retMetaReadWrite(e *Env) {
	mustAppend(e, "s", ops.Any(), numbered(3, "t", "e")...)
	before := observe(e)
	m := ops.StreamMeta{MaxCount: 10, MaxAge: time.Hour, TruncateBefore: 2}
	r, err := setMeta(e, "s", ops.Exact(3), m)
	e.NoError(err, "stream-meta-write")
	want := ops.StreamMetaResult{Stream: "s", Head: 3, StreamState: ops.StreamState{StreamMeta: m}}
	e.Equal(want, r, "stream-meta-write answer")
	e.Equal(want, mustMetaRead(e, "s"), "stream-meta-read")
	e.Equal(uint64(3), mustHead(e, "s"), "head after the metadata write")
	all, err := perform(e, ops.ReadAll{Limit: 1})
	e.NoError(err, "read-all")
	e.Equal(uint64(3), all.Head, "last position after the metadata write")
	e.Equal(before.log[1:], observe(e).log, "the log with seq 1 truncated")
	e.Equal(ops.StreamMetaResult{Stream: "never"}, mustMetaRead(e, "never"), "metadata of a stream never given any")
}

func retMetaExpect(e *Env) {
	mustAppend(e, "s", ops.Any(), numbered(2, "t", "e")...)
	mustMeta(e, "s", ops.StreamMeta{MaxCount: 5})
	before := observe(e)
	_, err := setMeta(e, "s", ops.Exact(1), ops.StreamMeta{MaxCount: 1})
	e.Conflict(err, ops.Conflict{Stream: "s", Expected: ops.Exact(1), Actual: 2}, "stream-meta-write expecting head 1")
	_, err = setMeta(e, "s", ops.NoStream(), ops.StreamMeta{MaxCount: 1})
	e.Conflict(err, ops.Conflict{Stream: "s", Expected: ops.NoStream(), Actual: 2}, "stream-meta-write expecting no stream")
	unchanged(e, before, "after refused metadata writes")
	e.Equal(ops.StreamMeta{MaxCount: 5}, mustMetaRead(e, "s").StreamMeta, "metadata after refused writes")
}

func retMetaAbsent(e *Env) {
	r, err := setMeta(e, "fresh", ops.NoStream(), ops.StreamMeta{MaxCount: 2})
	e.NoError(err, "stream-meta-write on a stream never written")
	e.Equal(uint64(0), r.Head, "head in the answer")
	empty(e, "after metadata on an unwritten stream")
	mustAppend(e, "fresh", ops.NoStream(), numbered(3, "t", "e")...)
	e.Equal([]uint64{2, 3}, seqsOf(readVisible(e, "fresh", 1, 0)), "seqs visible of the three appended under max-count 2")
}

func retBadLimits(e *Env) {
	mustAppend(e, "s", ops.Any(), numbered(4, "t", "e")...)
	mustMeta(e, "s", ops.StreamMeta{MaxCount: 3})
	before := observe(e)
	cases := []struct {
		field string
		meta  ops.StreamMeta
	}{
		{"meta.max-age", ops.StreamMeta{MaxAge: -time.Second}},
		{"meta.max-age", ops.StreamMeta{MaxAge: ops.MaxAgeLimit + time.Second}},
		{"meta.max-count", ops.StreamMeta{MaxCount: ops.MaxSeqLimit + 1}},
		{"meta.truncate-before", ops.StreamMeta{TruncateBefore: ops.MaxSeqLimit + 1}},
		{"meta.truncate-before", ops.StreamMeta{TruncateBefore: 6}}, // head 4: at most 5
	}
	for _, c := range cases {
		_, err := setMeta(e, "s", ops.Any(), c.meta)
		e.Invalid(err, c.field, "stream-meta-write %+v", c.meta)
	}
	_, err := setMeta(e, "s", ops.Any(), ops.StreamMeta{TruncateBefore: 5})
	e.NoError(err, "truncate-before head+1 is allowed")
	mustMeta(e, "s", ops.StreamMeta{MaxCount: 3})
	unchanged(e, before, "after refused limits")
	e.Equal(ops.StreamMeta{MaxCount: 3}, mustMetaRead(e, "s").StreamMeta, "metadata after refused limits")
}

func retMaxCountRead(e *Env) {
	mustAppend(e, "s", ops.Any(), numbered(5, "t", "e")...)
	mustMeta(e, "s", ops.StreamMeta{MaxCount: 2})
	r := mustRead(e, "s", 1, 0)
	e.Equal([]string{"e4", "e5"}, dataOf(r.Events), "events visible under max-count 2")
	e.Equal(uint64(5), r.Head, "Head is the stored head")
	e.Equal(uint64(6), r.Next, "Next after the last event")
	e.Equal(uint64(5), mustHead(e, "s"), "persist/head")
	mustAppend(e, "s", ops.Exact(5), ev("t", "e6"))
	e.Equal([]string{"e5", "e6"}, dataOf(readVisible(e, "s", 1, 0)), "the window moves with an append")
}

func retMaxCountReadAll(e *Env) {
	for i := 1; i <= 3; i++ {
		mustAppend(e, "a", ops.Any(), ev("t", "a"))
		mustAppend(e, "b", ops.Any(), ev("t", "b"))
	}
	mustMeta(e, "a", ops.StreamMeta{MaxCount: 1})
	got, _ := readAllVisible(e, 1, 0)
	e.Equal([]uint64{2, 4, 5, 6}, posOf(got), "positions read-all serves with a's first two hidden")
}

func retTruncateRead(e *Env) {
	mustAppend(e, "s", ops.Any(), numbered(5, "t", "e")...)
	mustMeta(e, "s", ops.StreamMeta{TruncateBefore: 3})
	e.Equal([]uint64{3, 4, 5}, seqsOf(mustRead(e, "s", 1, 0).Events), "seqs visible with truncate-before 3")
	e.Equal([]uint64{3, 4, 5}, seqsOf(readVisible(e, "s", 1, 1)), "seqs read a page of one at a time")
}

func retTruncateReadAll(e *Env) {
	mustAppend(e, "s", ops.Any(), numbered(3, "t", "s")...)
	mustAppend(e, "o", ops.Any(), numbered(2, "t", "o")...)
	mustAppend(e, "s", ops.Any(), numbered(2, "t", "s")...)
	mustMeta(e, "s", ops.StreamMeta{TruncateBefore: 4})
	got, _ := readAllVisible(e, 1, 0)
	e.Equal([]uint64{4, 5, 6, 7}, posOf(got), "positions read-all serves with seqs 1..3 of s hidden")
}

// retMaxAge appends an old event, lets the backend's clock move on by a
// couple of hundred of its own readings, appends a young one and sets a
// max-age between the two ages.
func retMaxAge(e *Env) {
	old := mustAppend(e, "s", ops.Any(), ev("t", "old"))
	mustAppend(e, "o", ops.Any(), ev("t", "other"))
	_, err := Do(e, func(p *effect.P) (struct{}, error) {
		for range 200 {
			if _, err := effect.Perform(p, ops.Now{}); err != nil {
				return struct{}{}, err
			}
		}
		return struct{}{}, nil
	})
	e.NoError(err, "let the clock run")
	mustAppend(e, "s", ops.Any(), ev("t", "young"))
	evs := mustRead(e, "s", 1, 0).Events
	if len(evs) != 2 {
		e.Fatalf("precondition: two events, got %d", len(evs))
	}
	gap := evs[1].At.Sub(evs[0].At)
	if gap <= 0 {
		e.Fatalf("precondition: the backend's clock moved on between the appends, got %s", gap)
	}
	mustMeta(e, "s", ops.StreamMeta{MaxAge: gap})
	e.Equal([]string{"young"}, dataOf(readVisible(e, "s", 1, 0)), "events younger than max-age")
	got, _ := readAllVisible(e, 1, 0)
	e.Equal([]string{"other", "young"}, dataOf(got), "read-all with s's old event hidden")
	e.True(len(got) == 0 || got[0].Pos != old.FirstPos, "the hidden position is not served")
	mustMeta(e, "s", ops.StreamMeta{})
	e.Equal([]string{"old", "young"}, dataOf(readVisible(e, "s", 1, 0)), "lifting max-age shows the old event again: hiding is logical")
}

func retPositionsUnchanged(e *Env) {
	mustAppend(e, "s", ops.Any(), idEv(1, "t", "a"), idEv(2, "t", "b"))
	mustAppend(e, "x", ops.Any(), ev("t", "x"))
	mustAppend(e, "s", ops.Any(), idEv(3, "t", "c"), idEv(4, "t", "d"))
	before := mustRead(e, "s", 1, 0).Events
	mustMeta(e, "s", ops.StreamMeta{MaxCount: 3})
	mustMeta(e, "s", ops.StreamMeta{MaxCount: 3, TruncateBefore: 3})
	after := readVisible(e, "s", 1, 0)
	e.True(sameEvents(before[2:], after), "visible events are the stored ones unchanged: got %s", show(after))
	r := mustAppend(e, "s", ops.Any(), ev("t", "e"))
	e.Equal(uint64(5), r.FirstSeq, "numbering goes on after hidden seqs")
	e.Equal(uint64(6), r.FirstPos, "positions are never reused")
}

func retResumeHiddenSeq(e *Env) {
	mustAppend(e, "s", ops.Any(), numbered(6, "t", "e")...)
	mustMeta(e, "s", ops.StreamMeta{TruncateBefore: 4})
	r := mustRead(e, "s", 2, 2)
	e.Equal([]uint64{4, 5}, seqsOf(r.Events), "a read from hidden seq 2 starts at 4")
	e.Equal(uint64(6), r.Next, "Next")
}

func retResumeHiddenPos(e *Env) {
	mustAppend(e, "h", ops.Any(), numbered(3, "t", "h")...)
	mustAppend(e, "v", ops.Any(), numbered(2, "t", "v")...)
	mustMeta(e, "h", ops.StreamMeta{TruncateBefore: 4})
	got, _ := readAllVisible(e, 2, 0)
	e.Equal([]uint64{4, 5}, posOf(got), "a read-all from hidden position 2 goes on at 4")
}

func retHiddenRun(e *Env) {
	for i := 0; i < 30; i++ {
		mustAppend(e, "h", ops.Any(), numbered(50, "t", "h")...)
	}
	v := mustAppend(e, "v", ops.Any(), ev("t", "v"))
	mustMeta(e, "h", ops.StreamMeta{TruncateBefore: 1501})
	got, pages := readAllVisible(e, 1, 3)
	e.Equal([]uint64{v.FirstPos}, posOf(got), "the one visible event after 1500 hidden ones")
	e.True(pages <= 1501, "pages read: %d", pages)
	got = readVisible(e, "h", 1, 3)
	e.Equal(0, len(got), "events of the wholly hidden stream")
}

func retFollowHidden(e *Env) {
	mustAppend(e, "h", ops.Any(), numbered(5, "t", "h")...)
	mustAppend(e, "v", ops.Any(), numbered(2, "t", "v")...)
	mustAppend(e, "h", ops.Any(), ev("t", "h6"))
	mustMeta(e, "h", ops.StreamMeta{MaxCount: 1})
	for _, stream := range []string{"", "h"} {
		var seen []string
		_, err := Do(e, func(p *effect.P) (struct{}, error) {
			return struct{}{}, programs.Follow(p, programs.FollowOptions{
				Name: "f" + stream, Stream: stream, Batch: 2, Idle: 20 * time.Millisecond,
				Handle: func(_ *effect.P, ev ops.Event) error { seen = append(seen, string(ev.Data)); return nil },
			})
		})
		e.NoError(err, "follow %q", stream)
		want := []string{"v1", "v2", "h6"}
		if stream == "h" {
			want = []string{"h6"}
		}
		e.Equal(want, seen, "events handed to the follower of %q", stream)
	}
}

// followAll runs a follower of stream ("" for the global log) until it is
// idle and gives the data of the events it was handed.
func followAll(e *Env, name, stream string) []string {
	var seen []string
	_, err := Do(e, func(p *effect.P) (struct{}, error) {
		return struct{}{}, programs.Follow(p, programs.FollowOptions{
			Name: name, Stream: stream, Batch: 2, Idle: 20 * time.Millisecond,
			Handle: func(_ *effect.P, ev ops.Event) error { seen = append(seen, string(ev.Data)); return nil },
		})
	})
	e.NoError(err, "follow %q", stream)
	return seen
}

func retFollowTruncated(e *Env) {
	mustAppend(e, "t", ops.Any(), numbered(4, "t", "t")...)
	mustAppend(e, "d", ops.Any(), numbered(2, "t", "d")...)
	mustAppend(e, "t", ops.Any(), ev("t", "t5"))
	mustMeta(e, "t", ops.StreamMeta{TruncateBefore: 4})
	_, err := deleteStream(e, "d", ops.Any(), false)
	e.NoError(err, "soft delete d")
	e.Equal([]string{"t4", "t5"}, followAll(e, "all", ""), "events handed to the follower of the global log")
	e.Equal([]string{"t4", "t5"}, followAll(e, "t", "t"), "events handed to the follower of t")
	e.Equal([]string(nil), followAll(e, "d", "d"), "events handed to the follower of the deleted d")
	mustAppend(e, "d", ops.Any(), ev("t", "d3"))
	e.Equal([]string{"d3"}, followAll(e, "d", "d"), "the follower of d resumed after its append")
}

func retProjectHidden(e *Env) {
	ledger(e, "acct")
	mustMeta(e, "acct", ops.StreamMeta{TruncateBefore: 4, MaxCount: 6})
	st, err := Do(e, projectProg("acct"))
	e.NoError(err, "project")
	want := programs.State[tally]{Seq: 12}
	for _, got := range mustRead(e, "acct", 1, 0).Events {
		want.Value = tallyFold(want.Value, got)
	}
	e.Equal(want, st, "projection of the visible events")
	e.Equal([]uint64{7, 8, 9, 10, 11, 12}, st.Value.Seqs, "seqs folded")
}

func retStat(e *Env) {
	mustAppend(e, "a", ops.Any(), numbered(4, "t", "a")...)
	mustAppend(e, "b", ops.Any(), numbered(2, "t", "b")...)
	mustAppend(e, "c", ops.Any(), ev("t", "c"))
	mustMeta(e, "a", ops.StreamMeta{MaxCount: 1})
	_, err := perform(e, ops.StreamDelete{Stream: "c"})
	e.NoError(err, "delete c")
	st, err := perform(e, ops.Stat{})
	if !e.NoError(err, "stat") {
		return
	}
	e.Equal(uint64(2), st.Streams, "streams present")
	e.Equal(uint64(1), st.StreamsDeleted, "streams deleted")
	e.Equal(uint64(3), st.EventsVisible, "events visible")
	e.True(st.EventsStored >= st.EventsVisible && st.EventsStored <= 7, "events stored %d between visible %d and appended 7", st.EventsStored, st.EventsVisible)
	if st.BytesKnown {
		e.True(st.BytesReclaimable <= st.BytesStored, "bytes reclaimable %d within bytes stored %d", st.BytesReclaimable, st.BytesStored)
	}
}

func retConcurrentTruncate(e *Env) {
	const writers, each = 4, 25
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := appendTo(e, "s", ops.Any(), ev("t", fmt.Sprintf("w%d-%d", w, i))); err != nil {
					e.Errorf("append: %v", err)
					return
				}
			}
		}()
	}
	var last ops.StreamMetaResult
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 20 {
			h, err := perform(e, ops.Head{Stream: "s"})
			if err != nil {
				e.Errorf("head: %v", err)
				return
			}
			r, err := setMeta(e, "s", ops.Exact(h), ops.StreamMeta{TruncateBefore: h + 1})
			if errors.Is(err, ops.ErrConflict) {
				continue // an append came between: try again at the new head
			}
			if err != nil {
				e.Errorf("stream-meta-write: %v", err)
				return
			}
			if r.Head < last.Head {
				e.Errorf("metadata answers went back from head %d to %d", last.Head, r.Head)
			}
			last = r
		}
	}()
	wg.Wait()
	e.Equal(uint64(writers*each), mustHead(e, "s"), "head after every append")
	m := mustMetaRead(e, "s")
	got := readVisible(e, "s", 1, 0)
	e.Equal(int(writers*each+1-int(max(m.TruncateBefore, 1))), len(got), "events visible under truncate-before %d", m.TruncateBefore)
	for i, ev := range got {
		if want := max(m.TruncateBefore, 1) + uint64(i); ev.Seq != want {
			e.Errorf("visible event %d has seq %d, want %d", i, ev.Seq, want)
			break
		}
	}
}
