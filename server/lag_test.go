package server

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/mem"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// gatedWriter is a ResponseWriter whose writes block while its gate is
// shut: a follow writing to it lags behind its feed's ring as long as the
// test wants.
type gatedWriter struct {
	hdr     http.Header
	mu      sync.Mutex
	cond    *sync.Cond
	shut    bool
	waiting bool
	buf     bytes.Buffer
}

func newGatedWriter() *gatedWriter {
	w := &gatedWriter{hdr: http.Header{}}
	w.cond = sync.NewCond(&w.mu)
	return w
}

func (w *gatedWriter) Header() http.Header { return w.hdr }
func (w *gatedWriter) WriteHeader(int)     {}
func (w *gatedWriter) Flush()              {}

func (w *gatedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.shut {
		w.waiting = true
		w.cond.Wait()
	}
	w.waiting = false
	return w.buf.Write(p)
}

func (w *gatedWriter) setShut(shut bool) {
	w.mu.Lock()
	w.shut = shut
	w.cond.Broadcast()
	w.mu.Unlock()
}

// ids is the ids of the frames written so far.
func (w *gatedWriter) ids() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, line := range strings.Split(w.buf.String(), "\n") {
		if id, ok := strings.CutPrefix(line, "id: "); ok {
			out = append(out, id)
		}
	}
	return out
}

func (w *gatedWriter) blocked() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.waiting
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// A follow lagging inside its feed's ring never sends an event that the
// stream's max-count or max-age hid after the ring took it: the count
// moves with every append and the age with the clock, with no metadata
// write that would drop the ring.
func TestLaggingFollowLeavesOutWhatLimitsHideLater(t *testing.T) {
	type step struct {
		stream  string        // append one event to it ("": none)
		advance time.Duration // then move the clock on
	}
	cases := []struct {
		name     string
		meta     ops.StreamMeta
		source   string   // "" follows the global log
		before   []string // appended before the follow starts
		inflight string   // appended while the follow's write is held
		lag      []step   // appended while the follow is behind
		want     []string // ids sent
	}{
		{name: "max-count/stream", meta: ops.StreamMeta{MaxCount: 2}, source: "s",
			before: []string{"s"}, inflight: "s", lag: []step{{"s", 0}, {"s", 0}, {"s", 0}},
			want: []string{"1", "2", "4", "5"}},
		{name: "max-count/global", meta: ops.StreamMeta{MaxCount: 2}, source: "",
			before: []string{"o", "s"}, inflight: "s", lag: []step{{"o", 0}, {"s", 0}, {"s", 0}, {"s", 0}},
			want: []string{"1", "2", "3", "4", "6", "7"}},
		{name: "max-age/stream", meta: ops.StreamMeta{MaxAge: 10 * time.Second}, source: "s",
			before: []string{"s"}, inflight: "s", lag: []step{{"s", 5 * time.Second}, {"s", 7 * time.Second}},
			want: []string{"1", "2", "4"}},
		{name: "max-age/global", meta: ops.StreamMeta{MaxAge: 10 * time.Second}, source: "",
			before: []string{"o", "s"}, inflight: "s", lag: []step{{"o", 0}, {"s", 5 * time.Second}, {"s", 7 * time.Second}},
			want: []string{"1", "2", "3", "4", "6"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var clock atomic.Int64
			clock.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
			store := mem.New(mem.WithClock(func() time.Time { return time.Unix(0, clock.Load()).UTC() }))
			s, err := New(store, Options{Limits: Limits{Ping: time.Minute}})
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
			p := effect.Handle(context.Background())
			var last uint64 // position of the newest event
			app := func(stream string) {
				t.Helper()
				v, err := store.Handle(p, ops.Append{Stream: stream, Events: []ops.EventData{{Type: "t"}}})
				require.NoError(t, err)
				last = v.(ops.AppendResult).LastPos
				if c.source != "" {
					last = v.(ops.AppendResult).Head
				}
			}
			_, err = store.Handle(p, ops.StreamMetaWrite{Stream: "s", Meta: c.meta})
			require.NoError(t, err)
			for _, st := range c.before {
				app(st)
			}

			ctx, cancel := context.WithCancel(context.Background())
			req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/v1/follow?stream="+c.source, nil)
			req.RemoteAddr = "127.0.0.1:1"
			w := newGatedWriter()
			done := make(chan struct{})
			go func() { defer close(done); s.ServeHTTP(w, req) }()
			t.Cleanup(func() { w.setShut(false); cancel(); <-done })
			eventually(t, "the follow sends what was there", func() bool { return len(w.ids()) == len(c.before) })

			// Hold the follow's next write, then give it one to write.
			w.setShut(true)
			app(c.inflight)
			eventually(t, "the follow writes the new event", w.blocked)
			s.feedMu.Lock()
			f := s.feeds[c.source]
			s.feedMu.Unlock()
			require.NotNil(t, f)
			// The ring takes each event while it is still visible.
			for _, st := range c.lag {
				if st.stream != "" {
					app(st.stream)
					waitRing(t, f, last+1)
				}
				clock.Add(int64(st.advance))
			}

			w.setShut(false)
			want := c.want[len(c.want)-1]
			eventually(t, "the follow sends id "+want, func() bool {
				ids := w.ids()
				return len(ids) > 0 && ids[len(ids)-1] == want
			})
			assert.Equal(t, c.want, w.ids(), "only what is visible when sent")
		})
	}
}

