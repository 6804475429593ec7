package programs

import (
	"errors"
	"fmt"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// Get performs persist/kv-get: the key's entry and whether it is present.
// An absent key gives an entry with only Key set, and false.
func Get(p *effect.P, key string) (ops.KvEntry, bool, error) {
	r, err := effect.Perform(p, ops.KvGet{Key: key})
	if err != nil || r == nil {
		return ops.KvEntry{Key: key}, false, err
	}
	return *r, true, nil
}

// Put performs persist/kv-put without an expectation: it sets the key's
// value whatever its revision.
func Put(p *effect.P, key string, value []byte) (ops.KvResult, error) {
	return PutIf(p, key, value, ops.Any())
}

// PutIf performs persist/kv-put: it sets the key's value if expect holds for
// its revision (ops.NoStream: absent; ops.Exists: present; ops.Exact(r): at
// revision r). A failed expectation is the backend's *ops.Conflict, returned
// as it is, and nothing is written.
func PutIf(p *effect.P, key string, value []byte, expect ops.Expect) (ops.KvResult, error) {
	return effect.Perform(p, ops.KvPut{Key: key, Value: value, Expect: expect})
}

// Delete performs persist/kv-delete without an expectation. Deleting an
// absent key is not an error; the result's Existed tells which it was.
func Delete(p *effect.P, key string) (ops.KvResult, error) {
	return DeleteIf(p, key, ops.Any())
}

// DeleteIf performs persist/kv-delete if expect holds for the key's
// revision, as PutIf does for a put.
func DeleteIf(p *effect.P, key string, expect ops.Expect) (ops.KvResult, error) {
	return effect.Perform(p, ops.KvDelete{Key: key, Expect: expect})
}

// Has reports whether the key is present.
func Has(p *effect.P, key string) (bool, error) {
	_, found, err := Get(p, key)
	return found, err
}

// GetOr returns the key's value, or def when the key is absent.
func GetOr(p *effect.P, key string, def []byte) ([]byte, error) {
	e, found, err := Get(p, key)
	if err != nil {
		return nil, err
	}
	if !found {
		return def, nil
	}
	return e.Value, nil
}

// Keys returns the keys that start with prefix, in byte order, paging
// through persist/kv-list. Each page is consistent on its own; keys put or
// deleted between pages may or may not be seen. It is nil when there are
// none.
func Keys(p *effect.P, prefix string) ([]string, error) {
	var keys []string
	err := list(p, prefix, func(e ops.KvEntry) { keys = append(keys, e.Key) })
	return keys, err
}

// List returns the entries whose keys start with prefix, in key order, as
// Keys does.
func List(p *effect.P, prefix string) ([]ops.KvEntry, error) {
	var entries []ops.KvEntry
	err := list(p, prefix, func(e ops.KvEntry) { entries = append(entries, e) })
	return entries, err
}

func list(p *effect.P, prefix string, fn func(ops.KvEntry)) error {
	after := ""
	for {
		page, err := effect.Perform(p, ops.KvList{Prefix: prefix, After: after})
		if err != nil {
			return err
		}
		for _, e := range page.Entries {
			fn(e)
			after = e.Key
		}
		if !page.More || len(page.Entries) == 0 {
			return nil
		}
	}
}

// Update sets the key to what f makes of its current value, with
// compare-and-set.
//
// It reads the key, calls f(value, found) (value is nil when the key is
// absent), and puts the result expecting the revision it read (ops.NoStream
// when the key was absent). When the put meets a *ops.Conflict, nothing was
// written: it reads the key again and calls f again. f runs at most attempts
// times (an attempts below 1 counts as 1); when every put conflicted, the
// error wraps ErrRetriesExhausted and the last *ops.Conflict. An error from
// f is returned as it is and writes nothing; a nil f is an
// *ops.InvalidError.
func Update(p *effect.P, key string, attempts int, f func(old []byte, found bool) ([]byte, error)) (ops.KvResult, error) {
	if f == nil {
		return ops.KvResult{}, &ops.InvalidError{Op: "programs/update", Field: "f", Reason: "nil"}
	}
	attempts = max(attempts, 1)
	var last *ops.Conflict
	for range attempts {
		e, found, err := Get(p, key)
		if err != nil {
			return ops.KvResult{}, err
		}
		expect := ops.NoStream()
		if found {
			expect = ops.Exact(e.Revision)
		}
		value, err := f(e.Value, found)
		if err != nil {
			return ops.KvResult{}, err
		}
		res, err := PutIf(p, key, value, expect)
		if err == nil {
			return res, nil
		}
		if !errors.As(err, &last) {
			return ops.KvResult{}, err
		}
	}
	return ops.KvResult{}, fmt.Errorf("update %q: %w after %d attempts: %w", key, ErrRetriesExhausted, attempts, last)
}
