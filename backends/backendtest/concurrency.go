package backendtest

import (
	"errors"
	"fmt"
	"sync"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/programs"
)

func init() {
	register("concurrency",
		Case{Name: "conflict-exact", Doc: "an append expecting a stale head is a *ops.Conflict naming stream, expected and actual, and writes nothing", Run: concConflictExact},
		Case{Name: "conflict-no-stream", Doc: "an append expecting NoStream on a non-empty stream is a conflict naming its head", Run: concConflictNoStream},
		Case{Name: "conflict-exists", Doc: "an append expecting Exists on an empty stream is a conflict naming head 0", Run: concConflictExists},
		Case{Name: "conflict-is-value", Doc: "a conflict is an ordinary error value the program gets back and can go on from", Run: concConflictIsValue},
		Case{Name: "retry", Doc: "AppendRetry meets another writer's append, decides again on the new head and appends", Run: concRetry},
		Case{Name: "retry-exhausted", Doc: "AppendRetry out of attempts returns the last conflict and writes nothing of its own", Run: concRetryExhausted},
		Case{Name: "two-writer-race", Concurrent: true, Doc: "two writers appending at the same head: exactly one wins, the other gets a conflict and wins on retry", Run: concTwoWriterRace},
		Case{Name: "many-appenders", Concurrent: true, Doc: "many concurrent appenders to one stream lose nothing: seqs and positions are gapless and each batch contiguous", Run: concManyAppenders},
		Case{Name: "exact-appenders", Concurrent: true, Doc: "concurrent read-then-append-exact loops never overwrite each other", Run: concExactAppenders},
		Case{Name: "kv-counter", Concurrent: true, Doc: "concurrent compare-and-set increments of one key lose no update", Run: concKvCounter},
		Case{Name: "commits", Concurrent: true, Doc: "concurrent two-stream commits are each all-or-none", Run: concCommits},
	)
}

func concConflictExact(e *Env) {
	mustAppend(e, "s", ops.Any(), ev("t", "1"), ev("t", "2"))
	before := observe(e)
	_, err := appendTo(e, "s", ops.Exact(1), ev("t", "x"))
	e.Conflict(err, ops.Conflict{Stream: "s", Expected: ops.Exact(1), Actual: 2}, "append expecting head 1 at head 2")
	_, err = appendTo(e, "s", ops.Exact(3), ev("t", "x"))
	e.Conflict(err, ops.Conflict{Stream: "s", Expected: ops.Exact(3), Actual: 2}, "append expecting head 3 at head 2")
	_, err = appendTo(e, "empty", ops.Exact(1), ev("t", "x"))
	e.Conflict(err, ops.Conflict{Stream: "empty", Expected: ops.Exact(1), Actual: 0}, "append expecting head 1 to an empty stream")
	unchanged(e, before, "after the refused appends")
}

func concConflictNoStream(e *Env) {
	mustAppend(e, "s", ops.Any(), ev("t", "1"))
	before := observe(e)
	_, err := appendTo(e, "s", ops.NoStream(), ev("t", "x"))
	e.Conflict(err, ops.Conflict{Stream: "s", Expected: ops.NoStream(), Actual: 1}, "NoStream at head 1")
	unchanged(e, before, "after the refused append")
}

func concConflictExists(e *Env) {
	before := observe(e)
	_, err := appendTo(e, "s", ops.Exists(), ev("t", "x"))
	e.Conflict(err, ops.Conflict{Stream: "s", Expected: ops.Exists(), Actual: 0}, "Exists on an empty stream")
	unchanged(e, before, "after the refused append")
	e.Equal(uint64(0), mustHead(e, "s"), "head after the refused append")
}

// concConflictIsValue runs one program that meets a conflict, inspects it,
// and appends again on the head it names.
func concConflictIsValue(e *Env) {
	mustAppend(e, "s", ops.Any(), ev("t", "1"))
	r, err := Do(e, func(p *effect.P) (ops.AppendResult, error) {
		_, err := programs.Append(p, "s", ops.NoStream(), ev("t", "mine"))
		var c *ops.Conflict
		if !errors.As(err, &c) {
			return ops.AppendResult{}, fmt.Errorf("first append: want a conflict, got %v", err)
		}
		return programs.Append(p, "s", ops.Exact(c.Actual), ev("t", "mine"))
	})
	if e.NoError(err, "program appending again after a conflict") {
		e.Equal([]uint64{2, 2}, []uint64{r.FirstSeq, r.Head}, "FirstSeq and Head of the second append")
	}
	e.Equal([]string{"1", "mine"}, dataOf(mustRead(e, "s", 1, 0).Events), "stream")
}

