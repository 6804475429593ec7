package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/server"
)

func TestExpiredTokenIsRefused(t *testing.T) {
	secret, tok, err := server.NewToken("old", mustGrant(t, "admin"))
	require.NoError(t, err)
	tok.Expires = time.Now().Add(-time.Minute)
	live, liveTok, err := server.NewToken("live", mustGrant(t, "admin"))
	require.NoError(t, err)
	liveTok.Expires = time.Now().Add(time.Hour)
	_, hs, _ := newServer(t, server.Options{Tokens: []server.Token{tok, liveTok}})

	code, body := request(t, http.MethodPost, hs.URL+"/v1/op", `(persist/head {:stream "a"})`, secret)
	assert.Equal(t, http.StatusUnauthorized, code)
	assert.Contains(t, body, `:error "unauthorized"`)
	assert.Contains(t, body, "the token expired at "+tok.Expires.UTC().Format(time.RFC3339))

	code, body = request(t, http.MethodPost, hs.URL+"/v1/op", `(persist/head {:stream "a"})`, live)
	assert.Equal(t, http.StatusOK, code, body)
}

func TestTokensFileReadsExpiry(t *testing.T) {
	h := server.HashSecret("x")
	toks, err := server.ParseTokens([]byte(`[{:name "a" :sha256 "` + h + `" :grants ["admin"] :expires "2027-01-02T03:04:05Z"}]`))
	require.NoError(t, err)
	require.Len(t, toks, 1)
	assert.True(t, toks[0].Expires.Equal(time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)))

	toks, err = server.ParseTokens([]byte(`[{:name "a" :sha256 "` + h + `" :grants ["admin"]}]`))
	require.NoError(t, err)
	assert.True(t, toks[0].Expires.IsZero(), "no :expires never expires")
}

func TestCookieOnlyOnGet(t *testing.T) {
	url, feed, _, store := authServer(t, server.Limits{Ping: 20 * time.Millisecond})
	before := state(t, store)
	cookie := server.TokenCookie + "=" + feed

	// A GET (a follow) may present the token in the cookie.
	code, _ := request(t, http.MethodGet, url+"/v1/follow?stream=feed/a", "", "", "Cookie", cookie)
	assert.Equal(t, http.StatusOK, code)

	// A POST may not: a form posted from another site carries cookies.
	code, body := request(t, http.MethodPost, url+"/v1/op", `(persist/append {:stream "feed/a" :events [{:type "t" :data "1"}]})`, "", "Cookie", cookie)
	assert.Equal(t, http.StatusUnauthorized, code, body)
	assert.Equal(t, before, state(t, store), "a refused request writes nothing")

	// The header comes first.
	code, _ = request(t, http.MethodGet, url+"/v1/follow?stream=feed/a", "", "nonsense", "Cookie", cookie)
	assert.Equal(t, http.StatusUnauthorized, code)
}

func TestAccessPrefixes(t *testing.T) {
	secret, tok, err := server.NewToken("t", mustGrant(t, "read orders/"), mustGrant(t, "read orders/eu/"),
		mustGrant(t, "read users/"), mustGrant(t, "read a"), mustGrant(t, "read ab"), mustGrant(t, "kv-read cfg/"))
	require.NoError(t, err)
	srv, _, _ := newServer(t, server.Options{Tokens: []server.Token{tok}})
	acc, err := srv.AccessOf(secret)
	require.NoError(t, err)
	assert.Equal(t, "t", acc.Name())
	assert.False(t, acc.All())
	assert.Equal(t, []string{"a", "orders/", "users/"}, acc.Prefixes(server.GrantRead, ""))
	assert.Equal(t, []string{"orders/"}, acc.Prefixes(server.GrantRead, "ord"))
	assert.Equal(t, []string{"orders/eu/x"}, acc.Prefixes(server.GrantRead, "orders/eu/x"), "a covered prefix is itself")
	assert.Empty(t, acc.Prefixes(server.GrantRead, "zzz"))
	assert.Equal(t, []string{"cfg/"}, acc.Prefixes(server.GrantKvRead, ""))

	_, err = srv.AccessOf("pst_unknown")
	assert.ErrorIs(t, err, server.ErrUnauthorized)

	open, _, _ := newServer(t, server.Options{})
	acc, err = open.AccessOf("")
	require.NoError(t, err)
	assert.True(t, acc.All(), "without tokens everything is allowed")
}

func TestMountRedirectsBrowsers(t *testing.T) {
	srv, hs, _ := newServer(t, server.Options{})
	srv.Mount("/console/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("console " + r.URL.Path))
	}))
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest(http.MethodGet, hs.URL+"/", nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "/console/", resp.Header.Get("Location"))

	code, body := request(t, http.MethodGet, hs.URL+"/", "", "")
	assert.Equal(t, http.StatusNotFound, code, "a client that is not a browser gets the protocol's 404")
	assert.Contains(t, body, `:error "not-found"`)

	code, body = request(t, http.MethodGet, hs.URL+"/console/x", "", "")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "console /console/x", body)
}
