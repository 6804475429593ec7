package programs_test

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/programs"
)

func TestKvBasics(t *testing.T) {
	type seen struct {
		Before, After  bool
		Value, Def     string
		Entry, Missing ops.KvEntry
		Put, Del, Del2 ops.KvResult
		Found, Found2  bool
	}
	got, err := both(t, nil, func(p *effect.P) (seen, error) {
		var s seen
		var err error
		if s.Before, err = programs.Has(p, "user/1"); err != nil {
			return s, err
		}
		if s.Put, err = programs.Put(p, "user/1", []byte("ada")); err != nil {
			return s, err
		}
		if s.After, err = programs.Has(p, "user/1"); err != nil {
			return s, err
		}
		if s.Entry, s.Found, err = programs.Get(p, "user/1"); err != nil {
			return s, err
		}
		v, err := programs.GetOr(p, "user/1", []byte("nobody"))
		if err != nil {
			return s, err
		}
		s.Value = string(v)
		d, err := programs.GetOr(p, "user/2", []byte("nobody"))
		if err != nil {
			return s, err
		}
		s.Def = string(d)
		if s.Del, err = programs.Delete(p, "user/1"); err != nil {
			return s, err
		}
		if s.Del2, err = programs.Delete(p, "user/1"); err != nil {
			return s, err
		}
		s.Missing, s.Found2, err = programs.Get(p, "user/1")
		return s, err
	})
	require.NoError(t, err)
	assert.False(t, got.Before)
	assert.True(t, got.After)
	assert.True(t, got.Found)
	assert.Equal(t, ops.KvEntry{Key: "user/1", Value: []byte("ada"), Revision: got.Put.Revision}, got.Entry)
	assert.Equal(t, "ada", got.Value)
	assert.Equal(t, "nobody", got.Def)
	assert.True(t, got.Del.Existed)
	assert.False(t, got.Del2.Existed, "deleting an absent key is not an error")
	assert.False(t, got.Found2)
	assert.Equal(t, ops.KvEntry{Key: "user/1"}, got.Missing)
}

func TestPutIfAndDeleteIfConflicts(t *testing.T) {
	p := handle(t, newStore(t))
	r1, err := programs.PutIf(p, "k", []byte("1"), ops.NoStream())
	require.NoError(t, err)
	_, err = programs.PutIf(p, "k", []byte("2"), ops.NoStream())
	var c *ops.Conflict
	require.ErrorAs(t, err, &c)
	assert.Equal(t, &ops.Conflict{Key: "k", Expected: ops.NoStream(), Actual: r1.Revision}, c)

	r2, err := programs.PutIf(p, "k", []byte("2"), ops.Exact(r1.Revision))
	require.NoError(t, err)
	assert.Greater(t, r2.Revision, r1.Revision)

	_, err = programs.DeleteIf(p, "k", ops.Exact(r1.Revision))
	require.ErrorAs(t, err, &c)
	assert.Equal(t, r2.Revision, c.Actual)
	v, err := programs.GetOr(p, "k", nil)
	require.NoError(t, err)
	assert.Equal(t, "2", string(v), "a failed delete writes nothing")

	_, err = programs.DeleteIf(p, "k", ops.Exact(r2.Revision))
	require.NoError(t, err)
	has, err := programs.Has(p, "k")
	require.NoError(t, err)
	assert.False(t, has)
}

func TestKeysPages(t *testing.T) {
	const n = 2100 // three pages of ops.DefaultPage
	store := newStore(t)
	var c ops.Commit
	for i := range n {
		c.Kv = append(c.Kv, ops.KvChange{Key: fmt.Sprintf("k/%05d", n-1-i), Value: []byte(strconv.Itoa(i))})
	}
	c.Kv = append(c.Kv, ops.KvChange{Key: "j", Value: []byte("x")}, ops.KvChange{Key: "l/1", Value: []byte("y")})
	_, err := store.Commit(c)
	require.NoError(t, err)

	keys, trace, err := inPlace(t, store, func(p *effect.P) ([]string, error) { return programs.Keys(p, "k/") })
	require.NoError(t, err)
	require.Len(t, keys, n)
	for i, k := range keys {
		require.Equal(t, fmt.Sprintf("k/%05d", i), k)
	}
	assert.Equal(t, 3, count(trace, ops.NameKvList))

	entries, err := programs.List(handle(t, store), "k/0000")
	require.NoError(t, err)
	require.Len(t, entries, 10)
	assert.Equal(t, "k/00003", entries[3].Key)
	assert.Equal(t, strconv.Itoa(n-1-3), string(entries[3].Value))

	all, err := programs.Keys(handle(t, store), "")
	require.NoError(t, err)
	assert.Len(t, all, n+2)
	none, err := programs.Keys(handle(t, store), "zz")
	require.NoError(t, err)
	assert.Nil(t, none)
}