// otherWriter appends one event to stream, outward, the first time the
// program appends: a deterministic competing writer.
func otherWriter(stream, data string) *interfere {
	return &interfere{match: isOp(ops.NameAppend), other: func(p *effect.P) error {
		_, err := programs.Append(p, stream, ops.Any(), ev("other", data))
		return err
	}}
}

func concRetry(e *Env) {
	mustAppend(e, "s", ops.Any(), ev("mine", "1"))
	var heads []uint64
	r, err := Do(e, func(p *effect.P) (ops.AppendResult, error) {
		return programs.AppendRetry(p, "s", 3, func(p *effect.P, head uint64) ([]ops.EventData, error) {
			heads = append(heads, head)
			return []ops.EventData{ev("mine", fmt.Sprintf("after %d", head))}, nil
		})
	}, otherWriter("s", "theirs"))
	if e.NoError(err, "AppendRetry against another writer") {
		e.Equal([]uint64{3, 3}, []uint64{r.FirstSeq, r.Head}, "FirstSeq and Head")
	}
	e.Equal([]uint64{1, 2}, heads, "heads decide was called with")
	e.Equal([]string{"1", "theirs", "after 2"}, dataOf(mustRead(e, "s", 1, 0).Events), "stream")
}

func concRetryExhausted(e *Env) {
	mustAppend(e, "s", ops.Any(), ev("mine", "1"))
	_, err := Do(e, func(p *effect.P) (ops.AppendResult, error) {
		return programs.AppendRetry(p, "s", 1, func(p *effect.P, head uint64) ([]ops.EventData, error) {
			return []ops.EventData{ev("mine", "x")}, nil
		})
	}, otherWriter("s", "theirs"))
	e.ErrorIs(err, programs.ErrRetriesExhausted, "AppendRetry with one attempt against another writer")
	var c *ops.Conflict
	if e.True(errors.As(err, &c), "the error %v wraps no *ops.Conflict", err) {
		e.Equal(ops.Conflict{Stream: "s", Expected: ops.Exact(1), Actual: 2}, *c, "the conflict")
	}
	e.Equal([]string{"1", "theirs"}, dataOf(mustRead(e, "s", 1, 0).Events), "stream")
}

// gate lets n goroutines go on only once all n have arrived.
type gate struct {
	wg sync.WaitGroup
	ch chan struct{}
}

func newGate(n int) *gate {
	g := &gate{ch: make(chan struct{})}
	g.wg.Add(n)
	go func() { g.wg.Wait(); close(g.ch) }()
	return g
}

func (g *gate) arrive() { g.wg.Done(); <-g.ch }

func concTwoWriterRace(e *Env) {
	mustAppend(e, "s", ops.Any(), ev("t", "0"))
	g := newGate(2)
	type outcome struct {
		first  error
		second error
	}
	out := make([]outcome, 2)
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			_, out[w].first = Do(e, func(p *effect.P) (ops.AppendResult, error) {
				head, err := programs.Head(p, "s")
				if err != nil {
					return ops.AppendResult{}, err
				}
				g.arrive() // both have read head 1
				return programs.Append(p, "s", ops.Exact(head), ev("t", fmt.Sprintf("w%d", w)))
			})
			if out[w].first != nil {
				_, out[w].second = Do(e, func(p *effect.P) (ops.AppendResult, error) {
					return programs.AppendRetry(p, "s", 5, func(p *effect.P, head uint64) ([]ops.EventData, error) {
						return []ops.EventData{ev("t", fmt.Sprintf("w%d retry", w))}, nil
					})
				})
			}
		})
	}
	wg.Wait()
	wins := 0
	for w, o := range out {
		if o.first == nil {
			wins++
			continue
		}
		e.Conflict(o.first, ops.Conflict{Stream: "s", Expected: ops.Exact(1), Actual: 2}, "writer %d's losing append", w)
		e.NoError(o.second, "writer %d's retry", w)
	}
	e.Equal(1, wins, "writers whose first append won")
	e.Equal(uint64(3), mustHead(e, "s"), "head after the race and the retry")
}

