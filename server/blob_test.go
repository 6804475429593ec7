package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/blobdir"
	"rose-ash.com/persist/backends/blobtest"
	"rose-ash.com/persist/backends/mem"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/server"
)

func blobServer(t *testing.T, opts server.Options) (string, *blobdir.DB) {
	t.Helper()
	db, err := blobdir.OpenDir(context.Background(), t.TempDir(), blobdir.Options{})
	require.NoError(t, err)
	opts.Blobs = db
	_, hs, _ := newServer(t, opts)
	return hs.URL, db
}

// TestBlobPutGetHead speaks the blob endpoints as the package doc writes
// them, with a plain HTTP client.
func TestBlobPutGetHead(t *testing.T) {
	url, _ := blobServer(t, server.Options{})
	b := blobtest.Data(3*ops.BlobChunkBytes+7, 1)
	c := ops.BlobCID(b)
	resp, err := http.Post(url+"/v1/blob", "image/png", bytes.NewReader(b))
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	assert.Equal(t, `{:cid "`+c.String()+`" :size 786439 :type "image/png"}`, string(body))

	resp, err = http.Get(url + "/v1/blob/" + c.String())
	require.NoError(t, err)
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.True(t, bytes.Equal(b, got))
	assert.Equal(t, "786439", resp.Header.Get(server.HeaderBlobSize))
	assert.Equal(t, c.String(), resp.Header.Get(server.HeaderBlobCID))

	resp, err = http.Head(url + "/v1/blob/" + c.String())
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "786439", resp.Header.Get(server.HeaderBlobSize))

	missing := ops.BlobCID([]byte("absent"))
	resp, err = http.Get(url + "/v1/blob/" + missing.String())
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Contains(t, string(body), `:error "blob-not-found"`)

	resp, err = http.Get(url + "/v1/blob/QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n")
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, string(body), `:field "cid"`)
	assert.Contains(t, string(body), "version 0")
}

// cutStore is a blob store whose gets write half of the blob and then
// find a mismatch, as a store does whose bytes were damaged past the
// first chunk.
type cutStore struct{ ops.BlobStore }

func (c cutStore) Handle(p *effect.P, e effect.Effect) (any, error) {
	if g, ok := e.(ops.BlobGet); ok && g.To != io.Discard {
		v, err := c.BlobStore.Handle(p, ops.BlobStat{CID: g.CID})
		if err != nil {
			return nil, err
		}
		if _, err := g.To.Write(make([]byte, v.(ops.BlobRef).Size/2)); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: damaged chunk", ops.ErrBlobMismatch)
	}
	if _, ok := e.(ops.BlobGet); ok {
		return nil, fmt.Errorf("%w: damaged chunk", ops.ErrBlobMismatch)
	}
	return c.BlobStore.Handle(p, e)
}

// TestBlobMismatchCutsTheAnswer: a mismatch found after some bytes went
// out makes the server abort its answer, so a plain client sees a body
// shorter than Content-Length, an error, never a complete body; HEAD with
// verify then answers 502.
func TestBlobMismatchCutsTheAnswer(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		db, err := blobdir.OpenDir(context.Background(), t.TempDir(), blobdir.Options{})
		require.NoError(t, err)
		srv, err := server.New(mem.New(), server.Options{Blobs: cutStore{db}})
		require.NoError(t, err)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		go func() { _ = srv.Serve(ln, "", "") }()
		t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
		base := "http://" + ln.Addr().String()
		hc := &http.Client{}
		if h2 {
			var p http.Protocols
			p.SetUnencryptedHTTP2(true)
			hc = &http.Client{Transport: &http.Transport{Protocols: &p}}
		}
		b := blobtest.Data(1<<20, 2)
		c := ops.BlobCID(b)
		resp, err := hc.Post(base+"/v1/blob", "", bytes.NewReader(b))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)

		resp, err = hc.Get(base + "/v1/blob/" + c.String())
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, int64(len(b)), resp.ContentLength)
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Error(t, err, "h2 %v: a cut answer is an error to a plain client", h2)
		assert.Less(t, len(got), len(b))

		resp, err = hc.Head(base + "/v1/blob/" + c.String() + "?verify")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
	}
}

// TestBlobMismatchBeforeAnyByte: damage found before a byte went out is an
// ordinary error answer.
func TestBlobMismatchBeforeAnyByte(t *testing.T) {
	url, db := blobServer(t, server.Options{})
	small := []byte("tiny blob")
	sc := ops.BlobCID(small)
	resp, err := http.Post(url+"/v1/blob", "", bytes.NewReader(small))
	require.NoError(t, err)
	resp.Body.Close()
	require.NoError(t, os.WriteFile(db.Store().Path(sc), []byte("tiny blot"), 0o644))
	resp, err = http.Get(url + "/v1/blob/" + sc.String())
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
	assert.Contains(t, string(body), `:error "blob-mismatch"`)
}

// TestBlobLimitAndGrants: the blob limit refuses a body by its
// Content-Length; blob grants take no prefix and guard the endpoints.
func TestBlobLimitAndGrants(t *testing.T) {
	secret, tok, err := server.NewToken("r", server.Grant{Kind: server.GrantBlobRead})
	require.NoError(t, err)
	url, _ := blobServer(t, server.Options{Limits: server.Limits{Blob: 10}, Tokens: []server.Token{tok}})
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/blob", strings.NewReader("more than ten bytes"))
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Contains(t, string(body), `:grant "blob-write"`)

	admin, atok, err := server.NewToken("a", server.Grant{Kind: server.GrantAdmin})
	require.NoError(t, err)
	url, _ = blobServer(t, server.Options{Limits: server.Limits{Blob: 10}, Tokens: []server.Token{atok}})
	req, _ = http.NewRequest(http.MethodPost, url+"/v1/blob", strings.NewReader("more than ten bytes"))
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	assert.Contains(t, string(body), `:limit "blob"`)

	for _, s := range []string{"blob-read", "blob-write"} {
		g, err := server.ParseGrant(s)
		require.NoError(t, err)
		assert.Equal(t, s, g.String())
		_, err = server.ParseGrant(s + " images/")
		assert.ErrorContains(t, err, "takes no prefix")
	}
}
