package persist

import (
	"context"
	"iter"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/programs"
)

// KvGet reads a key (persist/kv-get): its entry and true, or an entry with
// only Key set and false when the key is absent.
func (db *DB) KvGet(ctx context.Context, key string) (KvEntry, bool, error) {
	if ctx == nil {
		return KvEntry{Key: key}, false, nilContext(ops.NameKvGet)
	}
	e, err := effect.Perform(effect.Handle(ctx, db.hs...), ops.KvGet{Key: key})
	if err != nil || e == nil {
		return KvEntry{Key: key}, false, err
	}
	return *e, true, nil
}

// KvPut sets a key's value if expect holds for its revision
// (persist/kv-put): Any always, NoStream when absent, Exists when present,
// Exact(r) at revision r. A failed expectation is a *Conflict and writes
// nothing.
func (db *DB) KvPut(ctx context.Context, key string, value []byte, expect Expect) (KvResult, error) {
	if ctx == nil {
		return KvResult{}, nilContext(ops.NameKvPut)
	}
	return effect.Perform(effect.Handle(ctx, db.hs...), ops.KvPut{Key: key, Value: value, Expect: expect})
}

// KvDelete removes a key if expect holds for its revision
// (persist/kv-delete). Deleting an absent key is not an error; Existed
// tells which it was.
func (db *DB) KvDelete(ctx context.Context, key string, expect Expect) (KvResult, error) {
	if ctx == nil {
		return KvResult{}, nilContext(ops.NameKvDelete)
	}
	return effect.Perform(effect.Handle(ctx, db.hs...), ops.KvDelete{Key: key, Expect: expect})
}

// KvList iterates the entries whose keys start with prefix, in key order
// (persist/kv-list, paged).
func (db *DB) KvList(ctx context.Context, prefix string) iter.Seq2[KvEntry, error] {
	p, err := db.handle(ctx, ops.NameKvList)
	if err != nil {
		return failed[KvEntry](err)
	}
	return programs.Entries(p, prefix)
}

// KvUpdate sets key to what f makes of its current value, with
// compare-and-set (programs.Update): it reads the key, calls f(old, found)
// and puts the result expecting the revision it read; on a conflict it
// reads and calls f again, at most attempts times. Exhaustion wraps
// ErrRetriesExhausted and the last *Conflict; an error from f writes
// nothing and is returned as it is.
func (db *DB) KvUpdate(ctx context.Context, key string, attempts int, f func(old []byte, found bool) ([]byte, error)) (KvResult, error) {
	return call(ctx, db, "programs/update", func(p *effect.P) (KvResult, error) {
		return programs.Update(p, key, attempts, f)
	})
}

// Commit applies appends to several streams and kv changes, each with its
// own expectation, as one atomic unit (persist/commit): all or none. The
// first failed expectation is the answer, a *Conflict, and nothing is
// written.
func (db *DB) Commit(ctx context.Context, c Commit) (CommitResult, error) {
	if ctx == nil {
		return CommitResult{}, nilContext(ops.NameCommit)
	}
	return effect.Perform(effect.Handle(ctx, db.hs...), c)
}
