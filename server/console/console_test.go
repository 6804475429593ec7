package console_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
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
	"rose-ash.com/persist/server/console"
)

// fixture is a server with the console mounted on a mem store.
type fixture struct {
	url   string
	store ops.Backend
	srv   *server.Server
}

// newFixture serves a mem store with the console; tokens may be empty
// (every page open).
func newFixture(t testing.TB, tokens ...server.Token) *fixture {
	t.Helper()
	store := mem.New()
	srv, err := server.New(store, server.Options{Tokens: tokens, Limits: server.Limits{Ping: time.Second}})
	require.NoError(t, err)
	_, err = console.Mount(srv, store, console.Options{Backend: "mem", State: func(context.Context) ([]console.Section, error) {
		return []console.Section{{Title: "Figures", Rows: []console.Row{{Name: "Answer", Value: "42"}}}}, nil
	}})
	require.NoError(t, err)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		_ = srv.Shutdown(context.Background())
	})
	return &fixture{url: hs.URL, store: store, srv: srv}
}

func (f *fixture) append(t testing.TB, stream, typ, data string) ops.AppendResult {
	t.Helper()
	res, err := effect.Perform(effect.Handle(context.Background(), f.store),
		ops.Append{Stream: stream, Events: []ops.EventData{{Type: typ, Data: []byte(data)}}})
	require.NoError(t, err)
	return res
}

func (f *fixture) put(t testing.TB, key, value string) {
	t.Helper()
	_, err := effect.Perform(effect.Handle(context.Background(), f.store), ops.KvPut{Key: key, Value: []byte(value)})
	require.NoError(t, err)
}

