package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/mem"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/server"
	"rose-ash.com/persist/sx"
)

func newServer(t *testing.T, opts server.Options) (*server.Server, *httptest.Server, ops.Backend) {
	t.Helper()
	store := mem.New()
	srv, err := server.New(store, opts)
	require.NoError(t, err)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		_ = srv.Shutdown(context.Background())
	})
	return srv, hs, store
}

// post sends body with the content type and returns status, content type
// and body of the answer.
func post(t *testing.T, url, path, ctype, body string, hdr ...string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+path, strings.NewReader(body))
	require.NoError(t, err)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

func head(t *testing.T, store ops.Backend, stream string) uint64 {
	t.Helper()
	h, err := effect.Perform(effect.Handle(context.Background(), store), ops.Head{Stream: stream})
	require.NoError(t, err)
	return h
}

func TestOpSXAndJSON(t *testing.T) {
	_, hs, store := newServer(t, server.Options{})
	code, ct, body := post(t, hs.URL, "/v1/op", server.MediaSX,
		`(persist/append {:stream "orders" :expect "no-stream" :events [{:type "placed" :data "{:order 17}"}]})`)
	assert.Equal(t, 200, code)
	assert.Equal(t, server.MediaSX, ct)
	assert.Equal(t, `{:first-pos 1 :first-seq 1 :head 1 :last-pos 1 :stream "orders"}`, body)

	code, ct, body = post(t, hs.URL, "/v1/op", server.MediaJSON, `["persist/read",{"stream":"orders"}]`)
	assert.Equal(t, 200, code)
	assert.Equal(t, server.MediaJSON, ct)
	assert.Contains(t, body, `"data":"{:order 17}"`)
	assert.Contains(t, body, `"head":1`)

	// Accept chooses the answer's notation.
	code, ct, body = post(t, hs.URL, "/v1/op", server.MediaJSON, `["persist/head",{"stream":"orders"}]`, "Accept", server.MediaSX)
	assert.Equal(t, 200, code)
	assert.Equal(t, server.MediaSX, ct)
	assert.Equal(t, "1", body)

	// An absent key is nil; an op without fields is its name alone.
	_, _, body = post(t, hs.URL, "/v1/op", server.MediaSX, `(persist/kv-get {:key "none"})`)
	assert.Equal(t, "nil", body)
	code, _, _ = post(t, hs.URL, "/v1/op", server.MediaJSON, `["persist/now"]`)
	assert.Equal(t, 200, code)
	assert.Equal(t, uint64(1), head(t, store, "orders"))
}

