package file

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// readCount counts the io/read-at effects that pass it.
type readCount struct{ n int }

func (c *readCount) Handle(p *effect.P, e effect.Effect) (any, error) {
	if _, ok := e.(platform.ReadAt); ok {
		c.n++
	}
	return nil, effect.ErrUnhandled
}

// oneByOne writes stream s one event per commit, between commits to
// other streams, so that no two of its records lie together.
func oneByOne(t *testing.T, e *env, n int) {
	big := make([]byte, 5000) // a gap wider than one read spans
	for i := range n {
		must(t, e, ops.Append{Stream: "s", Events: evs(fmt.Sprintf("s-%d", i))})
		must(t, e, ops.Append{Stream: "other", Events: []ops.EventData{{Type: "t", Data: big}}})
	}
}

// A stream written one event per commit is read from disk once; reading
// it again takes no IO, and gives the same events.
func TestReadCacheServesSmallRecords(t *testing.T) {
	c := &readCount{}
	e := newEnv(t, Options{}, c)
	oneByOne(t, e, 10)
	e.reopen(Options{})
	c.n = 0
	first := must(t, e, ops.Read{Stream: "s"})
	assert.Equal(t, 10, c.n, "one read per record")
	c.n = 0
	again := must(t, e, ops.Read{Stream: "s"})
	assert.Zero(t, c.n, "the records come from the cache")
	assert.Equal(t, first, again)
	var pg ops.Page
	lent := must(t, e, ops.Read{Stream: "s", Page: &pg})
	assert.Equal(t, first, lent)
	lent.Events[0].Data[0] = 'X' // the caller's memory: the cache keeps its own
	assert.Equal(t, first, must(t, e, ops.Read{Stream: "s"}))
	assert.Zero(t, c.n)

	// Records too big for the cache are read every time (a window, then
	// the rest of the record).
	c.n = 0
	must(t, e, ops.Read{Stream: "other", Limit: 3})
	must(t, e, ops.Read{Stream: "other", Limit: 3})
	assert.Equal(t, 12, c.n)
}

// With ReadCacheBytes negative nothing is kept; with a small budget the
// cache keeps no more than it.
func TestReadCacheBudget(t *testing.T) {
	c := &readCount{}
	e := newEnv(t, Options{ReadCacheBytes: -1}, c)
	oneByOne(t, e, 5)
	c.n = 0
	must(t, e, ops.Read{Stream: "s"})
	must(t, e, ops.Read{Stream: "s"})
	assert.Equal(t, 10, c.n, "no cache")
	assert.Zero(t, e.s.cache.used)

	e.reopen(Options{ReadCacheBytes: 200})
	c.n = 0
	r := must(t, e, ops.Read{Stream: "s"})
	require.Len(t, r.Events, 5)
	size := e.s.cache.used
	assert.Positive(t, size)
	assert.LessOrEqual(t, size, 200)
	must(t, e, ops.Read{Stream: "s"})
	assert.Greater(t, c.n, 5, "evicted records are read again")
	assert.LessOrEqual(t, e.s.cache.used, 200)
	checkCache(t, &e.s.cache)
}

// A record of many events of the stream is read in one io/read-at of its
// size, found from the position index, not a window and then the rest.
func TestReadOfBigRecordTakesOneRead(t *testing.T) {
	c := &readCount{}
	e := newEnv(t, Options{}, c)
	batch := make([]ops.EventData, 100)
	for i := range batch {
		batch[i] = ops.EventData{Type: "t", Data: make([]byte, 200)}
	}
	must(t, e, ops.Append{Stream: "s", Events: batch})
	must(t, e, ops.Append{Stream: "other", Events: evs("x")})
	c.n = 0
	r := must(t, e, ops.Read{Stream: "s", From: 91})
	require.Len(t, r.Events, 10)
	assert.Equal(t, 1, c.n)
}

// Readers share the cache while a writer appends: every read gives the
// stream's events in order, whether from the cache or the disk.
func TestReadCacheConcurrentReaders(t *testing.T) {
	e := newEnv(t, Options{ReadCacheBytes: 4 << 10})
	oneByOne(t, e, 20)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := perform(e, ops.Append{Stream: "s", Events: evs(fmt.Sprintf("s-%d", 20+i))}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for range 4 {
		wg.Go(func() {
			var pg ops.Page
			for range 50 {
				r, err := perform(e, ops.Read{Stream: "s", Page: &pg})
				if err != nil {
					t.Error(err)
					return
				}
				for i, ev := range r.Events {
					if string(ev.Data) != fmt.Sprintf("s-%d", i) {
						t.Errorf("seq %d holds %q", ev.Seq, ev.Data)
						return
					}
				}
			}
		})
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
}

// Close gives the caches' rings back while readers still run: a read
// after Close is ErrClosed, never a crash or bytes from freed memory.
func TestReadCacheClose(t *testing.T) {
	e := newEnv(t, Options{})
	oneByOne(t, e, 20)
	e.reopen(Options{})
	want := must(t, e, ops.Read{Stream: "s"})
	s, sp := e.s, e.sp()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				r, err := effect.Perform(sp, ops.Read{Stream: "s"})
				if err != nil {
					if !errors.Is(err, ops.ErrClosed) {
						t.Error(err)
					}
					return
				}
				if !assert.Equal(t, want, r) {
					return
				}
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, s.Close(e.p()))
	e.s = nil
	wg.Wait()
	assert.Nil(t, s.cache.ring, "the ring is given back")
	_, err := effect.Perform(sp, ops.Read{Stream: "s"})
	assert.ErrorIs(t, err, ops.ErrClosed)
}
