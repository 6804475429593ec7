package backendtest

import (
	"fmt"

	"rose-ash.com/persist/ops"
)

func init() {
	register("commit",
		Case{Name: "multi-part", Doc: "a commit appends to several streams and puts and deletes keys, answering one result per part", Run: commitMultiPart},
		Case{Name: "atomic", Doc: "a failed expectation in any one part of a commit leaves every part unwritten", Run: commitAtomic},
		Case{Name: "first-conflict", Doc: "when several parts fail, the answer is the first failed one, appends before kv changes", Run: commitFirstConflict},
		Case{Name: "kv-only", Doc: "a commit of kv changes only shares one revision among them and appends nothing", Run: commitKvOnly},
		Case{Name: "appends-only", Doc: "a commit of appends only answers revision 0 and takes no kv revision", Run: commitAppendsOnly},
		Case{Name: "retried-part", Doc: "a commit whose append is a retry answers that part from the store and writes the other parts once", Run: commitRetriedPart},
	)
}

func commitMultiPart(e *Env) {
	mustAppend(e, "acct-a", ops.Any(), ev("opened", "a"))
	mustPut(e, "stale", "x")
	c := ops.Commit{
		Appends: []ops.Append{
			{Stream: "acct-a", Expect: ops.Exact(1), Events: []ops.EventData{ev("debited", "10")}},
			{Stream: "acct-b", Expect: ops.NoStream(), Events: []ops.EventData{ev("opened", "b"), ev("credited", "10")}},
		},
		Kv: []ops.KvChange{
			{Key: "balance/a", Value: []byte("-10"), Expect: ops.NoStream()},
			{Key: "stale", Delete: true, Expect: ops.Exists()},
		},
	}
	r, err := perform(e, c)
	if !e.NoError(err, "commit") {
		return
	}
	if e.Equal(2, len(r.Appends), "append results") {
		e.Equal(ops.AppendResult{Stream: "acct-a", FirstSeq: 2, Head: 2, FirstPos: r.Appends[0].FirstPos, LastPos: r.Appends[0].FirstPos}, r.Appends[0], "first append's result")
		e.Equal("acct-b", r.Appends[1].Stream, "second append's Stream")
		e.Equal([]uint64{1, 2}, []uint64{r.Appends[1].FirstSeq, r.Appends[1].Head}, "second append's FirstSeq and Head")
	}
	if e.Equal(2, len(r.Kv), "kv results") {
		e.Equal(ops.KvResult{Key: "balance/a", Revision: r.Revision, Existed: false}, r.Kv[0], "put's result")
		e.Equal(ops.KvResult{Key: "stale", Revision: r.Revision, Existed: true}, r.Kv[1], "delete's result")
	}
	e.Equal(uint64(2), r.Revision, "commit's revision")
	e.Equal([]string{"a", "10"}, dataOf(mustRead(e, "acct-a", 1, 0).Events), "acct-a")
	e.Equal([]string{"b", "10"}, dataOf(mustRead(e, "acct-b", 1, 0).Events), "acct-b")
	e.Equal("-10", string(mustGet(e, "balance/a").Entry.Value), "balance/a")
	e.Equal(false, mustGet(e, "stale").Found, "stale after delete")
}

