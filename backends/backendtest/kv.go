package backendtest

import (
	"errors"
	"fmt"
	"strconv"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/programs"
)

func init() {
	register("kv",
		Case{Name: "get-missing", Doc: "getting an absent key answers Found false, the key, revision 0 and no value", Run: kvGetMissing},
		Case{Name: "put-get", Doc: "a put value is got back with the put's revision", Run: kvPutGet},
		Case{Name: "overwrite", Doc: "a second put replaces the value, reports the key existed, and raises the revision", Run: kvOverwrite},
		Case{Name: "delete", Doc: "a deleted key is absent and unlisted; the delete reports it existed", Run: kvDelete},
		Case{Name: "delete-absent", Doc: "deleting an absent key is not an error and reports it did not exist", Run: kvDeleteAbsent},
		Case{Name: "delete-absent-revision", Doc: "deleting an absent key takes the next revision (see ops: persist's rule, not etcd's), and the next change the one after", Run: kvDeleteAbsentRevision},
		Case{Name: "empty-value", Doc: "a key put with an empty value is present with an empty value", Run: kvEmptyValue},
		Case{Name: "binary-value", Doc: "values are opaque bytes: NUL and invalid UTF-8 come back unchanged", Run: kvBinaryValue},
		Case{Name: "has", Doc: "Has tells present keys from absent and deleted ones", Run: kvHas},
		Case{Name: "keys", Doc: "Keys lists the keys under a prefix in byte order, across pages", Run: kvKeys},
		Case{Name: "get-or", Doc: "GetOr answers the value, or the default for an absent key", Run: kvGetOr},
		Case{Name: "update", Doc: "Update applies a function to the current value, creating the key when absent", Run: kvUpdate},
		Case{Name: "update-retry", Doc: "Update meets a concurrent change, re-reads and applies its function again", Run: kvUpdateRetry},
		Case{Name: "list", Doc: "kv-list lists entries with their values and revisions in byte order of key", Run: kvList},
		Case{Name: "list-prefix-after", Doc: "kv-list honours Prefix and After, also when After lies outside the prefix", Run: kvListPrefixAfter},
		Case{Name: "list-paging", Doc: "kv-list pages by Limit and More tells whether more follow", Run: kvListPaging},
		Case{Name: "revisions-rise", Doc: "every commit touching kv raises the store-wide revision by one, starting at 1", Run: kvRevisionsRise},
		Case{Name: "revision-no-reuse", Doc: "a key deleted and put again gets a revision above every earlier one", Run: kvRevisionNoReuse},
		Case{Name: "revision-no-gap-on-conflict", Doc: "a refused kv change takes no revision", Run: kvRevisionNoGap},
		Case{Name: "cas-exact", Doc: "a put expecting the key's revision succeeds; a stale revision is a conflict naming expected and actual", Run: kvCASExact},
		Case{Name: "cas-no-stream", Doc: "a put expecting an absent key creates it, and conflicts when the key is present", Run: kvCASNoStream},
		Case{Name: "cas-exists", Doc: "a put expecting a present key conflicts when it is absent, and succeeds when present", Run: kvCASExists},
		Case{Name: "cas-delete", Doc: "deletes honour Exact, NoStream and Exists expectations", Run: kvCASDelete},
	)
}

func kvGetMissing(e *Env) {
	r, err := perform(e, ops.KvGet{Key: "nope"})
	e.NoError(err, "kv-get")
	e.True(r == nil, "kv-get of an absent key answers nil, got %+v", r)
}

func kvPutGet(e *Env) {
	w, err := perform(e, ops.KvPut{Key: "user/1", Value: []byte(`{"name":"ada"}`)})
	e.NoError(err, "kv-put")
	e.Equal("user/1", w.Key, "put's Key")
	e.Equal(false, w.Existed, "put's Existed for a new key")
	e.True(w.Revision > 0, "put's Revision is 0")
	r := mustGet(e, "user/1")
	e.Equal(true, r.Found, "Found")
	e.Equal(ops.KvEntry{Key: "user/1", Value: []byte(`{"name":"ada"}`), Revision: w.Revision}, r.Entry, "entry")
}

func kvOverwrite(e *Env) {
	first := mustPut(e, "k", "one")
	w, err := perform(e, ops.KvPut{Key: "k", Value: []byte("two")})
	e.NoError(err, "second put")
	e.Equal(true, w.Existed, "second put's Existed")
	e.True(w.Revision > first.Revision, "second put's revision %d is not above the first's %d", w.Revision, first.Revision)
	r := mustGet(e, "k")
	e.Equal(ops.KvEntry{Key: "k", Value: []byte("two"), Revision: w.Revision}, r.Entry, "entry after the second put")
}

