package mem

import (
	"sort"

	"rose-ash.com/persist/ops"
)

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
