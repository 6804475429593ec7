package programs_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/programs"
)

// collector is a Follow handler that notes "stream#seq@pos" of each event.
type collector struct {
	mu   sync.Mutex
	got  []string
	each func(ops.Event) error
}

func (c *collector) handle(_ *effect.P, ev ops.Event) error {
	if c.each != nil {
		if err := c.each(ev); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, fmt.Sprintf("%s#%d@%d", ev.Stream, ev.Seq, ev.Pos))
	return nil
}

func (c *collector) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.got...)
}

func seqs(stream string, from, to int, pos func(int) int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("%s#%d@%d", stream, i, pos(i)))
	}
	return out
}

func same(i int) int { return i }

const idle = 20 * time.Millisecond

func TestFollowCatchUpStream(t *testing.T) {
	store := newStore(t)
	p := handle(t, store)
	mustAppend(t, p, "s", "a", "b", "c", "d")
	mustAppend(t, p, "other", "x")
	mustAppend(t, p, "s", "e", "f", "g")
	var c collector
	_, trace, err := inPlace(t, store, func(p *effect.P) (struct{}, error) {
		return struct{}{}, programs.Follow(p, programs.FollowOptions{Name: "f", Stream: "s", Batch: 3, Idle: idle, Handle: c.handle})
	})
	require.NoError(t, err)
	pos := func(i int) int { return map[int]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 6, 6: 7, 7: 8}[i] }
	assert.Equal(t, seqs("s", 1, 7, pos), c.list())
	assert.Equal(t, []string{
		ops.NameKvGet,
		"persist/read s@1", "persist/kv-put follow/f=3",
		"persist/read s@4", "persist/kv-put follow/f=6",
		"persist/read s@7", "persist/kv-put follow/f=7",
		"persist/read s@8", ops.NameWait,
	}, trace)
	v, _ := kvValue(t, store, "follow/f")
	assert.Equal(t, "7", v)
}

func TestFollowGlobal(t *testing.T) {
	store := newStore(t)
	p := handle(t, store)
	mustAppend(t, p, "a", "1", "2")
	mustAppend(t, p, "b", "3")
	mustAppend(t, p, "a", "4")
	var c collector
	err := programs.Follow(p, programs.FollowOptions{Name: "all", Idle: idle, Handle: c.handle})
	require.NoError(t, err)
	assert.Equal(t, []string{"a#1@1", "a#2@2", "b#1@3", "a#3@4"}, c.list())
	v, _ := kvValue(t, store, "follow/all")
	assert.Equal(t, "4", v, "the global checkpoint is a position")
}

func TestFollowSteppedMatchesInPlace(t *testing.T) {
	for _, stream := range []string{"s", ""} {
		t.Run("stream="+stream, func(t *testing.T) {
			got, err := both(t, func(p *effect.P) {
				mustAppend(t, p, "s", "a", "b")
				mustAppend(t, p, "t", "c")
				mustAppend(t, p, "s", "d")
			}, func(p *effect.P) ([]string, error) {
				var c collector
				err := programs.Follow(p, programs.FollowOptions{Name: "f", Stream: stream, Batch: 2, Idle: idle, Handle: c.handle})
				return c.list(), err
			})
			require.NoError(t, err)
			if stream == "" {
				assert.Equal(t, []string{"s#1@1", "s#2@2", "t#1@3", "s#3@4"}, got)
			} else {
				assert.Equal(t, []string{"s#1@1", "s#2@2", "s#3@4"}, got)
			}
		})
	}
}

// TestFollowLive catches up, then receives events appended by another
// goroutine while Follow waits, until the context ends.
func TestFollowLive(t *testing.T) {
	for _, stream := range []string{"s", ""} {
		t.Run("stream="+stream, func(t *testing.T) {
			store := newStore(t)
			mustAppend(t, handle(t, store), "s", "a", "b", "c")
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()

			waiting := make(chan struct{}, 16)
			onWait := intercept(func(_ *effect.P, e effect.Effect) error {
				if _, ok := e.(ops.Wait); ok {
					select {
					case waiting <- struct{}{}:
					default:
					}
				}
				return nil
			})
			delivered := make(chan ops.Event, 16)
			c := collector{each: func(ev ops.Event) error { delivered <- ev; return nil }}
			done := make(chan error, 1)
			go func() {
				done <- programs.Follow(effect.Handle(ctx, onWait, store), programs.FollowOptions{Name: "live", Stream: stream, Batch: 2, Handle: c.handle})
			}()

			for range 3 {
				<-delivered
			}
			for i := range 3 {
				<-waiting // Follow has caught up and waits
				mustAppend(t, handle(t, store), "s", fmt.Sprintf("live%d", i))
				ev := <-delivered
				assert.Equal(t, fmt.Sprintf("live%d", i), ev.Type)
			}
			require.Eventually(t, func() bool {
				v, _ := kvValue(t, store, "follow/live")
				return v == "6"
			}, 5*time.Second, time.Millisecond)
			cancel()
			err := <-done
			require.ErrorIs(t, err, context.Canceled)
			assert.Equal(t, seqs("s", 1, 6, same), c.list())
		})
	}
}