func kvDelete(e *Env) {
	mustPut(e, "k", "v")
	mustPut(e, "k2", "v2")
	d, err := perform(e, ops.KvDelete{Key: "k"})
	e.NoError(err, "kv-delete")
	e.Equal(true, d.Existed, "delete's Existed")
	e.Equal("k", d.Key, "delete's Key")
	r := mustGet(e, "k")
	e.Equal(false, r.Found, "Found after delete")
	e.Equal(0, len(r.Entry.Value), "value after delete")
	l, err := perform(e, ops.KvList{})
	e.NoError(err, "kv-list")
	var keys []string
	for _, en := range l.Entries {
		keys = append(keys, en.Key)
	}
	e.Equal([]string{"k2"}, keys, "keys listed after delete")
	e.Equal(true, mustGet(e, "k2").Found, "other key after delete")
}

func kvDeleteAbsent(e *Env) {
	d, err := perform(e, ops.KvDelete{Key: "ghost"})
	e.NoError(err, "delete of an absent key")
	e.Equal(false, d.Existed, "Existed")
	e.Equal(false, mustGet(e, "ghost").Found, "Found after deleting an absent key")
}

func kvDeleteAbsentRevision(e *Env) {
	mustPut(e, "a", "1")
	d, err := perform(e, ops.KvDelete{Key: "ghost"})
	e.NoError(err, "delete of an absent key")
	e.Equal(ops.KvResult{Key: "ghost", Revision: 2, Existed: false}, d, "delete of an absent key")
	e.Equal(uint64(3), mustPut(e, "a", "2").Revision, "revision of the next put")
}

func kvEmptyValue(e *Env) {
	mustPut(e, "empty", "")
	r := mustGet(e, "empty")
	e.Equal(true, r.Found, "Found")
	e.Equal(0, len(r.Entry.Value), "value length")
}

func kvBinaryValue(e *Env) {
	v := []byte{0, 1, 0xff, 0xfe, 0, 0xc0, 'a'}
	if _, err := perform(e, ops.KvPut{Key: "bin", Value: v}); err != nil {
		e.Fatalf("precondition: put: %v", err)
	}
	e.True(sameBytes(v, mustGet(e, "bin").Entry.Value), "binary value changed")
}

func kvHas(e *Env) {
	mustPut(e, "here", "1")
	mustPut(e, "gone", "1")
	if _, err := perform(e, ops.KvDelete{Key: "gone"}); err != nil {
		e.Fatalf("precondition: delete: %v", err)
	}
	got, err := Do(e, func(p *effect.P) ([]bool, error) {
		var out []bool
		for _, k := range []string{"here", "gone", "never"} {
			h, err := programs.Has(p, k)
			if err != nil {
				return out, err
			}
			out = append(out, h)
		}
		return out, nil
	})
	e.NoError(err, "Has")
	e.Equal([]bool{true, false, false}, got, "Has of a present, a deleted and an absent key")
}

func kvKeys(e *Env) {
	// More than one page of the default size, under the prefix.
	var want []string
	for i := range ops.DefaultPage + 3 {
		want = append(want, fmt.Sprintf("p/%05d", i))
	}
	parts := make([]ops.KvChange, len(want))
	for i, k := range want {
		parts[i] = ops.KvChange{Key: k, Value: []byte("v")}
	}
	if _, err := perform(e, ops.Commit{Kv: parts}); err != nil {
		e.Fatalf("precondition: commit of %d puts: %v", len(parts), err)
	}
	mustPut(e, "p", "not under p/")
	mustPut(e, "q/1", "other prefix")
	keys, err := Do(e, func(p *effect.P) ([]string, error) { return programs.Keys(p, "p/") })
	e.NoError(err, "Keys")
	e.Equal(len(want), len(keys), "number of keys under p/")
	e.Equal(want, keys, "keys under p/")
	keys, err = Do(e, func(p *effect.P) ([]string, error) { return programs.Keys(p, "") })
	e.NoError(err, "Keys of everything")
	e.Equal(len(want)+2, len(keys), "number of keys")
}