// A metadata change that does not pass through the server (another writer
// of a shared store) drops no ring and marks no state stale: a follow sees
// it once the state it holds is older than the server's state bound, and
// leaves out what it hides from then on.
func TestLaggingFollowSeesOtherWritersMetadata(t *testing.T) {
	store := mem.New()
	s, err := New(store, Options{Limits: Limits{Ping: time.Minute}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	s.stateTTL = time.Nanosecond // every state is stale when a follow sends
	p := effect.Handle(context.Background())
	app := func() uint64 {
		t.Helper()
		v, err := store.Handle(p, ops.Append{Stream: "s", Events: []ops.EventData{{Type: "t"}}})
		require.NoError(t, err)
		return v.(ops.AppendResult).Head
	}
	app()

	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/v1/follow?stream=s", nil)
	req.RemoteAddr = "127.0.0.1:1"
	w := newGatedWriter()
	done := make(chan struct{})
	go func() { defer close(done); s.ServeHTTP(w, req) }()
	t.Cleanup(func() { w.setShut(false); cancel(); <-done })
	eventually(t, "the follow sends what was there", func() bool { return len(w.ids()) == 1 })

	w.setShut(true)
	app()
	eventually(t, "the follow writes the new event", w.blocked)
	s.feedMu.Lock()
	f := s.feeds["s"]
	s.feedMu.Unlock()
	require.NotNil(t, f)
	for range 2 {
		waitRing(t, f, app()+1)
	}
	// Straight to the store, as another server would.
	_, err = store.Handle(p, ops.StreamMetaWrite{Stream: "s", Meta: ops.StreamMeta{MaxCount: 1}})
	require.NoError(t, err)
	ids, _ := ringState(f)
	require.Equal(t, []uint64{2, 3, 4}, ids, "the ring still holds what the limit now hides")

	w.setShut(false)
	eventually(t, "the follow sends id 4", func() bool {
		ids := w.ids()
		return len(ids) > 0 && ids[len(ids)-1] == "4"
	})
	assert.Equal(t, []string{"1", "2", "4"}, w.ids())
}

// BenchmarkSendCheck is what the send-time check costs a follow for each
// ring entry of a stream without limits (the common case: no store read),
// beside one with a max-count (a state read and a clock-free decision
// once a batch of 100).
func BenchmarkSendCheck(b *testing.B) {
	store := mem.New()
	s, err := New(store, Options{})
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	p := effect.Handle(context.Background())
	_, err = store.Handle(p, ops.StreamMetaWrite{Stream: "limited", Meta: ops.StreamMeta{MaxCount: 1000}})
	require.NoError(b, err)
	for _, name := range []string{"plain", "limited"} {
		_, err = store.Handle(p, ops.Append{Stream: name, Events: []ops.EventData{{Type: "t"}}})
		require.NoError(b, err)
		r, err := s.readState(context.Background(), name)
		require.NoError(b, err)
		info := &streamInfo{stream: name}
		info.learn(r.StreamState, time.Now())
		entries := make([]*feedEntry, 100)
		for i := range entries {
			entries[i] = &feedEntry{id: uint64(i + 1), ev: ops.Event{Stream: name, Seq: 1}, info: info}
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				c := sendCheck{s: s, ctx: context.Background()}
				for _, e := range entries {
					if ok, err := c.visible(e); !ok || err != nil {
						b.Fatal(ok, err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(entries)), "ns/entry")
		})
	}
}
