package file

import (
	"fmt"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// Handle answers the operations of package ops, performing its IO on p;
// other effects are effect.ErrUnhandled.
func (s *Store) Handle(p *effect.P, e effect.Effect) (any, error) {
	switch e.(type) {
	case ops.Append, ops.Commit, ops.KvPut, ops.KvDelete, ops.Read, ops.ReadAll, ops.Head,
		ops.Streams, ops.Wait, ops.KvGet, ops.KvList, ops.SnapshotRead, ops.SnapshotWrite, ops.SnapshotNames, ops.SnapshotGenerations, ops.Now,
		ops.StreamMetaRead, ops.StreamMetaWrite, ops.StreamDelete, ops.KvHistory, ops.KvWatch, ops.KvWait, ops.Stat:
	default:
		return nil, effect.ErrUnhandled
	}
	if err := ops.Validate(e); err != nil {
		return nil, err
	}
	if w, ok := e.(ops.Wait); ok {
		if s.readOnly {
			return s.waitFollow(p, w)
		}
		return s.wait(p, w)
	}
	if w, ok := e.(ops.KvWait); ok {
		return s.kvWait(p, w)
	}
	s.opMu.RLock()
	defer s.opMu.RUnlock()
	if s.closed.Load() {
		return nil, ops.ErrClosed
	}
	if s.readOnly {
		switch e.(type) {
		case ops.Append, ops.Commit, ops.KvPut, ops.KvDelete, ops.SnapshotWrite, ops.StreamMetaWrite, ops.StreamDelete:
			return nil, ErrReadOnly
		case ops.Read, ops.ReadAll, ops.Head, ops.Streams, ops.KvGet, ops.KvList,
			ops.StreamMetaRead, ops.KvHistory, ops.KvWatch, ops.Stat:
			if err := s.catchUp(p); err != nil {
				return nil, err
			}
		case ops.SnapshotRead, ops.SnapshotNames, ops.SnapshotGenerations:
			if err := s.snaps.reload(p); err != nil {
				return nil, err
			}
		}
	}
	switch op := e.(type) {
	case ops.Append:
		r, err := s.commit(p, ops.Commit{Appends: []ops.Append{op}})
		if err != nil {
			return nil, err
		}
		return r.Appends[0], nil
	case ops.KvPut, ops.KvDelete:
		c, _ := ops.AsCommit(op)
		r, err := s.commit(p, c)
		if err != nil {
			return nil, err
		}
		return r.Kv[0], nil
	case ops.Commit:
		return s.commit(p, op)
	case ops.Read:
		return s.readVisible(p, op)
	case ops.ReadAll:
		return s.readAllVisible(p, op)
	case ops.StreamMetaRead:
		return s.metaRead(p, op)
	case ops.StreamMetaWrite:
		return s.streamMeta(p, &metaOp{write: &op})
	case ops.StreamDelete:
		return s.streamMeta(p, &metaOp{del: &op})
	case ops.KvHistory:
		return s.kvHistory(p, op)
	case ops.KvWatch:
		return s.kvWatch(p, op)
	case ops.Stat:
		return s.stat(p)
	case ops.Head:
		s.mu.RLock()
		defer s.mu.RUnlock()
		return s.st.headOf(p, op.Stream)
	case ops.Streams:
		return s.streams(p, op)
	case ops.KvGet:
		e, err := s.kvGet(p, op.Key)
		if err != nil {
			return nil, err
		}
		return e, nil
	case ops.KvList:
		return s.kvList(p, op)
	case ops.SnapshotRead:
		return s.snaps.read(p, op.Name, op.Generation)
	case ops.SnapshotNames:
		return s.snaps.names(p)
	case ops.SnapshotGenerations:
		return s.snaps.generations(p, op.Name)
	case ops.SnapshotWrite:
		s.mu.RLock()
		failed := s.failed
		s.mu.RUnlock()
		if failed != nil {
			// A failed store writes nothing more until it is reopened.
			return nil, fmt.Errorf("%w: %w", ErrFailed, failed)
		}
		if err := s.snaps.write(p, op.Snapshot, op.Keep); err != nil {
			return nil, err
		}
		return struct{}{}, nil
	case ops.Now:
		return effect.Perform(p, platform.Clock{})
	}
	return nil, effect.ErrUnhandled
}

func cloneBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// sorted runs fn with the state's sorted names and keys up to date.
func (s *Store) sorted(fn func(st *state)) {
	s.mu.RLock()
	if !s.st.namesDirty && !s.st.keysDirty {
		defer s.mu.RUnlock()
		fn(s.st)
		return
	}
	s.mu.RUnlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.sortedNames()
	s.st.sortedKeys()
	fn(s.st)
}

// streams answers ops.Streams: a page of the streams of memory and of the
// stream runs, merged (walkNames).
func (s *Store) streams(p *effect.P, op ops.Streams) (ops.StreamsResult, error) {
	var res ops.StreamsResult
	var err error
	s.sorted(func(st *state) {
		res.Streams, res.More, err = pageListed(p, st, op.Prefix, op.After, ops.PageLimit(op.Limit), op.Deleted && st.ret.meta != nil)
	})
	if err != nil {
		return ops.StreamsResult{}, err
	}
	return res, nil
}

func (s *Store) kvList(p *effect.P, op ops.KvList) (ops.KvListResult, error) {
	var res ops.KvListResult
	var err error
	s.sorted(func(st *state) {
		res, err = st.kvPage(p, op.Prefix, op.After, ops.PageLimit(op.Limit))
	})
	return res, err
}

// wait blocks until the stream's head (the last position when Stream is
// empty) passes After, the timeout elapses, the context ends or the store
// closes.
func (s *Store) wait(p *effect.P, op ops.Wait) (any, error) {
	ctx := p.Context()
	var timer <-chan time.Time
	if op.Timeout > 0 {
		t := time.NewTimer(op.Timeout)
		defer t.Stop()
		timer = t.C
	}
	for {
		if s.closed.Load() {
			return nil, ops.ErrClosed
		}
		s.mu.RLock()
		cur := s.st.lastPos
		var err error
		if op.Stream != "" {
			cur, err = s.st.headOf(p, op.Stream)
		}
		ch := s.notify
		s.mu.RUnlock()
		if err != nil {
			return nil, err
		}
		if cur > op.After {
			return ops.WaitResult{Head: cur, Passed: true}, nil
		}
		select {
		case <-ch:
		case <-timer:
			return ops.WaitResult{Head: cur}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.closedCh:
			return nil, ops.ErrClosed
		}
	}
}