func kvGetOr(e *Env) {
	mustPut(e, "set", "value")
	got, err := Do(e, func(p *effect.P) ([]string, error) {
		a, err := programs.GetOr(p, "set", []byte("default"))
		if err != nil {
			return nil, err
		}
		b, err := programs.GetOr(p, "unset", []byte("default"))
		return []string{string(a), string(b)}, err
	})
	e.NoError(err, "GetOr")
	e.Equal([]string{"value", "default"}, got, "GetOr of a present and an absent key")
}

// incr is an Update function that counts in decimal.
func incr(old []byte, found bool) ([]byte, error) {
	n := 0
	if found {
		var err error
		if n, err = strconv.Atoi(string(old)); err != nil {
			return nil, fmt.Errorf("counter holds %q: %w", old, err)
		}
	}
	return []byte(strconv.Itoa(n + 1)), nil
}

func kvUpdate(e *Env) {
	for i := range 3 {
		r, err := Do(e, func(p *effect.P) (ops.KvResult, error) { return programs.Update(p, "counter", 1, incr) })
		e.NoError(err, "update %d", i+1)
		e.Equal(i > 0, r.Existed, "update %d: Existed", i+1)
	}
	r := mustGet(e, "counter")
	e.Equal("3", string(r.Entry.Value), "counter after 3 updates")
}

// interfere is a middleware that, the first time it sees an effect that
// match accepts, performs before it the effects of other (outward, as
// another writer would), then forwards the effect. It makes a conflict happen
// at a chosen step, deterministically.
type interfere struct {
	match func(effect.Effect) bool
	other func(p *effect.P) error
	done  bool
}

func (h *interfere) Handle(p *effect.P, e effect.Effect) (any, error) {
	if !h.done && h.match(e) {
		h.done = true
		if err := h.other(p); err != nil {
			return nil, fmt.Errorf("interfering writer: %w", err)
		}
	}
	return nil, effect.ErrUnhandled
}

func isOp(name string) func(effect.Effect) bool {
	return func(e effect.Effect) bool { return e.EffectName() == name }
}

func kvUpdateRetry(e *Env) {
	mustPut(e, "counter", "10")
	other := &interfere{match: isOp(ops.NameKvPut), other: func(p *effect.P) error {
		_, err := programs.Put(p, "counter", []byte("20"))
		return err
	}}
	calls := 0
	r, err := Do(e, func(p *effect.P) (ops.KvResult, error) {
		return programs.Update(p, "counter", 3, func(old []byte, found bool) ([]byte, error) {
			calls++
			return incr(old, found)
		})
	}, other)
	e.NoError(err, "update meeting a concurrent put")
	e.Equal(2, calls, "calls of the update function")
	got := mustGet(e, "counter")
	e.Equal("21", string(got.Entry.Value), "counter after the update")
	e.Equal(r.Revision, got.Entry.Revision, "revision")

	// With a single attempt, the conflict is the answer and nothing is
	// written.
	other = &interfere{match: isOp(ops.NameKvPut), other: func(p *effect.P) error {
		_, err := programs.Put(p, "counter", []byte("30"))
		return err
	}}
	_, err = Do(e, func(p *effect.P) (ops.KvResult, error) { return programs.Update(p, "counter", 1, incr) }, other)
	e.ErrorIs(err, programs.ErrRetriesExhausted, "update with 1 attempt meeting a concurrent put")
	var c *ops.Conflict
	if e.True(errors.As(err, &c), "the error %v wraps no *ops.Conflict", err) {
		e.Equal("counter", c.Key, "conflict's Key")
	}
	e.Equal("30", string(mustGet(e, "counter").Entry.Value), "counter after the refused update")
}

func putAll(e *Env, keys ...string) {
	for _, k := range keys {
		mustPut(e, k, "v:"+k)
	}
}

func entryKeys(r ops.KvListResult) []string {
	out := []string{}
	for _, en := range r.Entries {
		out = append(out, en.Key)
	}
	return out
}

func kvList(e *Env) {
	putAll(e, "b", "a", "B", "é", "a/1")
	r, err := perform(e, ops.KvList{})
	e.NoError(err, "kv-list")
	e.Equal([]string{"B", "a", "a/1", "b", "é"}, entryKeys(r), "keys listed")
	e.Equal(false, r.More, "More")
	for _, en := range r.Entries {
		g := mustGet(e, en.Key)
		e.Equal(g.Entry, en, "listed entry of %q against kv-get", en.Key)
		e.Equal("v:"+en.Key, string(en.Value), "listed value of %q", en.Key)
	}
}