// get fetches a page with the headers given as name, value pairs.
func (f *fixture) get(t testing.TB, path string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.url+path, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

func TestScriptInDataShowsAsText(t *testing.T) {
	f := newFixture(t)
	evil := `{:note "<script>alert('x')</script>" :img "<img src=x onerror=alert(1)>"}`
	f.append(t, "x/<b>bold</b>", "<i>t</i>", evil)
	f.put(t, "k/<script>", evil)
	for _, path := range []string{
		"/console/",
		"/console/stream?name=" + url.QueryEscape("x/<b>bold</b>"),
		"/console/event?seq=1&stream=" + url.QueryEscape("x/<b>bold</b>"),
		"/console/event?as=json&seq=1&stream=" + url.QueryEscape("x/<b>bold</b>"),
		"/console/live?stream=" + url.QueryEscape("x/<b>bold</b>"),
		"/console/live",
		"/console/kv",
		"/console/key?key=" + url.QueryEscape("k/<script>"),
	} {
		resp, body := f.get(t, path)
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		assert.NotContains(t, body, "<script>alert", path)
		assert.NotContains(t, body, "<img src=x", path)
		assert.NotContains(t, body, "<b>bold</b>", path)
		assert.NotContains(t, body, "<i>t</i>", path)
		assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "script-src 'self'", path)
	}
	_, body := f.get(t, "/console/event?seq=1&stream="+url.QueryEscape("x/<b>bold</b>"))
	assert.Contains(t, body, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;", "the data is there, as text")
}

func TestBadInputPages(t *testing.T) {
	f := newFixture(t)
	f.append(t, "orders/1", "placed", `{:n 1}`)
	f.append(t, "orders/1", "paid", `{:n 2}`)
	for _, c := range []struct {
		path   string
		status int
		reason string
	}{
		{"/console/stream?name=nope", 404, "There is no stream named &#34;nope&#34;"},
		{"/console/stream?name=orders/1&from=3", 404, "Seq 3 is past the head of &#34;orders/1&#34;, which is 2."},
		{"/console/event?stream=orders/1&seq=9", 404, "Seq 9 is past the head of &#34;orders/1&#34;, which is 2."},
		{"/console/event?stream=nope&seq=1", 404, "There is no stream named &#34;nope&#34;"},
		{"/console/event?stream=orders/1", 400, "seq: missing"},
		{"/console/stream?name=", 400, "stream: empty"},
		{"/console/stream?name=orders/1&from=abc", 400, "from &#34;abc&#34;: want a number from 1."},
		{"/console/stream?name=orders/1&order=sideways", 400, "order &#34;sideways&#34;: want newest or oldest."},
		{"/console/?prefix=%ff", 400, "prefix: not valid UTF-8"},
		{"/console/?prefix=a%00b", 400, "prefix: contains a NUL byte"},
		{"/console/?prefix=" + strings.Repeat("p", 300), 400, "prefix: 300 bytes, over the limit of 256"},
		{"/console/kv?prefix=%ff", 400, "prefix: not valid UTF-8"},
		{"/console/?limit=5000", 400, "limit &#34;5000&#34;: want a number of rows from 1 to 1000."},
		{"/console/?q=%zz", 400, "the query string does not decode"},
		{"/console/key?key=absent", 404, "There is no key &#34;absent&#34;."},
		{"/console/event?stream=orders/1&seq=1&as=xml", 400, "as &#34;xml&#34;: want sx or json."},
		{"/console/nowhere", 404, "The console has no page /console/nowhere."},
	} {
		resp, body := f.get(t, c.path)
		assert.Equal(t, c.status, resp.StatusCode, c.path)
		assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"), c.path)
		assert.Contains(t, body, c.reason, c.path)
		assert.Contains(t, body, fmt.Sprintf(`data-status="%d"`, c.status), c.path)
		assert.NotContains(t, body, "goroutine", c.path)
	}
}

func TestStreamPaging(t *testing.T) {
	f := newFixture(t)
	for i := 1; i <= 25; i++ {
		f.append(t, "s", "e", fmt.Sprint(i))
	}
	seqs := func(body string) []string {
		var out []string
		for _, part := range strings.Split(body, `<tr data-seq="`)[1:] {
			out = append(out, part[:strings.IndexByte(part, '"')])
		}
		return out
	}
	_, body := f.get(t, "/console/stream?name=s&limit=10")
	assert.Equal(t, []string{"25", "24", "23", "22", "21", "20", "19", "18", "17", "16"}, seqs(body))
	assert.Contains(t, body, `href="/console/stream?from=15&amp;limit=10&amp;name=s&amp;order=newest" id="older"`)
	assert.NotContains(t, body, `id="newer"`)

	_, body = f.get(t, "/console/stream?name=s&limit=10&from=5")
	assert.Equal(t, []string{"5", "4", "3", "2", "1"}, seqs(body))
	assert.NotContains(t, body, `id="older"`)
	assert.Contains(t, body, `href="/console/stream?from=15&amp;limit=10&amp;name=s&amp;order=newest" id="newer"`)

	_, body = f.get(t, "/console/stream?name=s&limit=10&order=oldest")
	assert.Equal(t, []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}, seqs(body))
	assert.Contains(t, body, `href="/console/stream?from=11&amp;limit=10&amp;name=s&amp;order=oldest" id="newer"`)

	_, body = f.get(t, "/console/stream?name=s&limit=10&order=oldest&from=21")
	assert.Equal(t, []string{"21", "22", "23", "24", "25"}, seqs(body))
	assert.NotContains(t, body, `id="newer"`)
	assert.Contains(t, body, `href="/console/stream?from=11&amp;limit=10&amp;name=s&amp;order=oldest" id="older"`)
}

func TestStreamListPagesAndFilters(t *testing.T) {
	f := newFixture(t)
	for i := range 7 {
		f.append(t, fmt.Sprintf("a/%d", i), "e", "1")
	}
	f.append(t, "b/0", "e", "1")
	names := func(body string) []string {
		var out []string
		for _, part := range strings.Split(body, `class="stream" href="/console/stream?name=`)[1:] {
			n, _ := url.QueryUnescape(part[:strings.IndexByte(part, '"')])
			out = append(out, n)
		}
		return out
	}
	_, body := f.get(t, "/console/?limit=3")
	assert.Equal(t, []string{"a/0", "a/1", "a/2"}, names(body))
	assert.Contains(t, body, `href="/console/?after=a%2F2&amp;limit=3" rel="next"`)
	_, body = f.get(t, "/console/?limit=3&after=a/5")
	assert.Equal(t, []string{"a/6", "b/0"}, names(body))
	assert.NotContains(t, body, `rel="next"`)
	_, body = f.get(t, "/console/?prefix=b/")
	assert.Equal(t, []string{"b/0"}, names(body))
	_, body = f.get(t, "/console/?prefix=zzz")
	assert.Contains(t, body, "No streams start with")
}

// tokens makes a token with the grants and returns its secret.
func token(t testing.TB, name string, grants ...string) (string, server.Token) {
	t.Helper()
	var gs []server.Grant
	for _, s := range grants {
		g, err := server.ParseGrant(s)
		require.NoError(t, err)
		gs = append(gs, g)
	}
	secret, tok, err := server.NewToken(name, gs...)
	require.NoError(t, err)
	return secret, tok
}