func concManyAppenders(e *Env) {
	const writers, batches, size = 8, 25, 2
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				events := make([]ops.EventData, size)
				for i := range events {
					events[i] = ev(fmt.Sprintf("w%d", w), fmt.Sprintf("%d.%d", b, i))
				}
				r, err := appendTo(e, "s", ops.Any(), events...)
				if !e.NoError(err, "writer %d batch %d", w, b) {
					return
				}
				e.Equal(uint64(size-1), r.Head-r.FirstSeq, "writer %d batch %d: seq span", w, b)
				e.Equal(uint64(size-1), r.LastPos-r.FirstPos, "writer %d batch %d: position span", w, b)
			}
		})
	}
	wg.Wait()
	var all []ops.Event
	for from := uint64(1); ; {
		page := mustRead(e, "s", from, 0)
		all = append(all, page.Events...)
		if len(page.Events) == 0 || page.Events[len(page.Events)-1].Seq >= page.Head {
			break
		}
		from = page.Events[len(page.Events)-1].Seq + 1
	}
	e.Equal(writers*batches*size, len(all), "events stored")
	e.Equal(span(1, uint64(writers*batches*size)), seqsOf(all), "seqs")
	// Each batch is contiguous and each writer's batches are in its order.
	next := map[string]int{}
	for i := 0; i+size <= len(all); i += size {
		typ := all[i].Type
		for j := 1; j < size; j++ {
			e.Equal(typ, all[i+j].Type, "writer of seq %d, in the batch starting at seq %d", all[i+j].Seq, all[i].Seq)
		}
		e.Equal(fmt.Sprintf("%d.0", next[typ]), string(all[i].Data), "%s's batch at seq %d", typ, all[i].Seq)
		next[typ]++
	}
}

func concExactAppenders(e *Env) {
	const writers, each = 4, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				_, err := Do(e, func(p *effect.P) (ops.AppendResult, error) {
					return programs.AppendRetry(p, "s", 1000, func(p *effect.P, head uint64) ([]ops.EventData, error) {
						return []ops.EventData{ev("t", fmt.Sprintf("w%d.%d@%d", w, i, head))}, nil
					})
				})
				e.NoError(err, "writer %d append %d", w, i)
			}
		})
	}
	wg.Wait()
	page := mustRead(e, "s", 1, 0)
	e.Equal(writers*each, len(page.Events), "events stored")
	// Every event was decided on the head just below it.
	for _, got := range page.Events {
		var w, i int
		var head uint64
		if _, err := fmt.Sscanf(string(got.Data), "w%d.%d@%d", &w, &i, &head); e.NoError(err, "parse %q", got.Data) {
			e.Equal(got.Seq-1, head, "head the event at seq %d was decided on", got.Seq)
		}
	}
}

func concKvCounter(e *Env) {
	const workers, each = 4, 10
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				_, err := Do(e, func(p *effect.P) (ops.KvResult, error) { return programs.Update(p, "counter", 1000, incr) })
				e.NoError(err, "worker %d update %d", w, i)
			}
		})
	}
	wg.Wait()
	e.Equal(fmt.Sprint(workers*each), string(mustGet(e, "counter").Entry.Value), "counter")
}

func concCommits(e *Env) {
	const workers, each = 4, 10
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				tag := fmt.Sprintf("w%d.%d", w, i)
				_, err := perform(e, ops.Commit{
					Appends: []ops.Append{
						{Stream: "from", Events: []ops.EventData{ev("debit", tag)}},
						{Stream: "to", Events: []ops.EventData{ev("credit", tag)}},
					},
					Kv: []ops.KvChange{{Key: "last", Value: []byte(tag)}, {Key: "w" + fmt.Sprint(w), Value: []byte(tag)}},
				})
				e.NoError(err, "commit %s", tag)
			}
		})
	}
	wg.Wait()
	from := mustRead(e, "from", 1, 0)
	to := mustRead(e, "to", 1, 0)
	e.Equal(workers*each, len(from.Events), "events in from")
	e.Equal(dataOf(from.Events), dataOf(to.Events), "order of commits in from and to")
	last := mustGet(e, "last")
	if n := len(from.Events); n > 0 {
		e.Equal(string(from.Events[n-1].Data), string(last.Entry.Value), "the last commit's kv put")
	}
	e.Equal(uint64(workers*each), last.Entry.Revision, "revision of the last commit")
}