// commitAtomic builds a commit of five parts whose expectations all hold,
// then for each part makes that part's expectation fail and checks that
// the commit is refused with that part's conflict and nothing is written.
func commitAtomic(e *Env) {
	mustAppend(e, "s1", ops.Any(), ev("t", "s1"))
	mustAppend(e, "s3", ops.Any(), ev("t", "s3"), ev("t", "s3"))
	k1 := mustPut(e, "k1", "old")
	k3 := mustPut(e, "k3", "old")
	good := func() ops.Commit {
		return ops.Commit{
			Appends: []ops.Append{
				{Stream: "s1", Expect: ops.Exact(1), Events: []ops.EventData{ev("t", "new")}},
				{Stream: "s2", Expect: ops.NoStream(), Events: []ops.EventData{ev("t", "new"), ev("t", "new")}},
				{Stream: "s3", Expect: ops.Exists(), Events: []ops.EventData{ev("t", "new")}},
			},
			Kv: []ops.KvChange{
				{Key: "k1", Value: []byte("new"), Expect: ops.Exact(k1.Revision)},
				{Key: "k2", Value: []byte("new"), Expect: ops.NoStream()},
				{Key: "k3", Delete: true, Expect: ops.Exact(k3.Revision)},
			},
		}
	}
	type breakage struct {
		name string
		mod  func(*ops.Commit)
		want ops.Conflict
	}
	breaks := []breakage{
		{"appends[0] Exact(9)", func(c *ops.Commit) { c.Appends[0].Expect = ops.Exact(9) }, ops.Conflict{Stream: "s1", Expected: ops.Exact(9), Actual: 1}},
		{"appends[0] NoStream", func(c *ops.Commit) { c.Appends[0].Expect = ops.NoStream() }, ops.Conflict{Stream: "s1", Expected: ops.NoStream(), Actual: 1}},
		{"appends[1] Exists", func(c *ops.Commit) { c.Appends[1].Expect = ops.Exists() }, ops.Conflict{Stream: "s2", Expected: ops.Exists(), Actual: 0}},
		{"appends[2] Exact(1)", func(c *ops.Commit) { c.Appends[2].Expect = ops.Exact(1) }, ops.Conflict{Stream: "s3", Expected: ops.Exact(1), Actual: 2}},
		{"kv[0] stale", func(c *ops.Commit) { c.Kv[0].Expect = ops.Exact(k1.Revision + 5) }, ops.Conflict{Key: "k1", Expected: ops.Exact(k1.Revision + 5), Actual: k1.Revision}},
		{"kv[1] Exists", func(c *ops.Commit) { c.Kv[1].Expect = ops.Exists() }, ops.Conflict{Key: "k2", Expected: ops.Exists(), Actual: 0}},
		{"kv[2] NoStream", func(c *ops.Commit) { c.Kv[2].Expect = ops.NoStream() }, ops.Conflict{Key: "k3", Expected: ops.NoStream(), Actual: k3.Revision}},
	}
	before := observe(e)
	for _, b := range breaks {
		c := good()
		b.mod(&c)
		_, err := perform(e, c)
		e.Conflict(err, b.want, "commit with %s", b.name)
		unchanged(e, before, fmt.Sprintf("after the commit with %s", b.name))
		for _, s := range []string{"s1", "s2", "s3"} {
			e.Equal(before.headOf(s), mustHead(e, s), "head of %s after the commit with %s", s, b.name)
		}
		for _, k := range []string{"k1", "k2", "k3"} {
			e.Equal(before.entryOf(k), mustGet(e, k).Entry, "%s after the commit with %s", k, b.name)
		}
	}
	r, err := perform(e, good())
	if e.NoError(err, "the commit with every expectation holding") {
		e.Equal(k3.Revision+1, r.Revision, "its revision, after the refused commits")
	}
	e.Equal(uint64(2), mustHead(e, "s1"), "head of s1")
	e.Equal(uint64(2), mustHead(e, "s2"), "head of s2")
	e.Equal(uint64(3), mustHead(e, "s3"), "head of s3")
	e.Equal("new", string(mustGet(e, "k1").Entry.Value), "k1")
	e.Equal("new", string(mustGet(e, "k2").Entry.Value), "k2")
	e.Equal(false, mustGet(e, "k3").Found, "k3 after delete")
}

func (s state) headOf(stream string) uint64 {
	for _, si := range s.streams {
		if si.Name == stream {
			return si.Head
		}
	}
	return 0
}

func (s state) entryOf(key string) ops.KvEntry {
	for _, en := range s.kv {
		if en.Key == key {
			return en
		}
	}
	return ops.KvEntry{Key: key}
}

