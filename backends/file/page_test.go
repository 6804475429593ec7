package file

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

func performOn[R any](p *effect.P, op effect.Op[R]) (R, error) { return effect.Perform(p, op) }

// pageStore holds streams written every way a read meets them: one event
// per commit interleaved with others, batches, multi-part commits, kv-only
// records between, and empty data.
func pageStore(t *testing.T) *env {
	e := newEnv(t, Options{SegmentSize: minSegmentSize})
	for i := range 40 {
		must(t, e, ops.Append{Stream: "one", Events: evs(fmt.Sprintf("one-%d", i))})
		if i%7 == 0 {
			must(t, e, ops.KvPut{Key: fmt.Sprintf("k%d", i), Value: []byte("v")})
		}
		must(t, e, ops.Commit{Appends: []ops.Append{
			{Stream: "a", Events: evs(fmt.Sprintf("a-%d", i), "")},
			{Stream: "b", Events: evs(fmt.Sprintf("b-%d", i), fmt.Sprintf("b-%d'", i), fmt.Sprintf("b-%d''", i))},
		}})
		if i%10 == 0 {
			batch := make([]ops.EventData, 100)
			for j := range batch {
				batch[j] = ops.EventData{Type: fmt.Sprintf("type-%d", j%3), Data: []byte(fmt.Sprintf("batch-%d-%d", i, j))}
			}
			must(t, e, ops.Append{Stream: "batch", Events: batch})
		}
	}
	return e
}

// A read into a page answers what the copying read answers, for every
// stream, start and limit, and a second read into the same page reuses it.
func TestReadIntoPageMatchesCopyingRead(t *testing.T) {
	e := pageStore(t)
	var pg ops.Page
	for _, stream := range []string{"one", "a", "b", "batch", "absent"} {
		for _, from := range []uint64{0, 1, 2, 39, 80, 121, 400, 401} {
			for _, limit := range []int{0, 1, 7, 100} {
				want := must(t, e, ops.Read{Stream: stream, From: from, Limit: limit})
				got := must(t, e, ops.Read{Stream: stream, From: from, Limit: limit, Page: &pg})
				require.Equal(t, want, got, "%s from %d limit %d", stream, from, limit)
			}
		}
	}
	for _, from := range []uint64{0, 1, 2, 99, 150, 600} {
		for _, limit := range []int{0, 1, 13, 1000} {
			want := must(t, e, ops.ReadAll{From: from, Limit: limit})
			got := must(t, e, ops.ReadAll{From: from, Limit: limit, Page: &pg})
			require.Equal(t, want, got, "all from %d limit %d", from, limit)
		}
	}
	e.reopen(Options{SegmentSize: minSegmentSize})
	want := must(t, e, ops.ReadAll{Limit: ops.MaxPage})
	got := must(t, e, ops.ReadAll{Limit: ops.MaxPage, Page: &pg})
	require.Equal(t, want, got, "after a reopen")
}

// The events of a read into a page live in the page: the next read into
// it overwrites them, while the copying read's events are the caller's.
func TestReadIntoPageLendsItsMemory(t *testing.T) {
	e := pageStore(t)
	var pg ops.Page
	first := must(t, e, ops.Read{Stream: "one", From: 1, Limit: 1, Page: &pg}).Events[0]
	kept := ops.CloneEvent(first)
	copied := must(t, e, ops.Read{Stream: "one", From: 1, Limit: 1}).Events[0]
	must(t, e, ops.Read{Stream: "one", From: 2, Limit: 1, Page: &pg})
	assert.Equal(t, "one-0", string(kept.Data))
	assert.Equal(t, "one-0", string(copied.Data))
	assert.Equal(t, "one-1", string(pg.Events()[0].Data))
}

// Once a page has grown to a read's size, reading into it allocates
// almost nothing: well under one allocation per event.
func TestReadIntoPageAllocations(t *testing.T) {
	e := pageStore(t)
	p := e.sp()
	var pg ops.Page
	for _, c := range []struct {
		name string
		op   func() int
	}{
		{"batch stream", func() int {
			r, err := performOn(p, ops.Read{Stream: "batch", Limit: 400, Page: &pg})
			require.NoError(t, err)
			return len(r.Events)
		}},
		{"global log", func() int {
			r, err := performOn(p, ops.ReadAll{Limit: 1000, Page: &pg})
			require.NoError(t, err)
			return len(r.Events)
		}},
	} {
		n := c.op()
		allocs := testing.AllocsPerRun(20, func() { c.op() })
		t.Logf("%s: %.0f allocations for %d events", c.name, allocs, n)
		assert.Less(t, allocs/float64(n), 1.0, c.name)
	}
	n := len(must(t, e, ops.Read{Stream: "batch", Limit: 400, Page: &pg}).Events)
	assert.LessOrEqual(t, testing.AllocsPerRun(20, func() {
		_, _ = performOn(p, ops.Read{Stream: "batch", Limit: 400, Page: &pg})
	}), float64(n)/20, "batched events cost well under one allocation each")
}

// A damaged record read into a page is an error naming its file and
// offset, as with the copying read, and leaves the page empty.
func TestReadIntoPageReportsDamage(t *testing.T) {
	m := &misdirect{from: -1, to: -1}
	e := newEnv(t, Options{}, m)
	must(t, e, ops.Append{Stream: "a", Events: evs("1")})
	must(t, e, ops.Append{Stream: "b", Events: evs("2")})
	must(t, e, ops.Append{Stream: "a", Events: evs("3")})
	recs := records(t, e)
	require.Len(t, recs, 4)
	m.from, m.to = recs[1].Offset, recs[3].Offset
	var pg ops.Page
	_, err := perform(e, ops.Read{Stream: "a", Page: &pg})
	var ce *CorruptError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, recs[1].Offset, ce.Offset)
	assert.Zero(t, pg.Len())
	_, err = perform(e, ops.ReadAll{Page: &pg})
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, recs[1].Offset, ce.Offset)
}

// reaches joins the refs that lie within spanGap of each other in one
// segment, up to spanMax from the first.
func TestReaches(t *testing.T) {
	seg1, seg2 := &segment{id: 1}, &segment{id: 2}
	ref := func(seg *segment, off int) chunkRef {
		return chunkRef{seg: seg, l: loc{seg: uint32(seg.id), off: uint32(off)}}
	}
	refs := []chunkRef{
		ref(seg1, 0), ref(seg1, 100), ref(seg1, 200), // a run
		ref(seg1, 200+spanGap+1), // past the gap
		ref(seg2, 0),             // another segment
	}
	assert.Equal(t, []int{200, 100, 0, 0, 0}, reaches(refs, nil))

	// A run of close records is cut where it reaches spanMax from the
	// read's first record.
	many := make([]chunkRef, 100_000)
	for i := range many {
		many[i] = ref(seg1, i*288)
	}
	r := reaches(many, nil)
	assert.Equal(t, (spanMax-1)/288*288, r[0])
	assert.Equal(t, (spanMax-1)/288*288, r[1000])
	assert.Zero(t, r[len(r)-1])
}