func kvListPrefixAfter(e *Env) {
	putAll(e, "cfg/a", "cfg/b", "cfg/c", "cfgx", "cf", "user/1")
	cases := []struct {
		prefix, after string
		want          []string
	}{
		{"cfg/", "", []string{"cfg/a", "cfg/b", "cfg/c"}},
		{"cfg", "", []string{"cfg/a", "cfg/b", "cfg/c", "cfgx"}},
		{"cfg/", "cfg/a", []string{"cfg/b", "cfg/c"}},
		{"cfg/", "cfg/aa", []string{"cfg/b", "cfg/c"}},
		{"cfg/", "a", []string{"cfg/a", "cfg/b", "cfg/c"}},
		{"cfg/", "z", []string{}},
		{"", "cfgx", []string{"user/1"}},
		{"nothing", "", []string{}},
	}
	for _, c := range cases {
		r, err := perform(e, ops.KvList{Prefix: c.prefix, After: c.after})
		e.NoError(err, "kv-list prefix %q after %q", c.prefix, c.after)
		e.Equal(c.want, entryKeys(r), "keys with prefix %q after %q", c.prefix, c.after)
	}
}

func kvListPaging(e *Env) {
	putAll(e, "k1", "k2", "k3", "k4", "k5", "l")
	var got []string
	var mores []bool
	after := ""
	for pages := 0; pages < 10; pages++ {
		r, err := perform(e, ops.KvList{Prefix: "k", After: after, Limit: 2})
		if !e.NoError(err, "kv-list after %q", after) {
			break
		}
		got = append(got, entryKeys(r)...)
		mores = append(mores, r.More)
		if !r.More || len(r.Entries) == 0 {
			break
		}
		after = r.Entries[len(r.Entries)-1].Key
	}
	e.Equal([]string{"k1", "k2", "k3", "k4", "k5"}, got, "keys in pages of 2")
	e.Equal([]bool{true, true, false}, mores, "More of each page")
	r, err := perform(e, ops.KvList{Prefix: "k", After: "k1", Limit: 4})
	e.NoError(err, "kv-list after k1, Limit 4")
	e.Equal(false, r.More, "More when the page holds exactly the rest")
}

func kvRevisionsRise(e *Env) {
	var revs []uint64
	add := func(r ops.KvResult, err error) {
		e.NoError(err, "kv change %d", len(revs)+1)
		revs = append(revs, r.Revision)
	}
	add(perform(e, ops.KvPut{Key: "a", Value: []byte("1")}))
	add(perform(e, ops.KvPut{Key: "b", Value: []byte("1")}))
	add(perform(e, ops.KvPut{Key: "a", Value: []byte("2")}))
	add(perform(e, ops.KvDelete{Key: "b"}))
	// An append-only commit does not touch kv and takes no revision.
	mustAppend(e, "s", ops.Any(), ev("t", "x"))
	c, err := perform(e, ops.Commit{Kv: []ops.KvChange{{Key: "c", Value: []byte("1")}, {Key: "d", Value: []byte("1")}}})
	e.NoError(err, "commit of two puts")
	revs = append(revs, c.Revision)
	add(perform(e, ops.KvPut{Key: "e", Value: []byte("1")}))
	e.Equal([]uint64{1, 2, 3, 4, 5, 6}, revs, "revisions of six kv commits")
	if len(c.Kv) == 2 {
		e.Equal([]uint64{5, 5}, []uint64{c.Kv[0].Revision, c.Kv[1].Revision}, "revisions of the commit's two puts")
	}
	e.Equal(uint64(3), mustGet(e, "a").Entry.Revision, "revision of a")
	e.Equal(uint64(5), mustGet(e, "d").Entry.Revision, "revision of d")
}

func kvRevisionNoReuse(e *Env) {
	first := mustPut(e, "k", "1")
	mustPut(e, "other", "x")
	d, err := perform(e, ops.KvDelete{Key: "k"})
	e.NoError(err, "delete")
	again := mustPut(e, "k", "1")
	e.True(again.Revision > d.Revision && d.Revision > first.Revision,
		"revisions of put %d, delete %d, put again %d do not rise", first.Revision, d.Revision, again.Revision)
	// A compare-and-set holding the first revision must not match the
	// re-created key.
	_, err = perform(e, ops.KvPut{Key: "k", Value: []byte("stale"), Expect: ops.Exact(first.Revision)})
	e.Conflict(err, ops.Conflict{Key: "k", Expected: ops.Exact(first.Revision), Actual: again.Revision}, "put expecting the key's revision before it was deleted")
}

