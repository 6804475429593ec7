package file

import (
	"fmt"
	"sort"

	"rose-ash.com/persist/effect"
)

// names answers ops.SnapshotNames: the snapshot files are keyed by a hash
// of the name, so each name is read from the generation of its key that a
// read of the newest would serve (from the cache when it was read or
// written before).
func (ss *snapshots) names(p *effect.P) ([]string, error) {
	ss.mu.RLock()
	defer ss.mu.RUnlock()
	var names []string
	for key, files := range ss.files {
		var firstErr error
		found := false
		for _, f := range candidates(files) {
			if m, ok := ss.cached(f.path); ok {
				names = append(names, m.name)
				found = true
				break
			}
			r, skip, err := ss.readGen(p, f, key, &firstErr)
			if skip {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("file: list snapshots: %w", err)
			}
			names = append(names, r.Name)
			found = true
			break
		}
		if !found && firstErr != nil {
			return nil, firstErr
		}
	}
	sort.Strings(names)
	return names, nil
}
