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
	v := &view{streams: map[string][]ops.Event{}, heads: map[string]uint64{}, kv: map[string]ops.KvEntry{}, snaps: map[string]ops.Snapshot{}}
	after := ""
	for {
		r, err := effect.Perform(p, ops.Streams{After: after, Limit: ops.MaxPage})
		if err != nil {
			return nil, fmt.Errorf("streams: %w", err)
		}
		for _, st := range r.Streams {
			v.heads[st.Name] = st.Head
			after = st.Name
		}
		if !r.More {
			break
		}
	}
	for name, head := range v.heads {
		var evs []ops.Event
		for from := uint64(1); from <= head; {
			r, err := effect.Perform(p, ops.Read{Stream: name, From: from, Limit: ops.MaxPage})
			if err != nil {
				return nil, fmt.Errorf("read %s from %d: %w", name, from, err)
			}
			if len(r.Events) == 0 {
				break
			}
			for _, e := range r.Events {
				if e.Seq != from || e.Stream != name {
					return nil, fmt.Errorf("read %s: seq %d of %q where seq %d belongs (invariant 4)", name, e.Seq, e.Stream, from)
				}
				evs = append(evs, e)
				from++
			}
		}
		if uint64(len(evs)) != head {
			return nil, fmt.Errorf("read %s: %d events below head %d (invariant 4)", name, len(evs), head)
		}
		v.streams[name] = evs
	}
	for from := uint64(1); ; {
		r, err := effect.Perform(p, ops.ReadAll{From: from, Limit: ops.MaxPage})
		if err != nil {
			return nil, fmt.Errorf("read-all from %d: %w", from, err)
		}
		if len(r.Events) == 0 {
			break
		}
		for _, e := range r.Events {
			if e.Pos != from {
				return nil, fmt.Errorf("read-all: position %d where %d belongs", e.Pos, from)
			}
			v.log = append(v.log, e)
			from++
		}
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
	for _, n := range snaps {
		r, err := effect.Perform(p, ops.SnapshotRead{Name: n})
		if err != nil {
			return nil, fmt.Errorf("snapshot-read %s: %w", n, err)
		}
		if r.Found {
			v.snaps[n] = r.Snapshot
		}
	}
	v.lsn = s.Stats().LSN
	return v, nil
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
	}
	snaps := make([]string, 0, len(v.snaps))
	for k := range v.snaps {
		snaps = append(snaps, k)
	}
	sort.Strings(snaps)
	for _, k := range snaps {
		s := v.snaps[k]
		fmt.Fprintf(h, "snap %q %d %d %x\n", k, s.Version, s.Seq, s.Value)
	}
	fmt.Fprintf(h, "lsn %d\n", v.lsn)
	return fmt.Sprintf("%x", h.Sum(nil)[:12])
}
