package server_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/server"
)

// testPipe is a raw POST /v1/pipe over HTTP/1.1: frames written as lines,
// answers read as lines.
type testPipe struct {
	t    *testing.T
	w    *io.PipeWriter
	resp *http.Response
	r    *bufio.Reader
}

func openTestPipe(t *testing.T, url, ctype string, hdr ...string) *testPipe {
	t.Helper()
	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPost, url+"/v1/pipe", pr)
	require.NoError(t, err)
	req.ContentLength = -1
	req.Header.Set("Content-Type", ctype)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	p := &testPipe{t: t, w: pw, resp: resp, r: bufio.NewReader(resp.Body)}
	t.Cleanup(func() { _ = pw.Close(); _ = resp.Body.Close() })
	return p
}

func (p *testPipe) send(frames ...string) {
	p.t.Helper()
	for _, f := range frames {
		_, err := io.WriteString(p.w, f+"\n")
		require.NoError(p.t, err)
	}
}

// answer reads the next answer line, without its newline.
func (p *testPipe) answer() string {
	p.t.Helper()
	line, err := p.r.ReadString('\n')
	require.NoError(p.t, err, "reading an answer (got %q)", line)
	return strings.TrimSuffix(line, "\n")
}

// answers reads n answers, by their ID's text.
func (p *testPipe) answers(n int) map[string]string {
	p.t.Helper()
	out := map[string]string{}
	for range n {
		a := p.answer()
		id, rest, ok := strings.Cut(strings.TrimPrefix(a, "["), " ")
		if !ok {
			id, rest, _ = strings.Cut(strings.TrimPrefix(a, "["), ",")
		}
		out[id] = strings.TrimSuffix(rest, "]")
	}
	return out
}

func TestPipeAnswersEachFrameByID(t *testing.T) {
	_, hs, store := newServer(t, server.Options{})
	p := openTestPipe(t, hs.URL, server.MediaSX)
	assert.Equal(t, 200, p.resp.StatusCode)
	assert.Equal(t, server.MediaSX, p.resp.Header.Get("Content-Type"))
	p.send(`[1 (persist/append {:stream "orders" :expect "no-stream" :events [{:type "placed" :data "{:order 17}"}]})]`,
		``, // a blank line is ignored
		`[2 (persist/kv-get {:key "cfg"})]`)
	got := p.answers(2)
	assert.Equal(t, `{:ok {:first-pos 1 :first-seq 1 :head 1 :last-pos 1 :stream "orders"}}`, got["1"])
	assert.Equal(t, `{:ok nil}`, got["2"])
	// The same ID may be used again once answered.
	p.send(`[1 (persist/head {:stream "orders"})]`)
	assert.Equal(t, `[1 {:ok 1}]`, p.answer())
	assert.Equal(t, uint64(1), head(t, store, "orders"))
	// Ending the body ends the answer.
	require.NoError(t, p.w.Close())
	_, err := p.r.ReadString('\n')
	assert.ErrorIs(t, err, io.EOF)
}

func TestPipeJSON(t *testing.T) {
	_, hs, _ := newServer(t, server.Options{})
	p := openTestPipe(t, hs.URL, server.MediaJSON)
	assert.Equal(t, server.MediaJSON, p.resp.Header.Get("Content-Type"))
	p.send(`[7,["persist/append",{"stream":"s","events":[{"type":"t"}]}]]`)
	assert.Equal(t, `[7,{"ok":{"first-pos":1,"first-seq":1,"head":1,"last-pos":1,"stream":"s"}}]`, p.answer())
	p.send(`[8,["persist/append",{"stream":"s","expect":"no-stream","events":[{"type":"t"}]}]]`)
	a := p.answer()
	assert.Contains(t, a, `[8,{"actual":1,"error":"conflict","expected":"no-stream"`)
}