func TestGrantsCutLists(t *testing.T) {
	reader, readerTok := token(t, "reader", "read orders/", "read users/", "kv-read cfg/")
	admin, adminTok := token(t, "root", "admin")
	f := newFixture(t, readerTok, adminTok)
	for _, s := range []string{"audit/1", "orders/1", "orders/2", "secret/1", "users/1"} {
		f.append(t, s, "e", "1")
	}
	f.put(t, "cfg/a", "1")
	f.put(t, "private/b", "2")
	auth := func(s string) []string { return []string{"Authorization", "Bearer " + s} }

	resp, body := f.get(t, "/console/", auth(reader)...)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	for _, s := range []string{"orders/1", "orders/2", "users/1"} {
		assert.Contains(t, body, ">"+s+"</a>")
	}
	for _, s := range []string{"audit/1", "secret/1"} {
		assert.NotContains(t, body, s)
	}
	assert.Contains(t, body, "Your token reads only streams under")

	// Paged across the grants' prefixes, in name order.
	_, body = f.get(t, "/console/?limit=2", auth(reader)...)
	assert.Contains(t, body, ">orders/2</a>")
	assert.NotContains(t, body, ">users/1</a>")
	assert.Contains(t, body, `after=orders%2F2`)
	_, body = f.get(t, "/console/?limit=2&after=orders/2", auth(reader)...)
	assert.Contains(t, body, ">users/1</a>")

	resp, body = f.get(t, "/console/stream?name=secret/1", auth(reader)...)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Contains(t, body, "Your token lacks the grant &#34;read secret/1&#34;.")
	resp, _ = f.get(t, "/console/?prefix=secret/", auth(reader)...)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, _ = f.get(t, "/console/live", auth(reader)...)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "the global log needs read on every stream")
	resp, _ = f.get(t, "/console/state", auth(reader)...)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "the store's state needs admin")

	_, body = f.get(t, "/console/kv", auth(reader)...)
	assert.Contains(t, body, "cfg/a")
	assert.NotContains(t, body, "private/b")
	resp, _ = f.get(t, "/console/key?key=private/b", auth(reader)...)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)

	resp, body = f.get(t, "/console/state", auth(admin)...)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, "<th scope=\"row\">Answer</th><td>42</td>")
	assert.Contains(t, body, `id="global-head">5<`)
}

func TestRefusedWithoutToken(t *testing.T) {
	secret, tok := token(t, "reader", "read ")
	old, oldTok := token(t, "old", "admin")
	oldTok.Expires = time.Now().Add(-time.Hour)
	f := newFixture(t, tok, oldTok)

	resp, body := f.get(t, "/console/")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Contains(t, body, "This server needs a token")
	assert.Contains(t, body, `<form class="login" method="post" action="/console/login">`)
	assert.Equal(t, `Bearer realm="persist"`, resp.Header.Get("WWW-Authenticate"))

	resp, body = f.get(t, "/console/", "Cookie", server.TokenCookie+"=pst_nonsense")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Contains(t, body, "This server needs a token")
	assert.Contains(t, resp.Header.Get("Set-Cookie"), "Max-Age=0", "an unknown token's cookie is cleared")

	resp, body = f.get(t, "/console/", "Cookie", server.TokenCookie+"="+old)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Contains(t, body, "The token expired at "+oldTok.Expires.UTC().Format(time.RFC3339))

	resp, _ = f.get(t, "/console/", "Cookie", server.TokenCookie+"="+secret)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestLoginSetsCookie(t *testing.T) {
	secret, tok := token(t, "reader", "read ")
	tok.Expires = time.Now().Add(time.Hour).Truncate(time.Second)
	f := newFixture(t, tok)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(form url.Values, hdr ...string) *http.Response {
		req, err := http.NewRequest(http.MethodPost, f.url+"/console/login", strings.NewReader(form.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}

	resp := post(url.Values{"token": {secret}, "next": {"/console/kv?prefix=a"}}, "Origin", f.url)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "/console/kv?prefix=a", resp.Header.Get("Location"))
	cookies := resp.Cookies()
	require.Len(t, cookies, 1)
	ck := cookies[0]
	assert.Equal(t, server.TokenCookie, ck.Name)
	assert.Equal(t, secret, ck.Value)
	assert.True(t, ck.HttpOnly)
	assert.Equal(t, http.SameSiteStrictMode, ck.SameSite)
	assert.Equal(t, "/", ck.Path)
	assert.WithinDuration(t, tok.Expires, ck.Expires, time.Second, "the cookie ends with the token")

	resp = post(url.Values{"token": {secret}, "next": {"https://elsewhere.example/"}})
	assert.Equal(t, "/console/", resp.Header.Get("Location"), "sign-in never sends a browser elsewhere")
	resp = post(url.Values{"token": {secret}, "next": {"//elsewhere.example/console/"}})
	assert.Equal(t, "/console/", resp.Header.Get("Location"))

	resp = post(url.Values{"token": {secret}}, "Origin", "https://evil.example")
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "a form posted from another site")
	assert.Empty(t, resp.Cookies())
	resp = post(url.Values{"token": {secret}}, "Sec-Fetch-Site", "cross-site")
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)

	resp = post(url.Values{"token": {"pst_wrong"}})
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Empty(t, resp.Cookies())

	req, _ := http.NewRequest(http.MethodPost, f.url+"/console/logout", nil)
	req.Header.Set("Cookie", server.TokenCookie+"="+secret)
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Len(t, resp.Cookies(), 1)
	assert.Equal(t, -1, resp.Cookies()[0].MaxAge, "sign-out clears the cookie")
}

