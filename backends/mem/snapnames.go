package mem

import (
	"sort"

	"rose-ash.com/persist/ops"
)

// snapGens holds the kept generations of one snapshot name, oldest first,
// and the number of the last one written.
type snapGens struct {
	last uint64
	gens []snapGen
}

type snapGen struct {
	gen  uint64
	snap ops.Snapshot
}

// add stores snap as the next generation and keeps the newest keep.
func (g *snapGens) add(snap ops.Snapshot, keep int) {
	g.last++
	g.gens = append(g.gens, snapGen{gen: g.last, snap: snap})
	if n := len(g.gens) - keep; n > 0 {
		clear(g.gens[:n])
		g.gens = append(g.gens[:0], g.gens[n:]...)
	}
}

// find gives generation gen, the newest when gen is 0.
func (g *snapGens) find(gen uint64) (snapGen, bool) {
	if g == nil || len(g.gens) == 0 {
		return snapGen{}, false
	}
	if gen == 0 {
		return g.gens[len(g.gens)-1], true
	}
	for _, x := range g.gens {
		if x.gen == gen {
			return x, true
		}
	}
	return snapGen{}, false
}

// SnapshotNames answers ops.SnapshotNames: the names of the stored
// snapshots, in byte order.
func (s *Store) SnapshotNames() ([]string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ops.ErrClosed
	}
	names := make([]string, 0, len(s.snaps))
	for n := range s.snaps {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// SnapshotGenerations answers persist/snapshot-generations: the kept
// generations of a name, newest first.
func (s *Store) SnapshotGenerations(op ops.SnapshotGenerations) (ops.SnapshotGenerationsResult, error) {
	if err := op.Validate(); err != nil {
		return ops.SnapshotGenerationsResult{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ops.SnapshotGenerationsResult{}, ops.ErrClosed
	}
	var res ops.SnapshotGenerationsResult
	if g := s.snaps[op.Name]; g != nil {
		for i := len(g.gens) - 1; i >= 0; i-- {
			x := g.gens[i]
			res.Generations = append(res.Generations, ops.SnapshotGeneration{Generation: x.gen, Version: x.snap.Version, Seq: x.snap.Seq})
		}
	}
	return res, nil
}