func commitFirstConflict(e *Env) {
	mustAppend(e, "a", ops.Any(), ev("t", "1"))
	mustAppend(e, "b", ops.Any(), ev("t", "1"))
	mustPut(e, "k", "v")
	before := observe(e)
	_, err := perform(e, ops.Commit{
		Appends: []ops.Append{
			{Stream: "a", Expect: ops.Exact(1), Events: []ops.EventData{ev("t", "2")}},
			{Stream: "b", Expect: ops.NoStream(), Events: []ops.EventData{ev("t", "2")}},
			{Stream: "c", Expect: ops.Exists(), Events: []ops.EventData{ev("t", "2")}},
		},
		Kv: []ops.KvChange{{Key: "k", Value: []byte("w"), Expect: ops.NoStream()}},
	})
	e.Conflict(err, ops.Conflict{Stream: "b", Expected: ops.NoStream(), Actual: 1}, "commit with failing appends[1], appends[2] and kv[0]")
	_, err = perform(e, ops.Commit{
		Appends: []ops.Append{{Stream: "a", Expect: ops.Exact(1), Events: []ops.EventData{ev("t", "2")}}},
		Kv: []ops.KvChange{
			{Key: "j", Value: []byte("w"), Expect: ops.Exists()},
			{Key: "k", Value: []byte("w"), Expect: ops.NoStream()},
		},
	})
	e.Conflict(err, ops.Conflict{Key: "j", Expected: ops.Exists(), Actual: 0}, "commit with failing kv[0] and kv[1]")
	unchanged(e, before, "after the refused commits")
}

func commitKvOnly(e *Env) {
	mustPut(e, "x", "1")
	r, err := perform(e, ops.Commit{Kv: []ops.KvChange{
		{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("2")}, {Key: "x", Delete: true},
	}})
	if !e.NoError(err, "commit") {
		return
	}
	e.Equal(0, len(r.Appends), "append results")
	e.Equal(uint64(2), r.Revision, "commit's revision")
	for i, kr := range r.Kv {
		e.Equal(r.Revision, kr.Revision, "revision of part %d", i)
	}
	e.Equal(uint64(2), mustGet(e, "a").Entry.Revision, "revision of a")
	e.Equal(uint64(2), mustGet(e, "b").Entry.Revision, "revision of b")
	all, err := perform(e, ops.ReadAll{})
	e.NoError(err, "read-all")
	e.Equal(0, len(all.Events), "events in the global log")
}

func commitAppendsOnly(e *Env) {
	mustPut(e, "k", "1")
	r, err := perform(e, ops.Commit{Appends: []ops.Append{
		{Stream: "a", Events: []ops.EventData{ev("t", "1")}},
		{Stream: "b", Events: []ops.EventData{ev("t", "1")}},
	}})
	e.NoError(err, "commit")
	e.Equal(uint64(0), r.Revision, "commit's revision")
	e.Equal(0, len(r.Kv), "kv results")
	e.Equal(uint64(2), mustPut(e, "k", "2").Revision, "revision of the next put")
}

func commitRetriedPart(e *Env) {
	first := mustAppend(e, "a", ops.NoStream(), idEv(1, "t", "a1"), idEv(2, "t", "a2"))
	r, err := perform(e, ops.Commit{Appends: []ops.Append{
		{Stream: "a", Expect: ops.NoStream(), Events: []ops.EventData{idEv(1, "t", "a1"), idEv(2, "t", "a2")}},
		{Stream: "b", Expect: ops.NoStream(), Events: []ops.EventData{idEv(3, "t", "b1")}},
	}})
	if !e.NoError(err, "commit retrying a's append") || !e.Equal(2, len(r.Appends), "append results") {
		return
	}
	e.Equal(first, r.Appends[0], "result of the retried part")
	e.Equal([]uint64{1, 1}, []uint64{r.Appends[1].FirstSeq, r.Appends[1].Head}, "seqs of the new part")
	e.Equal(uint64(2), mustHead(e, "a"), "head of a")
	e.Equal(uint64(1), mustHead(e, "b"), "head of b")
	again, err := perform(e, ops.Commit{Appends: []ops.Append{
		{Stream: "a", Expect: ops.NoStream(), Events: []ops.EventData{idEv(1, "t", "a1"), idEv(2, "t", "a2")}},
		{Stream: "b", Expect: ops.NoStream(), Events: []ops.EventData{idEv(3, "t", "b1")}},
	}})
	e.NoError(err, "the same commit again")
	e.Equal(r, again, "result of the same commit again")
	all, err := perform(e, ops.ReadAll{})
	e.NoError(err, "read-all")
	e.Equal(3, len(all.Events), "events in the global log")
}
