package server_test

import (
	"bufio"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/server"
)

// needRetention fails a test whose store beneath does not answer the
// retention operations: every backend answers them, and the wire carries
// them only as far as the backend does.
func needRetention(t *testing.T, store ops.Backend) {
	t.Helper()
	_, err := store.Handle(effect.Handle(context.Background()), ops.StreamMetaRead{Stream: "probe"})
	require.NoError(t, err, "the backend beneath must answer persist/stream-meta-read")
}

func follow(t *testing.T, url string) *bufio.Reader {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	require.Equal(t, 200, resp.StatusCode)
	return bufio.NewReader(resp.Body)
}

// A follow, of a stream or of the global log, never serves what the
// stream's limits or its deletion hide, whether it starts before them or
// was live when they changed.
func TestFollowLeavesOutHiddenEvents(t *testing.T) {
	_, hs, store := newServer(t, server.Options{Limits: server.Limits{Ping: 50 * time.Millisecond}})
	needRetention(t, store)
	p := effect.Handle(context.Background(), store)
	app := func(stream string, n int) {
		for range n {
			_, err := effect.Perform(p, ops.Append{Stream: stream, Events: []ops.EventData{{Type: "t"}}})
			require.NoError(t, err)
		}
	}
	app("s", 5)
	app("gone", 2)
	// A live follow of the global log fills the feed's ring with all 7.
	all := follow(t, hs.URL+"/v1/follow")
	require.Len(t, readEvents(t, all, 7), 7)

	code, _, body := post(t, hs.URL, "/v1/op", server.MediaSX, `(persist/stream-meta-write {:stream "s" :meta {:truncate-before 4}})`)
	require.Equal(t, 200, code, body)
	code, _, body = post(t, hs.URL, "/v1/op", server.MediaSX, `(persist/stream-delete {:stream "gone"})`)
	require.Equal(t, 200, code, body)

	// New follows from the start see only what is visible.
	evs := readEvents(t, follow(t, hs.URL+"/v1/follow?stream=s"), 2)
	assert.Equal(t, []string{"4", "5"}, []string{evs[0].id, evs[1].id})
	g := follow(t, hs.URL+"/v1/follow")
	app("s", 1)
	evs = readEvents(t, g, 3)
	assert.Equal(t, []string{"4", "5", "8"}, []string{evs[0].id, evs[1].id, evs[2].id}, "positions of the hidden events are skipped, never reused")
	// The follow that was live goes on with what comes next.
	evs = readEvents(t, all, 1)
	assert.Equal(t, "8", evs[0].id)

	// A hard-deleted stream is refused for writes with its own kind.
	code, _, body = post(t, hs.URL, "/v1/op", server.MediaSX, `(persist/stream-delete {:stream "gone" :hard true})`)
	require.Equal(t, 200, code, body)
	code, _, body = post(t, hs.URL, "/v1/op", server.MediaSX, `(persist/append {:stream "gone" :events [{:type "t"}]})`)
	assert.Equal(t, 410, code)
	assert.Contains(t, body, `:error "stream-deleted"`)
	assert.Contains(t, body, `:stream "gone"`)
}

// A hard delete needs the delete grant; a soft one, write.
func TestStreamDeleteGrants(t *testing.T) {
	w, wtok, err := server.NewToken("writer", server.Grant{Kind: server.GrantWrite, Prefix: "s"})
	require.NoError(t, err)
	d, dtok, err := server.NewToken("deleter", server.Grant{Kind: server.GrantDelete, Prefix: "s"})
	require.NoError(t, err)
	_, hs, store := newServer(t, server.Options{Tokens: []server.Token{wtok, dtok}})
	needRetention(t, store)
	auth := func(secret string) []string { return []string{"Authorization", "Bearer " + secret} }
	code, _, body := post(t, hs.URL, "/v1/op", server.MediaSX, `(persist/stream-delete {:stream "s" :hard true})`, auth(w)...)
	assert.Equal(t, 403, code)
	assert.Contains(t, body, `:grant "delete s"`)
	code, _, body = post(t, hs.URL, "/v1/op", server.MediaSX, `(persist/stream-delete {:stream "s"})`, auth(d)...)
	assert.Equal(t, 403, code)
	assert.Contains(t, body, `:grant "write s"`)
	code, _, _ = post(t, hs.URL, "/v1/op", server.MediaSX, `(persist/stream-delete {:stream "s"})`, auth(w)...)
	assert.Equal(t, 200, code)
	code, _, _ = post(t, hs.URL, "/v1/op", server.MediaSX, `(persist/stream-delete {:stream "s" :hard true})`, auth(d)...)
	assert.Equal(t, 200, code)
}

// GET /v1/kv-watch streams the changes under a prefix from a revision on,
// an id on the last change of each revision, live, and resumes from
// Last-Event-ID.
func TestKvWatchStreamsChanges(t *testing.T) {
	srv, hs, store := newServer(t, server.Options{Limits: server.Limits{Ping: 50 * time.Millisecond}})
	needRetention(t, store)
	p := effect.Handle(context.Background(), store)
	_, err := effect.Perform(p, ops.KvPut{Key: "cfg/a", Value: []byte("1")})
	require.NoError(t, err)
	_, err = effect.Perform(p, ops.KvPut{Key: "other", Value: []byte("x")})
	require.NoError(t, err)
	_, err = effect.Perform(p, ops.Commit{Kv: []ops.KvChange{{Key: "cfg/b", Value: []byte("2")}, {Key: "cfg/c", Value: []byte("3")}}})
	require.NoError(t, err)

	r := follow(t, hs.URL+"/v1/kv-watch?prefix=cfg/")
	evs := readEvents(t, r, 3)
	assert.Equal(t, "change", evs[0].kind)
	assert.Equal(t, "1", evs[0].id)
	assert.Contains(t, evs[0].data, `:key "cfg/a"`)
	assert.Equal(t, "", evs[1].id, "no id inside a revision")
	assert.Equal(t, "3", evs[2].id)
	assert.Contains(t, evs[2].data, `:key "cfg/c"`)

	_, err = effect.Perform(p, ops.KvDelete{Key: "cfg/a"})
	require.NoError(t, err)
	evs = readEvents(t, r, 1)
	assert.Equal(t, "4", evs[0].id)
	assert.Contains(t, evs[0].data, `:deleted true`)

	req, err := http.NewRequest(http.MethodGet, hs.URL+"/v1/kv-watch?prefix=cfg/&as=json", nil)
	require.NoError(t, err)
	req.Header.Set("Last-Event-ID", "3")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	evs = readEvents(t, bufio.NewReader(resp.Body), 1)
	assert.Equal(t, "4", evs[0].id)
	assert.Contains(t, evs[0].data, `"key":"cfg/a"`)

	go func() { _ = srv.Shutdown(context.Background()) }()
	evs = readEvents(t, r, 1)
	assert.Equal(t, "end", evs[0].kind)
	assert.Equal(t, `{:next 5 :reason "shutdown"}`, evs[0].data)
}