// Each operation of a pipe is checked against the token's grants on its
// own: a refused one is that frame's answer, the pipe goes on, and nothing
// is written for it.
func TestPipeChecksGrantsPerOperation(t *testing.T) {
	secret, tok, err := server.NewToken("reader", server.Grant{Kind: server.GrantRead, Prefix: "orders"})
	require.NoError(t, err)
	_, hs, store := newServer(t, server.Options{Tokens: []server.Token{tok}})

	code, _, body := post(t, hs.URL, "/v1/pipe", server.MediaSX, `[1 (persist/head {:stream "orders"})]`)
	assert.Equal(t, 401, code, "a pipe without a token is refused whole")
	assert.Contains(t, body, `:error "unauthorized"`)

	// Refused while its body is still open: answered at once all the same.
	refused := openTestPipe(t, hs.URL, server.MediaSX, "Authorization", "Bearer wrong")
	assert.Equal(t, 401, refused.resp.StatusCode)

	p := openTestPipe(t, hs.URL, server.MediaSX, "Authorization", "Bearer "+secret)
	p.send(`[1 (persist/append {:stream "orders" :events [{:type "t"}]})]`,
		`[2 (persist/head {:stream "orders"})]`,
		`[3 (persist/kv-get {:key "k"})]`)
	got := p.answers(3)
	assert.Contains(t, got["1"], `:error "forbidden"`)
	assert.Contains(t, got["1"], `:grant "write orders"`)
	assert.Equal(t, `{:ok 0}`, got["2"])
	assert.Contains(t, got["3"], `:grant "kv-read k"`)
	assert.Equal(t, uint64(0), head(t, store, "orders"))
}

// An operation that does not decode is its frame's answer; a frame that
// is not [ID OPERATION] ends the pipe with the end frame, and nothing
// after it is performed.
func TestPipeFramesThatDoNotDecode(t *testing.T) {
	_, hs, store := newServer(t, server.Options{})
	p := openTestPipe(t, hs.URL, server.MediaSX)
	p.send(`[4 (persist/nope {})]`, `[5 (persist/append {:stream "" :events [{:type "t"}]})]`)
	got := p.answers(2)
	assert.Contains(t, got["4"], `:error "unknown-op"`)
	assert.Contains(t, got["5"], `:error "invalid"`)
	assert.Contains(t, got["5"], `:field "stream"`)

	p.send(`(persist/head {:stream "s"})`, `[6 (persist/append {:stream "s" :events [{:type "t"}]})]`)
	end := p.answer()
	assert.True(t, strings.HasPrefix(end, `[nil {`), end)
	assert.Contains(t, end, `:error "invalid"`)
	assert.Contains(t, end, `:field "frame"`)
	_, err := p.r.ReadString('\n')
	assert.ErrorIs(t, err, io.EOF)
	assert.Equal(t, uint64(0), head(t, store, "s"))
}

func TestPipeEndsAnIDReusedInFlight(t *testing.T) {
	_, hs, _ := newServer(t, server.Options{})
	p := openTestPipe(t, hs.URL, server.MediaSX)
	p.send(`[9 (persist/wait {:stream "s" :after 0 :timeout 2000000000})]`, `[9 (persist/head {:stream "s"})]`)
	got := p.answers(2)
	assert.Contains(t, got["nil"], `already in flight`)
	assert.Equal(t, `{:ok {:head 0 :passed false}}`, got["9"], "the wait in flight is still answered")
}

func TestPipeEndsWhenIdle(t *testing.T) {
	_, hs, _ := newServer(t, server.Options{Limits: server.Limits{PipeIdle: 100 * time.Millisecond}})
	p := openTestPipe(t, hs.URL, server.MediaSX)
	p.send(`[1 (persist/head {:stream "s"})]`)
	assert.Equal(t, `[1 {:ok 0}]`, p.answer())
	end := p.answer()
	assert.True(t, strings.HasPrefix(end, `[nil {:error "idle"`), end)
}

// Shutting down ends a pipe with the end frame after answering what was
// in flight, and lets the shutdown finish.
func TestPipeEndsOnShutdown(t *testing.T) {
	srv, hs, _ := newServer(t, server.Options{})
	p := openTestPipe(t, hs.URL, server.MediaSX)
	p.send(`[1 (persist/wait {:stream "s" :after 0 :timeout 20000000000})]`)
	time.Sleep(50 * time.Millisecond) // the wait is in flight
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(context.Background()) }()
	got := p.answers(2)
	assert.Equal(t, `{:ok {:head 0 :passed false}}`, got["1"], "the wait ends early with its answer")
	assert.Contains(t, got["nil"], `:error "unavailable"`)
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("shutdown waited on the pipe")
	}
}

func TestPipeRefusesAnUnknownNotation(t *testing.T) {
	_, hs, _ := newServer(t, server.Options{})
	code, _, body := post(t, hs.URL, "/v1/pipe", "text/plain", "[1 (persist/now)]\n")
	assert.Equal(t, 415, code)
	assert.Contains(t, body, `:error "notation"`)
	req, err := http.NewRequest(http.MethodGet, hs.URL+"/v1/pipe", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, 405, resp.StatusCode)
}