func TestErrorAnswers(t *testing.T) {
	_, hs, store := newServer(t, server.Options{})
	_, _, _ = post(t, hs.URL, "/v1/op", server.MediaSX, `(persist/append {:stream "s" :events [{:type "t"}]})`)
	cases := []struct {
		name, ctype, body string
		code              int
		want              []string
	}{
		{"conflict", server.MediaSX, `(persist/append {:stream "s" :expect "no-stream" :events [{:type "t"}]})`, 409,
			[]string{`:error "conflict"`, `:expected "no-stream"`, `:actual 1`, `:stream "s"`, `expected no stream (head 0), actual head 1`}},
		{"kv conflict", server.MediaSX, `(persist/kv-put {:key "k" :value "v" :expect "7"})`, 409,
			[]string{`:error "conflict"`, `:key "k"`, `:expected "7"`, `:actual 0`}},
		{"invalid op", server.MediaSX, `(persist/append {:stream "" :events [{:type "t"}]})`, 400,
			[]string{`:error "invalid"`, `:field "stream"`, `:op "persist/append"`}},
		{"wrong field type", server.MediaSX, `(persist/append {:stream "s" :events [{:type 3}]})`, 400,
			[]string{`:error "invalid"`, `:field "events[0].type"`, `want string, got int64`}},
		{"unknown field", server.MediaJSON, `["persist/head",{"stream":"s","bogus":1}]`, 400,
			[]string{`"error":"invalid"`, `unknown key :bogus`}},
		{"nil event id", server.MediaSX, `(persist/append {:stream "s" :events [{:id "00000000-0000-0000-0000-000000000000" :type "t"}]})`, 400,
			[]string{`:error "invalid"`, `:field "events[0].id"`, `nil UUID`}},
		{"nil event id in JSON", server.MediaJSON, `["persist/append",{"stream":"s","events":[{"type":"t"},{"id":"00000000-0000-0000-0000-000000000000","type":"t"}]}]`, 400,
			[]string{`"error":"invalid"`, `"field":"events[1].id"`}},
		{"nil event id in a commit", server.MediaSX, `(persist/commit {:appends [{:stream "s" :events [{:id "00000000-0000-0000-0000-000000000000" :type "t"}]}]})`, 400,
			[]string{`:error "invalid"`, `:field "appends[0].events[0].id"`}},
		{"bad expect", server.MediaSX, `(persist/append {:stream "s" :expect "soon" :events [{:type "t"}]})`, 400,
			[]string{`:error "invalid"`, `:field "expect"`}},
		{"not SX", server.MediaSX, `(persist/head {:stream "s"`, 400,
			[]string{`:error "invalid"`, `:field "body"`}},
		{"not JSON", server.MediaJSON, `["persist/head",`, 400,
			[]string{`"error":"invalid"`, `"field":"body"`}},
		{"not an op", server.MediaSX, `{:stream "s"}`, 400,
			[]string{`:error "invalid"`, `:field "body"`}},
		{"unknown op", server.MediaSX, `(persist/teleport {})`, 400,
			[]string{`:error "unknown-op"`, `:op "persist/teleport"`}},
		{"other notation", "text/plain", `hello`, 415,
			[]string{`:error "notation"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, body := post(t, hs.URL, "/v1/op", c.ctype, c.body)
			assert.Equal(t, c.code, code, body)
			for _, w := range c.want {
				assert.Contains(t, body, w)
			}
		})
	}
	assert.Equal(t, uint64(1), head(t, store, "s"), "nothing written by refused requests")

	code, _, body := post(t, hs.URL, "/v2/op", server.MediaSX, `(persist/now)`)
	assert.Equal(t, 404, code, body)
	resp, err := http.Get(hs.URL + "/v1/op")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 405, resp.StatusCode)
}

func TestClosedStore(t *testing.T) {
	_, hs, store := newServer(t, server.Options{})
	require.NoError(t, store.Close())
	code, _, body := post(t, hs.URL, "/v1/op", server.MediaSX, `(persist/head {:stream "s"})`)
	assert.Equal(t, 503, code)
	assert.Contains(t, body, `:error "closed"`)
	resp, err := http.Get(hs.URL + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 503, resp.StatusCode)
}

func TestBatch(t *testing.T) {
	_, hs, store := newServer(t, server.Options{Limits: server.Limits{Batch: 3}})
	code, _, body := post(t, hs.URL, "/v1/batch", server.MediaSX,
		`[(persist/append {:stream "a" :events [{:type "t"}]}) (persist/read {:stream ""}) (persist/kv-get {:key "k"})]`)
	require.Equal(t, 200, code, body)
	v, err := sx.Read(body)
	require.NoError(t, err)
	items, ok := v.(sx.Vector)
	require.True(t, ok, body)
	require.Len(t, items, 3)
	assert.Contains(t, sx.Print(items[0]), `{:ok {:first-pos 1`)
	assert.Contains(t, sx.Print(items[1]), `:error "invalid"`)
	assert.Equal(t, `{:ok nil}`, sx.Print(items[2]))
	assert.Equal(t, uint64(1), head(t, store, "a"), "the batch is not atomic: the good append stands")

	code, _, body = post(t, hs.URL, "/v1/batch", server.MediaJSON,
		`[["persist/now"],["persist/now"],["persist/now"],["persist/now"]]`)
	assert.Equal(t, 413, code)
	assert.Contains(t, body, `"limit":"batch"`)
	code, _, body = post(t, hs.URL, "/v1/batch", server.MediaJSON, `{"a":1}`)
	assert.Equal(t, 400, code, body)
}

func TestBodyLimit(t *testing.T) {
	_, hs, store := newServer(t, server.Options{Limits: server.Limits{Body: 100, Data: 10}})
	code, _, body := post(t, hs.URL, "/v1/op", server.MediaSX,
		`(persist/append {:stream "s" :events [{:type "t" :data "`+strings.Repeat("x", 200)+`"}]})`)
	assert.Equal(t, 413, code)
	assert.Contains(t, body, `:limit "body"`)
	code, _, body = post(t, hs.URL, "/v1/op", server.MediaSX, `(persist/append {:stream "s" :events [{:type "t" :data "0123456789A"}]})`)
	assert.Equal(t, 413, code)
	assert.Contains(t, body, `:limit "data"`)
	assert.Equal(t, uint64(0), head(t, store, "s"))
}

func TestWaitLongPoll(t *testing.T) {
	_, hs, store := newServer(t, server.Options{Limits: server.Limits{Request: 2 * time.Second, Wait: 200 * time.Millisecond}})
	// Timeout 0 would wait for ever on an embedded store: the server ends
	// it at its wait limit, answered as a timeout.
	start := time.Now()
	code, _, body := post(t, hs.URL, "/v1/op", server.MediaSX, `(persist/wait {:stream "s" :after 0})`)
	assert.Equal(t, 200, code)
	assert.Equal(t, `{:head 0 :passed false}`, body)
	assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)

	done := make(chan string, 1)
	go func() {
		_, _, body := post(t, hs.URL, "/v1/op", server.MediaSX, `(persist/wait {:stream "s" :after 0 :timeout 10000000000})`)
		done <- body
	}()
	time.Sleep(50 * time.Millisecond)
	_, err := effect.Perform(effect.Handle(context.Background(), store), ops.Append{Stream: "s", Events: []ops.EventData{{Type: "t"}}})
	require.NoError(t, err)
	select {
	case body := <-done:
		assert.Equal(t, `{:head 1 :passed true}`, body)
	case <-time.After(5 * time.Second):
		t.Fatal("the wait was not woken")
	}
}

// sseEvent is one event of a follow.
type sseEvent struct{ id, kind, data string }

func readEvents(t *testing.T, r *bufio.Reader, n int) []sseEvent {
	t.Helper()
	var out []sseEvent
	var cur sseEvent
	for len(out) < n {
		line, err := r.ReadString('\n')
		require.NoError(t, err)
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if cur.kind != "" {
				out = append(out, cur)
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "id: "):
			cur.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			cur.kind = line[7:]
		case strings.HasPrefix(line, "data: "):
			cur.data = line[6:]
		}
	}
	return out
}

func TestFollowResumesAndEndsOnShutdown(t *testing.T) {
	srv, hs, store := newServer(t, server.Options{Limits: server.Limits{Ping: 50 * time.Millisecond}})
	p := effect.Handle(context.Background(), store)
	for range 3 {
		_, err := effect.Perform(p, ops.Append{Stream: "s", Events: []ops.EventData{{Type: "t"}}})
		require.NoError(t, err)
	}
	req, err := http.NewRequest(http.MethodGet, hs.URL+"/v1/follow?stream=s", nil)
	require.NoError(t, err)
	req.Header.Set("Last-Event-ID", "1")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, server.MediaEvents, resp.Header.Get("Content-Type"))
	r := bufio.NewReader(resp.Body)
	evs := readEvents(t, r, 2)
	assert.Equal(t, "2", evs[0].id, "resumes after Last-Event-ID")
	assert.Equal(t, "3", evs[1].id)
	assert.Contains(t, evs[1].data, `:seq 3`)

	_, err = effect.Perform(p, ops.Append{Stream: "s", Events: []ops.EventData{{Type: "live"}}})
	require.NoError(t, err)
	evs = readEvents(t, r, 1)
	assert.Equal(t, "4", evs[0].id)
	assert.Contains(t, evs[0].data, `:type "live"`)

	go func() { _ = srv.Shutdown(context.Background()) }()
	evs = readEvents(t, r, 1)
	assert.Equal(t, "end", evs[0].kind)
	assert.Equal(t, `{:next 5 :reason "shutdown"}`, evs[0].data)
}

func TestShutdownRefusesNewRequestsAndClosesStore(t *testing.T) {
	srv, hs, store := newServer(t, server.Options{})
	require.NoError(t, srv.Shutdown(context.Background()))
	code, _, body := post(t, hs.URL, "/v1/op", server.MediaSX, `(persist/head {:stream "s"})`)
	assert.Equal(t, 503, code)
	assert.Contains(t, body, `:error "unavailable"`)
	_, err := effect.Perform(effect.Handle(context.Background(), store), ops.Head{Stream: "s"})
	assert.ErrorIs(t, err, ops.ErrClosed)
}

// TestShutdownTwiceAtOnce: a second Shutdown while the first runs waits
// for it and answers as it does, the store closed by then.
func TestShutdownTwiceAtOnce(t *testing.T) {
	srv, _, store := newServer(t, server.Options{})
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- srv.Shutdown(context.Background()) }()
	}
	for range 2 {
		require.NoError(t, <-errs)
		_, err := effect.Perform(effect.Handle(context.Background(), store), ops.Head{Stream: "s"})
		assert.ErrorIs(t, err, ops.ErrClosed, "a Shutdown returned before the store was closed")
	}
}

func TestCheckListen(t *testing.T) {
	srv, err := server.New(mem.New(), server.Options{})
	require.NoError(t, err)
	for _, ok := range []string{"127.0.0.1:7070", "[::1]:0", "localhost:1", "127.3.4.5:80"} {
		assert.NoError(t, srv.CheckListen(ok), ok)
	}
	for _, bad := range []string{":7070", "0.0.0.0:7070", "[::]:1", "10.0.0.1:80", "example.com:80"} {
		assert.ErrorIs(t, srv.CheckListen(bad), server.ErrNotLoopback, bad)
	}
}

func TestEveryOpHasADecoder(t *testing.T) {
	names := []string{ops.NameAppend, ops.NameRead, ops.NameReadAll, ops.NameHead, ops.NameStreams, ops.NameWait,
		ops.NameKvGet, ops.NameKvPut, ops.NameKvDelete, ops.NameKvList, ops.NameSnapshotRead, ops.NameSnapshotWrite,
		ops.NameSnapshotNames, ops.NameNow, ops.NameCommit,
		ops.NameStreamMetaRead, ops.NameStreamMetaWrite, ops.NameStreamDelete, ops.NameKvHistory, ops.NameKvWatch,
		ops.NameKvWait, ops.NameSnapshotGenerations, ops.NameStat}
	assert.ElementsMatch(t, names, server.OpNames())
}

func memStoreForAuth() ops.Backend { return mem.New() }

// TestShutdownDrainsInFlight shuts the server down while a long poll is
// in flight: the poll is answered (as a timeout, with the head), not cut,
// and only then is the store closed.
func TestShutdownDrainsInFlight(t *testing.T) {
	store := mem.New()
	srv, err := server.New(store, server.Options{})
	require.NoError(t, err)
	hs := httptest.NewServer(srv)
	defer hs.Close()
	answered := make(chan string, 1)
	go func() {
		_, _, body := post(t, hs.URL, "/v1/op", server.MediaSX, `(persist/wait {:stream "s" :after 0 :timeout 20000000000})`)
		answered <- body
	}()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	require.NoError(t, srv.Shutdown(context.Background()))
	assert.Less(t, time.Since(start), 10*time.Second, "the wait held up the shutdown")
	select {
	case body := <-answered:
		assert.Equal(t, `{:head 0 :passed false}`, body)
	case <-time.After(5 * time.Second):
		t.Fatal("the wait in flight was not answered")
	}
	_, err = effect.Perform(effect.Handle(context.Background(), store), ops.Head{Stream: "s"})
	assert.ErrorIs(t, err, ops.ErrClosed, "the store is closed after the drain")
}

// TestFollowsShareAFeed follows one stream from several places at once,
// one of them from before the feed's ring (more than 4,096 events back),
// while events keep coming: each follow gets every event from its start,
// in order, once per connection.
func TestFollowsShareAFeed(t *testing.T) {
	_, hs, store := newServer(t, server.Options{})
	p := effect.Handle(context.Background(), store)
	batch := make([]ops.EventData, 1000)
	for i := range batch {
		batch[i] = ops.EventData{Type: "t"}
	}
	for range 5 {
		_, err := effect.Perform(p, ops.Append{Stream: "s", Events: batch})
		require.NoError(t, err)
	}
	const total = 5000 + 200
	froms := []uint64{1, 900, 4990, 5001, 5100}
	results := make([][]string, len(froms))
	var wg sync.WaitGroup
	for i, from := range froms {
		resp, err := http.Get(fmt.Sprintf("%s/v1/follow?stream=s&from=%d", hs.URL, from))
		require.NoError(t, err)
		wg.Go(func() {
			defer resp.Body.Close()
			results[i] = nil
			for _, e := range readEvents(t, bufio.NewReader(resp.Body), int(total-from+1)) {
				results[i] = append(results[i], e.id)
			}
		})
	}
	for range 200 {
		_, err := effect.Perform(p, ops.Append{Stream: "s", Events: batch[:1]})
		require.NoError(t, err)
	}
	wg.Wait()
	for i, from := range froms {
		require.Len(t, results[i], int(total-from+1), "from %d", from)
		for j, id := range results[i] {
			if id != strconv.FormatUint(from+uint64(j), 10) {
				t.Fatalf("follow from %d: event %d has id %s", from, j, id)
			}
		}
	}
}

func TestFollowGlobalLog(t *testing.T) {
	_, hs, store := newServer(t, server.Options{})
	p := effect.Handle(context.Background(), store)
	for _, s := range []string{"a", "b", "a"} {
		_, err := effect.Perform(p, ops.Append{Stream: s, Events: []ops.EventData{{Type: "t"}}})
		require.NoError(t, err)
	}
	resp, err := http.Get(hs.URL + "/v1/follow?from=2&as=json")
	require.NoError(t, err)
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	evs := readEvents(t, r, 2)
	assert.Equal(t, "2", evs[0].id, "ids are positions")
	assert.Contains(t, evs[0].data, `"stream":"b"`)
	assert.Contains(t, evs[1].data, `"pos":3`)
	_, err = effect.Perform(p, ops.Append{Stream: "c", Events: []ops.EventData{{Type: "t"}}})
	require.NoError(t, err)
	evs = readEvents(t, r, 1)
	assert.Equal(t, "4", evs[0].id)
	assert.Contains(t, evs[0].data, `"stream":"c"`)
}

// TestFollowBehindTheRing opens a follow while the stream is empty, lets
// more events come than the feed keeps, and then follows from the start:
// the late follow reads the store up to the feed's ring, then the ring.
func TestFollowBehindTheRing(t *testing.T) {
	_, hs, store := newServer(t, server.Options{})
	p := effect.Handle(context.Background(), store)
	first, err := http.Get(hs.URL + "/v1/follow?stream=s")
	require.NoError(t, err)
	defer first.Body.Close()
	batch := make([]ops.EventData, 1000)
	for i := range batch {
		batch[i] = ops.EventData{Type: "t"}
	}
	const total = 6000
	got := make(chan []sseEvent, 1)
	go func() { got <- readEvents(t, bufio.NewReader(first.Body), total) }()
	for range total / 1000 {
		_, err := effect.Perform(p, ops.Append{Stream: "s", Events: batch})
		require.NoError(t, err)
	}
	late, err := http.Get(hs.URL + "/v1/follow?stream=s&from=1")
	require.NoError(t, err)
	defer late.Body.Close()
	for name, evs := range map[string][]sseEvent{"first": <-got, "late": readEvents(t, bufio.NewReader(late.Body), total)} {
		require.Len(t, evs, total, name)
		for i, e := range evs {
			if e.id != strconv.Itoa(i+1) {
				t.Fatalf("%s follow: event %d has id %s", name, i, e.id)
			}
		}
	}
}