func kvRevisionNoGap(e *Env) {
	a := mustPut(e, "k", "1")
	_, err := perform(e, ops.KvPut{Key: "k", Value: []byte("2"), Expect: ops.NoStream()})
	e.ErrorIs(err, ops.ErrConflict, "put expecting no key")
	_, err = perform(e, ops.Commit{Kv: []ops.KvChange{{Key: "x", Value: []byte("1")}, {Key: "k", Delete: true, Expect: ops.Exact(99)}}})
	e.ErrorIs(err, ops.ErrConflict, "commit with a stale delete")
	b := mustPut(e, "k", "3")
	e.Equal(a.Revision+1, b.Revision, "revision of the put after two refused kv changes")
}

func kvCASExact(e *Env) {
	w := mustPut(e, "k", "1")
	r, err := perform(e, ops.KvPut{Key: "k", Value: []byte("2"), Expect: ops.Exact(w.Revision)})
	e.NoError(err, "put expecting the current revision")
	before := observe(e)
	_, err = perform(e, ops.KvPut{Key: "k", Value: []byte("3"), Expect: ops.Exact(w.Revision)})
	e.Conflict(err, ops.Conflict{Key: "k", Expected: ops.Exact(w.Revision), Actual: r.Revision}, "put expecting a stale revision")
	unchanged(e, before, "after the stale put")
	_, err = perform(e, ops.KvPut{Key: "absent", Value: []byte("3"), Expect: ops.Exact(r.Revision)})
	e.Conflict(err, ops.Conflict{Key: "absent", Expected: ops.Exact(r.Revision), Actual: 0}, "put to an absent key expecting a revision")
	unchanged(e, before, "after the put to an absent key")
}

func kvCASNoStream(e *Env) {
	w, err := perform(e, ops.KvPut{Key: "k", Value: []byte("1"), Expect: ops.NoStream()})
	e.NoError(err, "put expecting an absent key")
	e.Equal(false, w.Existed, "Existed")
	before := observe(e)
	_, err = perform(e, ops.KvPut{Key: "k", Value: []byte("2"), Expect: ops.NoStream()})
	e.Conflict(err, ops.Conflict{Key: "k", Expected: ops.NoStream(), Actual: w.Revision}, "second put expecting an absent key")
	unchanged(e, before, "after the refused put")
}

func kvCASExists(e *Env) {
	_, err := perform(e, ops.KvPut{Key: "k", Value: []byte("1"), Expect: ops.Exists()})
	e.Conflict(err, ops.Conflict{Key: "k", Expected: ops.Exists(), Actual: 0}, "put expecting a present key, to an absent one")
	e.Equal(false, mustGet(e, "k").Found, "key after the refused put")
	mustPut(e, "k", "1")
	w, err := perform(e, ops.KvPut{Key: "k", Value: []byte("2"), Expect: ops.Exists()})
	e.NoError(err, "put expecting a present key")
	e.Equal(true, w.Existed, "Existed")
	e.Equal("2", string(mustGet(e, "k").Entry.Value), "value")
}

func kvCASDelete(e *Env) {
	w := mustPut(e, "k", "1")
	before := observe(e)
	_, err := perform(e, ops.KvDelete{Key: "k", Expect: ops.Exact(w.Revision + 7)})
	e.Conflict(err, ops.Conflict{Key: "k", Expected: ops.Exact(w.Revision + 7), Actual: w.Revision}, "delete expecting a wrong revision")
	_, err = perform(e, ops.KvDelete{Key: "k", Expect: ops.NoStream()})
	e.Conflict(err, ops.Conflict{Key: "k", Expected: ops.NoStream(), Actual: w.Revision}, "delete expecting an absent key")
	_, err = perform(e, ops.KvDelete{Key: "nope", Expect: ops.Exists()})
	e.Conflict(err, ops.Conflict{Key: "nope", Expected: ops.Exists(), Actual: 0}, "delete of an absent key expecting it present")
	unchanged(e, before, "after three refused deletes")
	d, err := perform(e, ops.KvDelete{Key: "k", Expect: ops.Exact(w.Revision)})
	e.NoError(err, "delete expecting the current revision")
	e.Equal(true, d.Existed, "Existed")
	e.Equal(false, mustGet(e, "k").Found, "Found after the delete")
	_, err = perform(e, ops.KvDelete{Key: "k", Expect: ops.NoStream()})
	e.NoError(err, "delete of an absent key expecting it absent")
}
