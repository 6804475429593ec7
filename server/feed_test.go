package server

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/mem"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// ringState is the ids in a feed's ring and its byte count.
func ringState(f *feed) (ids []uint64, bytes int) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, e := range f.ring {
		ids = append(ids, e.id)
	}
	return ids, f.bytes
}

// waitRing waits until the feed has seen the event before next.
func waitRing(t *testing.T, f *feed, next uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f.mu.RLock()
		seen := f.next
		f.mu.RUnlock()
		if seen >= next {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the feed never saw event %d", next-1)
		}
		time.Sleep(time.Millisecond)
	}
}

func seqs(from, to uint64) []uint64 {
	var out []uint64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// TestFeedRingBounds holds a feed's ring to its byte bound and its count
// bound, keeps the newest page whatever its size, and checks that a follow
// from before the ring still gets every event, in order, from the store.
func TestFeedRingBounds(t *testing.T) {
	store := mem.New()
	s, err := New(store, Options{})
	require.NoError(t, err)
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		hs.Close()
		_ = s.Shutdown(context.Background())
	})
	s.ringLen, s.ringBytes = 6, 10_000

	f, err := s.acquireFeed("s")
	require.NoError(t, err)
	defer s.releaseFeed(f)
	p := effect.Handle(context.Background())
	data := []byte(strings.Repeat("d", 3000))
	appendEvents := func(n int) uint64 {
		evs := make([]ops.EventData, n)
		for i := range evs {
			evs[i] = ops.EventData{Type: "t", Data: data}
		}
		v, err := store.Handle(p, ops.Append{Stream: "s", Events: evs})
		require.NoError(t, err)
		head := v.(ops.AppendResult).Head
		waitRing(t, f, head+1)
		return head
	}

	// One event a page: the byte bound (10,000) keeps the newest three
	// events of 3,000 bytes.
	for range 10 {
		appendEvents(1)
	}
	ids, bytes := ringState(f)
	assert.Equal(t, seqs(8, 10), ids, "the byte bound drops the oldest")
	assert.Equal(t, 9000, bytes)

	// A page over the byte bound is kept whole, and drops all before it.
	appendEvents(5)
	ids, bytes = ringState(f)
	assert.Equal(t, seqs(11, 15), ids, "the newest page stays whatever its size")
	assert.Equal(t, 15000, bytes)

	// Small events: the count bound (6) holds.
	s.ringBytes = feedRingBytes
	data = []byte("x")
	for range 8 {
		appendEvents(1)
	}
	ids, bytes = ringState(f)
	assert.Equal(t, seqs(18, 23), ids, "the count bound drops the oldest")
	assert.Equal(t, 6, bytes)

	// A follow from seq 1 reads the store up to the ring, then the ring.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, hs.URL+"/v1/follow?stream=s&from=1", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var got []uint64
	for len(got) < 23 && sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
			n, err := strconv.ParseUint(id, 10, 64)
			require.NoError(t, err)
			got = append(got, n)
		}
	}
	assert.Equal(t, seqs(1, 23), got, "every event once, in order")
}