func TestFollowIdle(t *testing.T) {
	store := newStore(t)
	p := handle(t, store)
	start := time.Now()
	err := programs.Follow(p, programs.FollowOptions{Name: "quiet", Stream: "none", Idle: idle, Handle: func(*effect.P, ops.Event) error {
		t.Fatal("no event to handle")
		return nil
	}})
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), idle)
	_, found := kvValue(t, store, "follow/quiet")
	assert.False(t, found, "no event, no checkpoint")
}

func TestFollowRestartResumes(t *testing.T) {
	store := newStore(t)
	p := handle(t, store)
	mustAppend(t, p, "s", "a", "b", "c", "d")
	var first collector
	require.NoError(t, programs.Follow(p, programs.FollowOptions{Name: "r", Stream: "s", Idle: idle, Handle: first.handle}))
	assert.Equal(t, seqs("s", 1, 4, same), first.list())

	mustAppend(t, p, "s", "e", "f", "g")
	var second collector
	require.NoError(t, programs.Follow(p, programs.FollowOptions{Name: "r", Stream: "s", Idle: idle, Handle: second.handle}))
	assert.Equal(t, seqs("s", 5, 7, same), second.list(), "only the events after the checkpoint")

	var other collector
	require.NoError(t, programs.Follow(p, programs.FollowOptions{Name: "r2", Stream: "s", Idle: idle, Handle: other.handle}))
	assert.Equal(t, seqs("s", 1, 7, same), other.list(), "each name has its own checkpoint")
}

func TestFollowHandlerErrorStops(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		failAt     uint64
		checkpoint string
		found      bool
	}{
		{failAt: 5, checkpoint: "4", found: true}, // mid-batch: written before returning
		{failAt: 4, checkpoint: "3", found: true}, // first of a batch: the last batch's
		{failAt: 1, found: false},                 // nothing handled yet
	} {
		t.Run(fmt.Sprint(tc.failAt), func(t *testing.T) {
			store := newStore(t)
			p := handle(t, store)
			mustAppend(t, p, "s", "a", "b", "c", "d", "e", "f", "g")
			c := collector{each: func(ev ops.Event) error {
				if ev.Seq == tc.failAt {
					return boom
				}
				return nil
			}}
			err := programs.Follow(p, programs.FollowOptions{Name: "e", Stream: "s", Batch: 3, Idle: idle, Handle: c.handle})
			require.ErrorIs(t, err, boom)
			assert.Contains(t, err.Error(), fmt.Sprintf("handle s#%d", tc.failAt))
			assert.Equal(t, seqs("s", 1, int(tc.failAt)-1, same), c.list())
			v, found := kvValue(t, store, "follow/e")
			assert.Equal(t, tc.found, found)
			assert.Equal(t, tc.checkpoint, v)

			var again collector
			require.NoError(t, programs.Follow(p, programs.FollowOptions{Name: "e", Stream: "s", Batch: 3, Idle: idle, Handle: again.handle}))
			assert.Equal(t, seqs("s", int(tc.failAt), 7, same), again.list(), "restart begins at the failed event")
		})
	}
}

// TestFollowRedeliversAfterCrash fails the second checkpoint write, as a
// crash between handling and checkpoint would: the events of that batch
// are delivered again on restart (at-least-once).
func TestFollowRedeliversAfterCrash(t *testing.T) {
	store := newStore(t)
	p := handle(t, store)
	mustAppend(t, p, "s", "a", "b", "c", "d", "e", "f", "g")
	crash := errors.New("crash")
	crashAt6 := intercept(func(_ *effect.P, e effect.Effect) error {
		if put, ok := e.(ops.KvPut); ok && put.Key == "follow/c" && string(put.Value) == "6" {
			return crash
		}
		return nil
	})
	var first collector
	err := programs.Follow(handle(t, crashAt6, store), programs.FollowOptions{Name: "c", Stream: "s", Batch: 3, Idle: idle, Handle: first.handle})
	require.ErrorIs(t, err, crash)
	assert.Equal(t, seqs("s", 1, 6, same), first.list())
	v, _ := kvValue(t, store, "follow/c")
	assert.Equal(t, "3", v)

	var second collector
	require.NoError(t, programs.Follow(p, programs.FollowOptions{Name: "c", Stream: "s", Batch: 3, Idle: idle, Handle: second.handle}))
	assert.Equal(t, seqs("s", 4, 7, same), second.list(), "4..6 are delivered again")
}

