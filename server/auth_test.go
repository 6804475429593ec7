package server_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/server"
)

func mustGrant(t *testing.T, s string) server.Grant {
	t.Helper()
	g, err := server.ParseGrant(s)
	require.NoError(t, err)
	return g
}

// authServer has a token "feed" that reads and writes streams under feed/
// and keys under cfg/, and a token "root" with admin.
func authServer(t *testing.T, limits server.Limits) (url, feed, root string, store ops.Backend) {
	t.Helper()
	feed, feedTok, err := server.NewToken("feed", mustGrant(t, "read feed/"), mustGrant(t, "write feed/"),
		mustGrant(t, "kv-read cfg/"), mustGrant(t, "kv-write cfg/"))
	require.NoError(t, err)
	root, rootTok, err := server.NewToken("root", mustGrant(t, "admin"))
	require.NoError(t, err)
	assert.NotContains(t, feedTok.SHA256, feed, "the token keeps a hash, not the secret")
	_, hs, store := newServer(t, server.Options{Tokens: []server.Token{feedTok, rootTok}, Limits: limits})
	return hs.URL, feed, root, store
}

// request sends a request and returns the status and the body.
func request(t *testing.T, method, url, body, token string, hdr ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if method == http.MethodPost {
		req.Header.Set("Content-Type", server.MediaSX)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") == server.MediaEvents {
		// A follow that was let in: read its first line only.
		b := make([]byte, 1)
		_, _ = resp.Body.Read(b)
		return resp.StatusCode, ""
	}
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// state is everything a refused request must leave unchanged.
func state(t *testing.T, store ops.Backend) string {
	t.Helper()
	p := effect.Handle(context.Background(), store)
	all, err := effect.Perform(p, ops.ReadAll{})
	require.NoError(t, err)
	kv, err := effect.Perform(p, ops.KvList{})
	require.NoError(t, err)
	var sb strings.Builder
	for _, e := range all.Events {
		sb.WriteString(e.Stream + "/" + e.Type + " ")
	}
	for _, e := range kv.Entries {
		sb.WriteString(e.Key + "=" + string(e.Value) + " ")
	}
	return sb.String()
}

func TestAccessControl(t *testing.T) {
	url, feed, root, store := authServer(t, server.Limits{Body: 4096})
	// Some state, written with grants.
	code, body := request(t, "POST", url+"/v1/op", `(persist/append {:stream "feed/a" :events [{:type "t"}]})`, feed)
	require.Equal(t, 200, code, body)
	code, body = request(t, "POST", url+"/v1/op", `(persist/kv-put {:key "cfg/x" :value "1"})`, feed)
	require.Equal(t, 200, code, body)
	big := `(persist/append {:stream "feed/a" :events [{:type "t" :data "` + strings.Repeat("x", 5000) + `"}]})`
	type endpoint struct {
		name, method, path string
		good, outside      string // a body (or query) the feed token may and may not send
		grant              string // the grant the outside request lacks
	}
	endpoints := []endpoint{
		{"op append", "POST", "/v1/op", `(persist/append {:stream "feed/a" :events [{:type "u"}]})`,
			`(persist/append {:stream "orders" :events [{:type "u"}]})`, "write orders"},
		{"op commit", "POST", "/v1/op", `(persist/commit {:appends [{:stream "feed/b" :events [{:type "u"}]}]})`,
			`(persist/commit {:appends [{:stream "feed/b" :events [{:type "u"}]}] :kv [{:key "secret" :value "v"}]})`, "kv-write secret"},
		{"op read", "POST", "/v1/op", `(persist/read {:stream "feed/a"})`, `(persist/read {:stream "orders"})`, "read orders"},
		{"op read-all", "POST", "/v1/op", ``, `(persist/read-all {})`, "read"},
		{"op kv-get", "POST", "/v1/op", `(persist/kv-get {:key "cfg/x"})`, `(persist/kv-get {:key "secret"})`, "kv-read secret"},
		{"op kv-list", "POST", "/v1/op", `(persist/kv-list {:prefix "cfg/"})`, `(persist/kv-list {:prefix ""})`, "kv-read"},
		{"op streams", "POST", "/v1/op", `(persist/streams {:prefix "feed/"})`, `(persist/streams {})`, "read"},
		{"op snapshot-write", "POST", "/v1/op", ``, `(persist/snapshot-write {:snapshot {:name "p" :value "v"}})`, "write p"},
		{"batch", "POST", "/v1/batch", `[(persist/head {:stream "feed/a"})]`,
			`[(persist/append {:stream "feed/a" :events [{:type "u"}]}) (persist/kv-put {:key "secret" :value "v"})]`, "kv-write secret"},
		{"follow", "GET", "/v1/follow", `?stream=feed/a`, `?stream=orders`, "read orders"},
		{"follow all", "GET", "/v1/follow", ``, ``, "read"},
		{"metrics", "GET", "/metrics", ``, ``, "admin"},
	}
	for _, ep := range endpoints {
		t.Run(ep.name, func(t *testing.T) {
			send := func(payload, token string) (int, string) {
				if ep.method == "GET" {
					return request(t, "GET", url+ep.path+payload, "", token)
				}
				return request(t, "POST", url+ep.path, payload, token)
			}
			probe := ep.outside
			// Every refused request below leaves the store as it was.
			before := state(t, store)
			code, body := send(probe, "")
			assert.Equal(t, 401, code, "without a token: %s", body)
			assert.Contains(t, body, `:error "unauthorized"`)
			code, body = send(probe, "pst_not-a-token")
			assert.Equal(t, 401, code, "with a wrong token: %s", body)
			code, body = request(t, ep.method, url+ep.path, "", "", "Authorization", "Basic Zm9vOmJhcg==")
			assert.Equal(t, 401, code, "with another scheme: %s", body)

			code, body = send(probe, feed)
			assert.Equal(t, 403, code, "outside the grants: %s", body)
			assert.Contains(t, body, `:grant "`+ep.grant+`"`, "names the missing grant")
			if ep.method == "POST" {
				code, body = send(big, feed)
				assert.Equal(t, 413, code, "oversized: %s", body)
				code, body = send(`(persist/append {:stream`, feed)
				assert.Equal(t, 400, code, "malformed: %s", body)
				assert.Contains(t, body, `:field "body"`)
			}
			assert.Equal(t, before, state(t, store), "a refused request wrote")
			if ep.good != "" {
				code, body = send(ep.good, feed)
				assert.Equal(t, 200, code, "within the grants: %s", body)
			}
			code, body = send(probe, root)
			assert.Equal(t, 200, code, "with admin: %s", body)
		})
	}
}

func TestParseTokens(t *testing.T) {
	hash := server.HashSecret("s3cret")
	toks, err := server.ParseTokens([]byte(`[{:name "a" :sha256 "` + hash + `" :grants ["read x/" "admin"]}]`))
	require.NoError(t, err)
	require.Len(t, toks, 1)
	assert.Equal(t, []server.Grant{{Kind: server.GrantRead, Prefix: "x/"}, {Kind: server.GrantAdmin}}, toks[0].Grants)
	j, err := server.ParseTokens([]byte(`[{"name": "a", "sha256": "` + strings.ToUpper(hash) + `", "grants": ["read x/", "admin"]}]`))
	require.NoError(t, err)
	assert.Equal(t, toks, j, "JSON reads as SX does")

	for _, bad := range []string{
		`[{:name "a" :sha256 "abc" :grants []}]`,
		`[{:sha256 "` + hash + `"}]`,
		`[{:name "a" :sha256 "` + hash + `" :grants ["fly"]}]`,
		`[{:name "a" :sha256 "` + hash + `" :grants ["admin x"]}]`,
		`[{:name "a" :sha256 "` + hash + `"} {:name "b" :sha256 "` + hash + `"}]`,
		`[{:name "a" :secret "plain"}]`,
		`{`,
	} {
		_, err := server.ParseTokens([]byte(bad))
		assert.Error(t, err, bad)
	}
}

func TestTokensAllowListeningBeyondLoopback(t *testing.T) {
	_, tok, err := server.NewToken("a", mustGrant(t, "read"))
	require.NoError(t, err)
	srv, err := server.New(memStoreForAuth(), server.Options{Tokens: []server.Token{tok}})
	require.NoError(t, err)
	assert.NoError(t, srv.CheckListen("0.0.0.0:7070"))
}
