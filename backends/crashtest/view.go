package crashtest

import (
	"crypto/sha256"
	"fmt"
	"sort"

	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// readView reads a store's whole content through package ops on p (whose
// innermost handler is the store): every stream, the global log, every kv
// entry, the snapshots named, and the store's last LSN. It checks on the
// way that every stream's seqs run 1..head (invariant 4).
func readView(p *effect.P, s *file.Store, snaps []string) (*view, error) {
	v := &view{streams: map[string][]ops.Event{}, heads: map[string]uint64{}, kv: map[string]ops.KvEntry{}, snaps: map[string]ops.Snapshot{}, states: map[string]ops.StreamState{}, gens: map[string][]snapGen{}}
	after := ""
	var names []string // in the listing's order: the reads below are IO effects, counted in order
	for {
		// Deleted lists the streams that read as absent too, so that
		// their stored heads and states are checked.
		r, err := effect.Perform(p, ops.Streams{After: after, Limit: ops.MaxPage, Deleted: true})
		if err != nil {
			return nil, fmt.Errorf("streams: %w", err)
		}
		for _, st := range r.Streams {
			v.heads[st.Name] = st.Head
			names = append(names, st.Name)
			after = st.Name
		}
		if !r.More {
			break
		}
	}
	for _, name := range names {
		head := v.heads[name]
		mr, err := effect.Perform(p, ops.StreamMetaRead{Stream: name})
		if err != nil {
			return nil, fmt.Errorf("stream-meta-read %s: %w", name, err)
		}
		if mr.StreamState != (ops.StreamState{}) {
			v.states[name] = mr.StreamState
		}
		// The visible events run on without gaps to the head (the
		// workloads set only seq-based limits), from wherever the
		// stream's state lets them start (invariant 4).
		var evs []ops.Event
		for from := uint64(1); from <= head; {
			r, err := effect.Perform(p, ops.Read{Stream: name, From: from, Limit: ops.MaxPage})
			if err != nil {
				return nil, fmt.Errorf("read %s from %d: %w", name, from, err)
			}
			for _, e := range r.Events {
				if e.Stream != name || e.Seq < from || len(evs) > 0 && e.Seq != evs[len(evs)-1].Seq+1 {
					return nil, fmt.Errorf("read %s: seq %d of %q after seq %d from %d (invariant 4)", name, e.Seq, e.Stream, lastSeq(evs), from)
				}
				evs = append(evs, e)
			}
			next := r.Next
			if next <= from {
				return nil, fmt.Errorf("read %s from %d: next %d does not move on", name, from, next)
			}
			from = next
		}
		if len(evs) > 0 && lastSeq(evs) != head {
			return nil, fmt.Errorf("read %s: visible events end at seq %d below head %d (invariant 4)", name, lastSeq(evs), head)
		}
		v.streams[name] = evs
	}
	for from := uint64(1); ; {
		r, err := effect.Perform(p, ops.ReadAll{From: from, Limit: ops.MaxPage})
		if err != nil {
			return nil, fmt.Errorf("read-all from %d: %w", from, err)
		}
		for _, e := range r.Events {
			if e.Pos < from || len(v.log) > 0 && e.Pos <= v.log[len(v.log)-1].Pos {
				return nil, fmt.Errorf("read-all: position %d read from %d after %d", e.Pos, from, len(v.log))
			}
			v.log = append(v.log, e)
		}
		if from > r.Head {
			break
		}
		if r.Next <= from {
			return nil, fmt.Errorf("read-all from %d: next %d does not move on", from, r.Next)
		}
		from = r.Next
	}
	after = ""
	for {
		r, err := effect.Perform(p, ops.KvList{After: after, Limit: ops.MaxPage})
		if err != nil {
			return nil, fmt.Errorf("kv-list: %w", err)
		}
		for _, e := range r.Entries {
			v.kv[e.Key] = e
			after = e.Key
		}
		if !r.More {
			break
		}
	}
	v.kvHist = make(map[string][]ops.KvVersion, len(v.kv))
	for k := range v.kv {
		r, err := effect.Perform(p, ops.KvHistory{Key: k})
		if err != nil {
			return nil, fmt.Errorf("kv-history %s: %w", k, err)
		}
		v.kvHist[k] = r.Versions
	}
	for from := uint64(0); ; {
		r, err := effect.Perform(p, ops.KvWatch{From: from, Limit: ops.MaxPage})
		if err != nil {
			return nil, fmt.Errorf("kv-watch from %d: %w", from, err)
		}
		v.kvWatch = append(v.kvWatch, r.Changes...)
		if r.Next > r.Revision || r.Next <= from {
			break
		}
		from = r.Next
	}
	for _, n := range snaps {
		r, err := effect.Perform(p, ops.SnapshotRead{Name: n})
		if err != nil {
			return nil, fmt.Errorf("snapshot-read %s: %w", n, err)
		}
		if r.Found {
			v.snaps[n] = r.Snapshot
		}
		if err := readGens(p, v, n); err != nil {
			return nil, err
		}
	}
	v.lsn = s.Stats().LSN
	return v, nil
}

// readGens lists the kept generations of snapshot name and reads each
// back by its number: numbers strictly falling, each generation found and
// as the listing describes it.
func readGens(p *effect.P, v *view, name string) error {
	l, err := effect.Perform(p, ops.SnapshotGenerations{Name: name})
	if err != nil {
		return fmt.Errorf("snapshot-generations %s: %w", name, err)
	}
	for i, g := range l.Generations {
		if i > 0 && g.Generation >= l.Generations[i-1].Generation {
			return fmt.Errorf("snapshot-generations %s: generation %d after %d, want newest first", name, g.Generation, l.Generations[i-1].Generation)
		}
		r, err := effect.Perform(p, ops.SnapshotRead{Name: name, Generation: g.Generation})
		if err != nil {
			return fmt.Errorf("snapshot-read %s generation %d: %w", name, g.Generation, err)
		}
		if !r.Found || r.Generation != g.Generation || r.Snapshot.Version != g.Version || r.Snapshot.Seq != g.Seq {
			return fmt.Errorf("snapshot-read %s generation %d: found %v generation %d version %d seq %d, listed as version %d seq %d",
				name, g.Generation, r.Found, r.Generation, r.Snapshot.Version, r.Snapshot.Seq, g.Version, g.Seq)
		}
		v.gens[name] = append(v.gens[name], snapGen{gen: g.Generation, snap: r.Snapshot})
	}
	return nil
}

// digest summarises a view, event times and LSN included: two opens of one
// disk must give the same digest.
func (v *view) digest() string {
	h := sha256.New()
	names := make([]string, 0, len(v.streams))
	for n := range v.streams {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(h, "stream %q %d\n", n, v.heads[n])
		for _, e := range v.streams[n] {
			fmt.Fprintf(h, "%s %d %d %q %d %x\n", e.ID, e.Seq, e.Pos, e.Type, e.At.UnixNano(), e.Data)
		}
	}
	fmt.Fprintf(h, "log %d\n", len(v.log))
	keys := make([]string, 0, len(v.kv))
	for k := range v.kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "kv %q %d %x\n", k, v.kv[k].Revision, v.kv[k].Value)
		for _, ver := range v.kvHist[k] {
			fmt.Fprintf(h, "kv-version %d %t %x\n", ver.Revision, ver.Deleted, ver.Value)
		}
	}
	for _, ch := range v.kvWatch {
		fmt.Fprintf(h, "kv-watch %q %d %t %x\n", ch.Key, ch.Revision, ch.Deleted, ch.Value)
	}
	snaps := make([]string, 0, len(v.snaps))
	for k := range v.snaps {
		snaps = append(snaps, k)
	}
	sort.Strings(snaps)
	for _, k := range snaps {
		s := v.snaps[k]
		fmt.Fprintf(h, "snap %q %d %d %x\n", k, s.Version, s.Seq, s.Value)
		for _, g := range v.gens[k] {
			fmt.Fprintf(h, "gen %d %d %d %x\n", g.gen, g.snap.Version, g.snap.Seq, g.snap.Value)
		}
	}
	states := make([]string, 0, len(v.states))
	for k := range v.states {
		states = append(states, k)
	}
	sort.Strings(states)
	for _, k := range states {
		fmt.Fprintf(h, "state %q %+v\n", k, v.states[k])
	}
	fmt.Fprintf(h, "lsn %d\n", v.lsn)
	return fmt.Sprintf("%x", h.Sum(nil)[:12])
}

func lastSeq(evs []ops.Event) uint64 {
	if len(evs) == 0 {
		return 0
	}
	return evs[len(evs)-1].Seq
}
