package file

import (
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// kvGetEntry answers a kv-get of key (the caller holds the store's lock
// for reading): from the changes since the runs, else from the runs,
// newest first (kvRunSet.getFn). The value is copied once, from where it
// lies (the changes' entry, or a block of a run where the block cache
// holds it) into the answer; nil when the key has no value. A get from
// the runs allocates the answer and its value and nothing else: the
// key is the caller's string, the kept revisions are not decoded.
func (s *state) kvGetEntry(p *effect.P, key string) (*ops.KvEntry, error) {
	if e := s.kv[key]; e != nil {
		if e.del {
			return nil, nil
		}
		return &ops.KvEntry{Key: key, Value: cloneBytes(e.value), Revision: e.rev}, nil
	}
	if s.kvRuns == nil {
		return nil, nil
	}
	var value []byte
	var rev uint64
	live := false
	_, err := s.kvRuns.getFn(p, s.kvCache, key, false, func(e *kvRunEntry) {
		live, rev, value = e.live, e.rev, cloneBytes(e.value)
	})
	if err != nil || !live {
		return nil, err
	}
	return &ops.KvEntry{Key: key, Value: value, Revision: rev}, nil
}
