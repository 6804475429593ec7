package backendtest

import (
	"bytes"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// consistent checks, after every case, that the backend's views of its state
// agree with each other: the global log is numbered 1, 2, 3, … without gaps;
// each stream's events are numbered 1, 2, 3, … in global order; the stream
// listing names exactly the non-empty streams with their heads, in byte
// order; reading each stream gives exactly its events of the global log;
// kv entries are listed in byte order with positive revisions, and kv-get
// agrees with the listing.
func consistent(e *Env) {
	s := observe(e)
	if s.err != nil {
		e.Errorf("consistency: observe state: %v", s.err)
		return
	}
	p := effect.Handle(e.ctx, e.b)
	byStream := map[string][]ops.Event{}
	var order []string
	for i, ev := range s.log {
		if e.retention {
			// Hidden events leave gaps: positions and seqs rise.
			if i > 0 && ev.Pos <= s.log[i-1].Pos {
				e.Errorf("consistency: global log entry %d has position %d after %d", i+1, ev.Pos, s.log[i-1].Pos)
				return
			}
		} else if ev.Pos != uint64(i+1) {
			e.Errorf("consistency: global log entry %d has position %d", i+1, ev.Pos)
			return
		}
		if _, ok := byStream[ev.Stream]; !ok {
			order = append(order, ev.Stream)
		}
		prev := byStream[ev.Stream]
		byStream[ev.Stream] = append(prev, ev)
		if e.retention {
			if len(prev) > 0 && ev.Seq <= prev[len(prev)-1].Seq {
				e.Errorf("consistency: event at position %d of %q has seq %d after %d", ev.Pos, ev.Stream, ev.Seq, prev[len(prev)-1].Seq)
			}
		} else if want := uint64(len(byStream[ev.Stream])); ev.Seq != want {
			e.Errorf("consistency: event at position %d of %q has seq %d, want %d", ev.Pos, ev.Stream, ev.Seq, want)
		}
	}
	// headOK says whether head can be a stream's head must be: its event count, or with
	// hidden events at least its last visible seq.
	headOK := func(name string, head uint64) bool {
		evs := byStream[name]
		if !e.retention {
			return head == uint64(len(evs))
		}
		return len(evs) == 0 || head >= evs[len(evs)-1].Seq
	}
	listed := map[string]uint64{}
	for i, si := range s.streams {
		if i > 0 && s.streams[i-1].Name >= si.Name {
			e.Errorf("consistency: streams listed out of order: %q before %q", s.streams[i-1].Name, si.Name)
		}
		listed[si.Name] = si.Head
		if !headOK(si.Name, si.Head) {
			e.Errorf("consistency: stream %q listed with head %d, the global log holds %d of its events", si.Name, si.Head, len(byStream[si.Name]))
		}
	}
	for _, name := range order {
		if _, ok := listed[name]; !ok {
			e.Errorf("consistency: stream %q holds events but is not listed", name)
		}
		want := byStream[name]
		var got []ops.Event
		for from := uint64(1); ; {
			r, err := effect.Perform(p, ops.Read{Stream: name, From: from, Limit: ops.MaxPage})
			if err != nil {
				e.Errorf("consistency: read %q: %v", name, err)
				break
			}
			got = append(got, r.Events...)
			if r.Next != 0 {
				if r.Next > r.Head {
					break
				}
				from = r.Next
				continue
			}
			if len(r.Events) == 0 || r.Events[len(r.Events)-1].Seq >= r.Head {
				break
			}
			from = r.Events[len(r.Events)-1].Seq + 1
		}
		if !sameEvents(want, got) {
			e.Errorf("consistency: reading stream %q gives %d events that differ from its %d events in the global log", name, len(got), len(want))
		}
		if h, err := effect.Perform(p, ops.Head{Stream: name}); err != nil || !headOK(name, h) {
			e.Errorf("consistency: head of %q is %d (err %v), the global log holds %d of its events", name, h, err, len(want))
		}
	}
	for i, kv := range s.kv {
		if i > 0 && s.kv[i-1].Key >= kv.Key {
			e.Errorf("consistency: kv keys listed out of order: %q before %q", s.kv[i-1].Key, kv.Key)
		}
		if kv.Revision == 0 {
			e.Errorf("consistency: kv key %q listed with revision 0", kv.Key)
		}
		g, err := effect.Perform(p, ops.KvGet{Key: kv.Key})
		switch {
		case err != nil:
			e.Errorf("consistency: kv-get %q: %v", kv.Key, err)
		case g == nil:
			e.Errorf("consistency: kv-get %q finds nothing, the listing %+v", kv.Key, kv)
		case g.Revision != kv.Revision || !bytes.Equal(g.Value, kv.Value):
			e.Errorf("consistency: kv-get %q gives %+v, the listing %+v", kv.Key, *g, kv)
		}
	}
}

func sameEvents(a, b []ops.Event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.ID != y.ID || x.Stream != y.Stream || x.Seq != y.Seq || x.Pos != y.Pos ||
			x.Type != y.Type || !x.At.Equal(y.At) || !bytes.Equal(x.Data, y.Data) {
			return false
		}
	}
	return true
}