func increment(old []byte, found bool) ([]byte, error) {
	n := 0
	if found {
		var err error
		if n, err = strconv.Atoi(string(old)); err != nil {
			return nil, err
		}
	}
	return []byte(strconv.Itoa(n + 1)), nil
}

func TestUpdate(t *testing.T) {
	type seen struct {
		Founds []bool
		Value  string
		Res    ops.KvResult
	}
	got, err := both(t, nil, func(p *effect.P) (seen, error) {
		var s seen
		for range 3 {
			res, err := programs.Update(p, "ctr", 3, func(old []byte, found bool) ([]byte, error) {
				s.Founds = append(s.Founds, found)
				return increment(old, found)
			})
			if err != nil {
				return s, err
			}
			s.Res = res
		}
		v, err := programs.GetOr(p, "ctr", nil)
		s.Value = string(v)
		return s, err
	})
	require.NoError(t, err)
	assert.Equal(t, []bool{false, true, true}, got.Founds)
	assert.Equal(t, "3", got.Value)
	assert.True(t, got.Res.Existed)

	store := newStore(t)
	p := handle(t, store)
	_, err = programs.Put(p, "ctr", []byte("not a number"))
	require.NoError(t, err)
	_, err = programs.Update(p, "ctr", 3, increment)
	var numErr *strconv.NumError
	require.ErrorAs(t, err, &numErr, "f's error comes back")
	v, _ := kvValue(t, store, "ctr")
	assert.Equal(t, "not a number", v, "a failed f writes nothing")
}

// rival is a middleware that lets another writer put key before each of
// the first n puts of key that pass through it.
func rival(key string, n int) effect.Handler {
	return intercept(func(p *effect.P, e effect.Effect) error {
		if put, ok := e.(ops.KvPut); ok && put.Key == key && n > 0 {
			n--
			_, err := effect.Perform(p, ops.KvPut{Key: key, Value: []byte("100")})
			return err
		}
		return nil
	})
}

func TestUpdateRetriesOnConflict(t *testing.T) {
	store := newStore(t)
	calls := 0
	res, err := programs.Update(handle(t, rival("ctr", 1), store), "ctr", 3, func(old []byte, found bool) ([]byte, error) {
		calls++
		return increment(old, found)
	})
	require.NoError(t, err)
	assert.Equal(t, 2, calls)
	v, _ := kvValue(t, store, "ctr")
	assert.Equal(t, "101", v, "the retry saw the rival's value")
	assert.True(t, res.Existed, "the rival had created the key")

	store = newStore(t)
	calls = 0
	_, err = programs.Update(handle(t, rival("ctr", 10), store), "ctr", 4, func(old []byte, found bool) ([]byte, error) {
		calls++
		return increment(old, found)
	})
	require.ErrorIs(t, err, programs.ErrRetriesExhausted)
	var c *ops.Conflict
	require.ErrorAs(t, err, &c)
	assert.Equal(t, "ctr", c.Key)
	assert.Equal(t, 4, calls)
	v, _ = kvValue(t, store, "ctr")
	assert.Equal(t, "100", v)
}

func TestUpdateConcurrent(t *testing.T) {
	const workers, each = 6, 20
	store := newStore(t)
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for range workers {
		wg.Go(func() {
			p := handle(t, store)
			for range each {
				_, err := programs.Update(p, "ctr", 1000, increment)
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	v, _ := kvValue(t, store, "ctr")
	assert.Equal(t, strconv.Itoa(workers*each), v)
}

func TestKvInvalidPassesThrough(t *testing.T) {
	store := newStore(t)
	p := handle(t, store)
	runs := map[string]func() error{
		"get":    func() error { _, _, err := programs.Get(p, ""); return err },
		"put":    func() error { _, err := programs.Put(p, "", []byte("x")); return err },
		"putif":  func() error { _, err := programs.PutIf(p, "k", nil, ops.Expect{Kind: 9}); return err },
		"delete": func() error { _, err := programs.Delete(p, ""); return err },
		"has":    func() error { _, err := programs.Has(p, "a\x00"); return err },
		"getor":  func() error { _, err := programs.GetOr(p, "", nil); return err },
		"keys":   func() error { _, err := programs.Keys(p, "a\x00"); return err },
		"big":    func() error { _, err := programs.Put(p, "k", make([]byte, ops.MaxDataBytes+1)); return err },
		"update": func() error {
			_, err := programs.Update(p, "", 3, func([]byte, bool) ([]byte, error) { return nil, nil })
			return err
		},
		"update value": func() error {
			_, err := programs.Update(p, "k", 3, func([]byte, bool) ([]byte, error) { return make([]byte, ops.MaxDataBytes+1), nil })
			return err
		},
	}
	for name, run := range runs {
		t.Run(name, func(t *testing.T) {
			err := run()
			var inv *ops.InvalidError
			require.ErrorAs(t, err, &inv)
			assert.True(t, errors.Is(err, ops.ErrInvalid))
		})
	}
	keys, err := programs.Keys(p, "")
	require.NoError(t, err)
	assert.Nil(t, keys, "nothing was written")
}