// TestFollowFencesSameName lets another follower of the same name advance
// the checkpoint: this one stops with a conflict rather than overwrite it.
func TestFollowFencesSameName(t *testing.T) {
	store := newStore(t)
	p := handle(t, store)
	mustAppend(t, p, "s", "a", "b")
	other := intercept(func(p *effect.P, e effect.Effect) error {
		if put, ok := e.(ops.KvPut); ok && put.Key == "follow/x" && string(put.Value) == "1" {
			_, err := effect.Perform(p, ops.KvPut{Key: "follow/x", Value: []byte("2")})
			return err
		}
		return nil
	})
	var c collector
	err := programs.Follow(handle(t, other, store), programs.FollowOptions{Name: "x", Stream: "s", Batch: 1, Idle: idle, Handle: c.handle})
	var conflict *ops.Conflict
	require.ErrorAs(t, err, &conflict)
	assert.Equal(t, "follow/x", conflict.Key)
	v, _ := kvValue(t, store, "follow/x")
	assert.Equal(t, "2", v)
}

func TestFollowBadCheckpoint(t *testing.T) {
	store := newStore(t)
	p := handle(t, store)
	mustAppend(t, p, "s", "a", "b", "c")
	never := func(*effect.P, ops.Event) error { t.Fatal("handled"); return nil }

	_, err := programs.Put(p, "follow/ahead", []byte("99"))
	require.NoError(t, err)
	err = programs.Follow(p, programs.FollowOptions{Name: "ahead", Stream: "s", Idle: idle, Handle: never})
	require.ErrorIs(t, err, programs.ErrAhead)
	err = programs.Follow(p, programs.FollowOptions{Name: "ahead", Idle: idle, Handle: never})
	require.ErrorIs(t, err, programs.ErrAhead, "global log too")

	_, err = programs.Put(p, "follow/junk", []byte("three"))
	require.NoError(t, err)
	err = programs.Follow(p, programs.FollowOptions{Name: "junk", Stream: "s", Idle: idle, Handle: never})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is not a position")
}

func TestFollowInvalidOptions(t *testing.T) {
	p := handle(t, newStore(t))
	h := func(*effect.P, ops.Event) error { return nil }
	for name, opts := range map[string]programs.FollowOptions{
		"empty name":    {Stream: "s", Handle: h},
		"nil handle":    {Name: "n", Stream: "s"},
		"negative idle": {Name: "n", Idle: -time.Second, Handle: h},
		"batch -1":      {Name: "n", Batch: -1, Handle: h},
		"batch huge":    {Name: "n", Batch: ops.MaxPage + 1, Handle: h},
		"bad stream":    {Name: "n", Stream: "a\x00", Idle: idle, Handle: h},
		"bad name":      {Name: "a\x00", Idle: idle, Handle: h},
	} {
		t.Run(name, func(t *testing.T) {
			var inv *ops.InvalidError
			require.ErrorAs(t, programs.Follow(p, opts), &inv)
		})
	}
}

// FuzzFollowCheckpoint feeds Follow arbitrary checkpoint bytes: it either
// refuses them with an error or delivers exactly the events after the
// position they name.
func FuzzFollowCheckpoint(f *testing.F) {
	for _, s := range []string{"0", "2", "5", "6", "", "-1", "+3", "03", "1e3", "18446744073709551615", "18446744073709551616", " 2"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, cp []byte) {
		store := newStore(t)
		p := handle(t, store)
		mustAppend(t, p, "s", "a", "b", "c", "d", "e")
		if _, err := programs.Put(p, "follow/z", cp); err != nil {
			return
		}
		var c collector
		err := programs.Follow(p, programs.FollowOptions{Name: "z", Stream: "s", Idle: time.Millisecond, Handle: c.handle})
		if err != nil {
			assert.Empty(t, c.list())
			return
		}
		var n int
		_, scanErr := fmt.Sscan(string(cp), &n)
		require.NoError(t, scanErr)
		require.LessOrEqual(t, n, 5)
		if n < 5 {
			assert.Equal(t, seqs("s", n+1, 5, same), c.list())
		} else {
			assert.Empty(t, c.list())
		}
	})
}

func TestFollowHandlerAndCheckpointErrorsJoin(t *testing.T) {
	store := newStore(t)
	p := handle(t, store)
	mustAppend(t, p, "s", "a", "b", "c")
	boom, full := errors.New("boom"), errors.New("disk full")
	failPut := intercept(func(_ *effect.P, e effect.Effect) error {
		if _, ok := e.(ops.KvPut); ok {
			return full
		}
		return nil
	})
	c := collector{each: func(ev ops.Event) error {
		if ev.Seq == 2 {
			return boom
		}
		return nil
	}}
	err := programs.Follow(handle(t, failPut, store), programs.FollowOptions{Name: "j", Stream: "s", Idle: idle, Handle: c.handle})
	assert.ErrorIs(t, err, boom)
	assert.ErrorIs(t, err, full)
	_, found := kvValue(t, store, "follow/j")
	assert.False(t, found)
}
