package mem

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// WithKvHistory sets how many versions of each key the store keeps, the
// current one included (ops.DefaultKvHistory unless set). An n outside
// 1..ops.MaxKvHistory is a programming error: WithKvHistory panics with
// the *ops.InvalidError that names it.
func WithKvHistory(n int) Option {
	if err := ops.ValidateKvHistory(n); err != nil {
		panic(fmt.Sprintf("mem: %v", err))
	}
	return func(s *Store) { s.keep = n }
}

// kvHistory keeps the last versions of every key. log holds every kept
// version in revision order (a revision's versions in key order), with
// dropped ones marked dead and swept out once they are half of it; byKey
// holds each key's kept revisions, oldest first. compacted is the highest
// revision ever dropped.
type kvHistory struct {
	log       []kvRec
	dead      int
	byKey     map[string][]uint64
	kept      uint64
	compacted uint64
}

type kvRec struct {
	ver  ops.KvVersion
	dead bool
}

// add records ver, the newest version of its key, and drops the key's
// oldest versions beyond keep.
func (h *kvHistory) add(ver ops.KvVersion, keep int) {
	if h.byKey == nil {
		h.byKey = make(map[string][]uint64)
	}
	h.log = append(h.log, kvRec{ver: ver})
	for i := len(h.log) - 1; i > 0; i-- { // keys of one revision in order
		a, b := &h.log[i-1], &h.log[i]
		if a.ver.Revision != b.ver.Revision || a.ver.Key < b.ver.Key {
			break
		}
		*a, *b = *b, *a
	}
	revs := append(h.byKey[ver.Key], ver.Revision)
	h.kept++
	for len(revs) > keep {
		h.drop(ver.Key, revs[0])
		revs = revs[1:]
	}
	h.byKey[ver.Key] = revs
	if h.dead > 64 && h.dead > len(h.log)/2 {
		h.sweep()
	}
}

// find gives the index in log of key's version at rev, or -1.
func (h *kvHistory) find(key string, rev uint64) int {
	i := sort.Search(len(h.log), func(i int) bool { return h.log[i].ver.Revision >= rev })
	for ; i < len(h.log) && h.log[i].ver.Revision == rev; i++ {
		if h.log[i].ver.Key == key {
			return i
		}
	}
	return -1
}

func (h *kvHistory) drop(key string, rev uint64) {
	if i := h.find(key, rev); i >= 0 && !h.log[i].dead {
		h.log[i] = kvRec{dead: true, ver: ops.KvVersion{Key: key, Revision: rev}}
		h.dead++
		h.kept--
	}
	h.compacted = max(h.compacted, rev)
}

func (h *kvHistory) sweep() {
	live := h.log[:0]
	for _, r := range h.log {
		if !r.dead {
			live = append(live, r)
		}
	}
	clear(h.log[len(live):])
	h.log, h.dead = live, 0
}

func versionOut(v ops.KvVersion) ops.KvVersion {
	v.Value = clone(v.Value)
	return v
}

// KvHistory answers persist/kv-history: the key's kept versions, newest
// first.
func (s *Store) KvHistory(op ops.KvHistory) (ops.KvHistoryResult, error) {
	if err := op.Validate(); err != nil {
		return ops.KvHistoryResult{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ops.KvHistoryResult{}, ops.ErrClosed
	}
	revs := s.hist.byKey[op.Key]
	n := len(revs)
	if op.Limit > 0 && op.Limit < n {
		n = op.Limit
	}
	res := ops.KvHistoryResult{More: n < len(revs)}
	for i := len(revs) - 1; i >= len(revs)-n; i-- {
		res.Versions = append(res.Versions, versionOut(s.hist.log[s.hist.find(op.Key, revs[i])].ver))
	}
	return res, nil
}

// KvWatch answers persist/kv-watch: the kept changes under the prefix
// from a revision on, whole revisions at a time.
func (s *Store) KvWatch(op ops.KvWatch) (ops.KvWatchResult, error) {
	if err := op.Validate(); err != nil {
		return ops.KvWatchResult{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ops.KvWatchResult{}, ops.ErrClosed
	}
	h := &s.hist
	from := op.From
	if from == 0 {
		from = h.compacted + 1
	} else if from <= h.compacted {
		return ops.KvWatchResult{}, &ops.CompactedError{Revision: from, Compacted: h.compacted}
	}
	res := ops.KvWatchResult{Revision: s.kvRev, Next: max(from, s.kvRev+1)}
	limit := ops.PageLimit(op.Limit)
	i := sort.Search(len(h.log), func(i int) bool { return h.log[i].ver.Revision >= from })
	for scanned := 0; i < len(h.log); {
		// One revision at a time: its matching changes go in whole or
		// not at all.
		rev := h.log[i].ver.Revision
		if scanned >= scanBudget {
			res.Next = rev
			break
		}
		j, n := i, 0
		for ; j < len(h.log) && h.log[j].ver.Revision == rev; j++ {
			if r := &h.log[j]; !r.dead && strings.HasPrefix(r.ver.Key, op.Prefix) {
				n++
			}
		}
		if n > 0 && len(res.Changes) > 0 && len(res.Changes)+n > limit {
			res.Next = rev
			break
		}
		for k := i; k < j; k++ {
			if r := &h.log[k]; !r.dead && strings.HasPrefix(r.ver.Key, op.Prefix) {
				res.Changes = append(res.Changes, versionOut(r.ver))
			}
		}
		scanned += j - i
		i = j
	}
	return res, nil
}

// KvWait answers persist/kv-wait, as Wait does for the log.
func (s *Store) KvWait(p *effect.P, op ops.KvWait) (ops.WaitResult, error) {
	if err := op.Validate(); err != nil {
		return ops.WaitResult{}, err
	}
	return s.waitFor(p, op.Timeout, op.After, func() uint64 { return s.kvRev })
}

// waitFor blocks until cur (read under mu) passes after, the timeout
// elapses or the handle's context ends.
func (s *Store) waitFor(p *effect.P, timeout time.Duration, after uint64, cur func() uint64) (ops.WaitResult, error) {
	var tc <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		tc = t.C
	}
	var done <-chan struct{}
	if p != nil {
		done = p.Context().Done()
	}
	for {
		s.mu.Lock()
		closed := s.closed
		head := cur()
		if s.changed == nil {
			s.changed = make(chan struct{})
		}
		changed := s.changed
		s.mu.Unlock()
		if closed {
			return ops.WaitResult{}, ops.ErrClosed
		}
		if head > after {
			return ops.WaitResult{Head: head, Passed: true}, nil
		}
		select {
		case <-changed:
		case <-tc:
			return ops.WaitResult{Head: head}, nil
		case <-done:
			return ops.WaitResult{}, p.Context().Err()
		}
	}
}
