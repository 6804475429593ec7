package file

import (
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// kvGet answers a kv-get of key under the store's lock for reading (a
// function of its own: Handle's many returns leave its deferred calls
// to the runtime's list, a few percent of a kv-get).
func (s *Store) kvGet(p *effect.P, key string) (*ops.KvEntry, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.st.kvGetEntry(p, key)
}

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
	_, err := s.kvRuns.getFn(p, s.kvCache, key, false, func(e kvRunEntry) {
		live, rev, value = e.live, e.rev, cloneBytes(e.value)
	})
	if err != nil || !live {
		return nil, err
	}
	return &ops.KvEntry{Key: key, Value: value, Revision: rev}, nil
}
