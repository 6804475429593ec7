package server_test

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/server"
)

func TestMetrics(t *testing.T) {
	url, feed, root, _ := authServer(t, server.Limits{})
	request(t, "POST", url+"/v1/op", `(persist/append {:stream "feed/a" :events [{:type "t" :data "abc"} {:type "t" :data "de"}]})`, feed)
	request(t, "POST", url+"/v1/op", `(persist/append {:stream "feed/a" :expect "no-stream" :events [{:type "t"}]})`, feed)
	request(t, "POST", url+"/v1/op", `(persist/head {:stream "feed/a"})`, "wrong")
	request(t, "POST", url+"/v1/op", `(persist/head {:stream "orders"})`, feed)

	// A follow open while the metrics are read.
	req, err := http.NewRequest("GET", url+"/v1/follow?stream=feed/a", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+feed)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	_, err = bufio.NewReader(resp.Body).ReadString('\n')
	require.NoError(t, err)

	code, body := request(t, "GET", url+"/metrics", "", root)
	require.Equal(t, 200, code, body)
	for _, want := range []string{
		`persist_ops_total{op="persist/append",outcome="ok"} 1`,
		`persist_ops_total{op="persist/append",outcome="conflict"} 1`,
		`persist_appended_events_total 2`,
		`persist_appended_bytes_total 5`,
		`persist_auth_failures_total{reason="unknown"} 1`,
		`persist_auth_failures_total{reason="forbidden"} 1`,
		`persist_followers 1`,
		`persist_op_seconds_bucket{op="persist/append",le="+Inf"} 2`,
		`persist_http_requests_total{code="409",endpoint="/v1/op"} 1`,
		`persist_inflight_requests`,
		`process_resident_memory_bytes`,
	} {
		assert.Contains(t, body, want)
	}
}

func TestFollowLimitPerToken(t *testing.T) {
	url, feed, root, _ := authServer(t, server.Limits{Follows: 1})
	open := func(token string) *http.Response {
		req, err := http.NewRequest("GET", url+"/v1/follow?stream=feed/a", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		return resp
	}
	first := open(feed)
	defer first.Body.Close()
	require.Equal(t, 200, first.StatusCode)
	second := open(feed)
	second.Body.Close()
	assert.Equal(t, http.StatusTooManyRequests, second.StatusCode, "a second follow of the same token")
	other := open(root)
	other.Body.Close()
	assert.Equal(t, 200, other.StatusCode, "another token has its own count")

	// Closing the first frees its place.
	first.Body.Close()
	require.Eventually(t, func() bool {
		r := open(feed)
		r.Body.Close()
		return r.StatusCode == 200
	}, 5*time.Second, 20*time.Millisecond)
}

func TestRequestID(t *testing.T) {
	_, hs, _ := newServer(t, server.Options{})
	req, err := http.NewRequest("GET", hs.URL+"/healthz", nil)
	require.NoError(t, err)
	req.Header.Set("X-Request-Id", "abc-123")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "abc-123", resp.Header.Get("X-Request-Id"), "echoed")
	resp, err = http.Get(hs.URL + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Len(t, resp.Header.Get("X-Request-Id"), 16, "made when absent")
	assert.True(t, strings.Contains(resp.Header.Get("Content-Type"), "x-sx"))
}
