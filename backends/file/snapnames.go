package file

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"

	"rose-ash.com/persist/effect"
)

// names answers ops.SnapshotNames: the snapshot files are keyed by a hash
// of the name, so each name is read from the newest generation of its key
// that validates (the generation a read would use).
func (ss *snapshots) names(p *effect.P) ([]string, error) {
	ss.mu.RLock()
	defer ss.mu.RUnlock()
	var names []string
	for _, files := range ss.files {
		var firstErr error
		found := false
		for i := len(files) - 1; i >= 0 && !found; i-- {
			b, err := readFile(p, files[i].path)
			if ss.follow && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("file: list snapshots: %w", err)
			}
			sn, off, err := decodeSnapshot(b)
			if err != nil {
				if firstErr == nil {
					firstErr = corrupt(files[i].path, off, "%v", err)
				}
				continue
			}
			names = append(names, sn.Name)
			found = true
		}
		if !found && firstErr != nil {
			return nil, firstErr
		}
	}
	sort.Strings(names)
	return names, nil
}