func TestPagesWithoutTokens(t *testing.T) {
	f := newFixture(t)
	resp, body := f.get(t, "/", "Accept", "text/html")
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "/console/", resp.Header.Get("Location"))
	resp, body = f.get(t, "/console/login")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, "This server has no tokens")
	resp, _ = f.get(t, "/console/assets/console.css")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Content-Type"), "text/css")
	resp, _ = f.get(t, "/console/assets/live.js")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp, body = f.get(t, "/console/state")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, "mem")
}

func TestConcurrentPages(t *testing.T) {
	f := newFixture(t)
	for i := range 20 {
		f.append(t, fmt.Sprintf("s/%02d", i), "e", `{:n 1}`)
	}
	f.put(t, "k", "1")
	done := make(chan struct{})
	var writer, wg sync.WaitGroup
	writer.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			f.append(t, fmt.Sprintf("s/%02d", i%20), "e", fmt.Sprintf(`{:n %d}`, i))
			f.put(t, "k", fmt.Sprint(i))
		}
	})
	pages := []string{"/console/", "/console/stream?name=s/03", "/console/event?stream=s/03&seq=1",
		"/console/live", "/console/kv", "/console/key?key=k", "/console/state", "/console/?prefix=s/1&limit=3"}
	for g := range 4 {
		wg.Go(func() {
			for i := range 40 {
				path := pages[(g+i)%len(pages)]
				resp, body := f.get(t, path)
				assert.Equal(t, http.StatusOK, resp.StatusCode, path)
				assert.Contains(t, body, "</html>", path)
			}
		})
	}
	wg.Wait()
	close(done)
	writer.Wait()
}

// The delete grant is listed with the token's others and honoured as the
// protocol does: it hard-deletes, and opens no page, since it reads
// nothing.
func TestDeleteGrantListedAndHonoured(t *testing.T) {
	both, bothTok := token(t, "purger", "read orders/", "delete orders/")
	only, onlyTok := token(t, "deleter", "delete orders/")
	f := newFixture(t, bothTok, onlyTok)
	f.append(t, "orders/1", "e", "1")
	f.append(t, "users/1", "e", "1")
	auth := func(s string) []string { return []string{"Authorization", "Bearer " + s} }

	resp, body := f.get(t, "/console/stream?name=orders/1", auth(both)...)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, `id="grants"`)
	assert.Contains(t, body, "<code>read orders/</code>, <code>delete orders/</code>")
	assert.Contains(t, body, `<span id="may">read, delete</span>`)

	resp, body = f.get(t, "/console/stream?name=orders/1", auth(only)...)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "delete reads nothing")
	assert.Contains(t, body, "Your token lacks the grant &#34;read orders/1&#34;.")
	assert.Contains(t, body, "<code>delete orders/</code>", "the refusal lists what the token holds")
	resp, body = f.get(t, "/console/", auth(only)...)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.NotContains(t, body, "orders/1</a>")
	resp, _ = f.get(t, "/console/live?stream=orders/1", auth(only)...)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
}
