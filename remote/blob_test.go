package remote_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/blobdir"
	"rose-ash.com/persist/backends/blobtest"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/remote"
	"rose-ash.com/persist/server"
)

// blobServer serves a fresh blob directory (beside a mem store) and dials
// it; damage changes a stored byte as the blobdir suite does.
func blobServer(t testing.TB, maxBytes int64, sopts server.Options, copts remote.Options) (*served, *blobdir.DB) {
	s, db, _ := blobServerURL(t, maxBytes, sopts, copts)
	return s, db
}

func blobServerURL(t testing.TB, maxBytes int64, sopts server.Options, copts remote.Options) (*served, *blobdir.DB, string) {
	t.Helper()
	bs, err := blobdir.OpenDir(context.Background(), t.TempDir(), blobdir.Options{MaxBytes: maxBytes})
	require.NoError(t, err)
	sopts.Blobs = bs
	s, url := serve(t, memStore(), sopts, copts)
	return s, bs, url
}

func damage(db *blobdir.DB) func(c cid.Cid) bool {
	return func(c cid.Cid) bool {
		path := db.Store().Path(c)
		b, err := os.ReadFile(path)
		if err != nil || len(b) == 0 {
			return false
		}
		off := 10 % len(b)
		if len(b) > ops.BlobChunkBytes {
			off = ops.BlobChunkBytes + 10
		}
		b[off] ^= 0x40
		return os.WriteFile(path, b, 0o644) == nil
	}
}

// TestBlobConformance runs the blob suite on a client of a server of a
// blob directory: every put and get streams over HTTP.
func TestBlobConformance(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		name := "http1"
		if h2 {
			name = "h2c"
		}
		t.Run(name, func(t *testing.T) {
			blobtest.Run(t, func(t *testing.T, maxBytes int64) blobtest.Store {
				s, db := blobServer(t, maxBytes, server.Options{}, remote.Options{HTTP2: h2})
				return blobtest.Store{BlobStore: s, Damage: damage(db)}
			})
		})
	}
}

// TestBlobServerLimit: the server's own blob limit refuses a larger body
// as it streams, before the store would.
func TestBlobServerLimit(t *testing.T) {
	s, _ := blobServer(t, 0, server.Options{Limits: server.Limits{Blob: 1000}}, remote.Options{})
	defer s.Close()
	p := effect.Handle(context.Background(), s)
	b := blobtest.Data(5000, 1)
	// A reader without a length, so the limit is found while streaming.
	_, err := effect.Perform(p, ops.BlobPut{Body: io.MultiReader(bytes.NewReader(b))})
	require.ErrorIs(t, err, ops.ErrBlobTooLarge)
	assert.Contains(t, err.Error(), "1000")
	has, err := effect.Perform(p, ops.BlobHas{CID: ops.BlobCID(b)})
	require.NoError(t, err)
	assert.False(t, has)
}

// TestBlobGrants: blob-read and blob-write guard the blob endpoints.
func TestBlobGrants(t *testing.T) {
	rs, rtok, err := server.NewToken("reader", server.Grant{Kind: server.GrantBlobRead})
	require.NoError(t, err)
	ws, wtok, err := server.NewToken("writer", server.Grant{Kind: server.GrantBlobWrite})
	require.NoError(t, err)
	ns, ntok, err := server.NewToken("streams", server.Grant{Kind: server.GrantRead}, server.Grant{Kind: server.GrantWrite})
	require.NoError(t, err)
	sopts := server.Options{Tokens: []server.Token{rtok, wtok, ntok}}
	s, _, url := blobServerURL(t, 0, sopts, remote.Options{Token: ws})
	defer s.Close()
	dial := func(tok string) *effect.P {
		c, err := remote.Dial(url, remote.Options{Token: tok})
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		return effect.Handle(context.Background(), c)
	}
	w, r, n := effect.Handle(context.Background(), s), dial(rs), dial(ns)
	b := []byte("granted bytes")
	ref, err := effect.Perform(w, ops.BlobPut{Body: bytes.NewReader(b)})
	require.NoError(t, err)

	_, err = effect.Perform(r, ops.BlobPut{Body: bytes.NewReader(b)})
	assert.ErrorIs(t, err, remote.ErrForbidden)
	var buf bytes.Buffer
	_, err = effect.Perform(r, ops.BlobGet{CID: ref.CID, To: &buf})
	require.NoError(t, err)
	assert.Equal(t, b, buf.Bytes())

	_, err = effect.Perform(w, ops.BlobGet{CID: ref.CID, To: io.Discard})
	assert.ErrorIs(t, err, remote.ErrForbidden)
	_, err = effect.Perform(n, ops.BlobStat{CID: ref.CID})
	assert.Error(t, err, "stream grants do not cover blobs")
	var re *remote.Error
	_, err = effect.Perform(n, ops.BlobGet{CID: ref.CID, To: io.Discard})
	require.True(t, errors.As(err, &re), "%v", err)
	assert.Equal(t, "blob-read", re.Grant)
}

// TestBlobNoStore: a server without a blob store answers 501 no-blob-store.
func TestBlobNoStore(t *testing.T) {
	s, _ := serve(t, memStore(), server.Options{}, remote.Options{})
	defer s.Close()
	_, err := effect.Perform(effect.Handle(context.Background(), s), ops.BlobPut{Body: strings.NewReader("x")})
	var re *remote.Error
	require.True(t, errors.As(err, &re), "%v", err)
	assert.Equal(t, http.StatusNotImplemented, re.Status)
	assert.Equal(t, "no-blob-store", re.Kind)
}

// TestBlobLargeStreams puts and gets a large blob (100 MiB; 16 MiB with
// -short or under the race detector, which slows hashing some tenfold)
// through the server and checks that neither end held it: the heap grows
// by far less than the blob.
func TestBlobLargeStreams(t *testing.T) {
	size := int64(100 << 20)
	if testing.Short() || raceEnabled {
		size = 16 << 20
	}
	s, _ := blobServer(t, 0, server.Options{}, remote.Options{HTTP2: true})
	defer s.Close()
	p := effect.Handle(context.Background(), s)

	var dag ops.BlobDAG
	_, err := io.Copy(&dag, newPattern(size))
	require.NoError(t, err)
	want, _, err := dag.Sum()
	require.NoError(t, err)

	before := heapInUse()
	peak := newPeak()
	ref, err := effect.Perform(p, ops.BlobPut{Body: peak.reader(newPattern(size))})
	require.NoError(t, err)
	assert.Equal(t, want, ref.CID)
	assert.Equal(t, size, ref.Size)

	check := &patternCheck{}
	got, err := effect.Perform(p, ops.BlobGet{CID: ref.CID, To: peak.writer(check)})
	require.NoError(t, err)
	assert.Equal(t, size, got.Size)
	assert.Equal(t, size, check.n)
	assert.NoError(t, check.err)
	growth := peak.max() - before
	t.Logf("blob %d MiB: heap in use before %d MiB, peak growth %.1f MiB", size>>20, before>>20, float64(growth)/(1<<20))
	assert.Less(t, growth, int64(24<<20), "the heap grew by %d bytes for a %d-byte blob", growth, size)
}

func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

// peak samples the heap every 8 MiB of a stream.
type peakHeap struct{ top int64 }

func newPeak() *peakHeap { return &peakHeap{} }

func (p *peakHeap) sample() {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	p.top = max(p.top, int64(m.HeapInuse))
}

func (p *peakHeap) max() int64 { return p.top }

func (p *peakHeap) reader(r io.Reader) io.Reader { return &sampled{p: p, r: r} }
func (p *peakHeap) writer(w io.Writer) io.Writer { return &sampled{p: p, w: w} }

type sampled struct {
	p    *peakHeap
	r    io.Reader
	w    io.Writer
	n, k int64
}

func (s *sampled) tick(n int) {
	s.n += int64(n)
	if s.n/(8<<20) != s.k {
		s.k = s.n / (8 << 20)
		s.p.sample()
	}
}

func (s *sampled) Read(b []byte) (int, error)  { n, err := s.r.Read(b); s.tick(n); return n, err }
func (s *sampled) Write(b []byte) (int, error) { n, err := s.w.Write(b); s.tick(n); return n, err }

// pattern is a reader of n bytes of a position-keyed pattern, made as it
// is read.
type pattern struct{ off, n int64 }

func newPattern(n int64) *pattern { return &pattern{n: n} }

func patternByte(off int64) byte { return byte(off*2654435761>>13) ^ byte(off) }

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	m := min(int64(len(b)), p.n-p.off)
	for i := range m {
		b[i] = patternByte(p.off + i)
	}
	p.off += m
	return int(m), nil
}

// patternCheck checks that what it is given is the pattern.
type patternCheck struct {
	n   int64
	err error
}

func (c *patternCheck) Write(b []byte) (int, error) {
	for i, x := range b {
		if c.err == nil && x != patternByte(c.n+int64(i)) {
			c.err = errors.New("byte differs from the pattern")
		}
	}
	c.n += int64(len(b))
	return len(b), nil
}

// cutStore is a blob store whose gets write half of the blob and then
// find a mismatch, as one does whose bytes were damaged past the start.
type cutStore struct{ ops.BlobStore }

func (c cutStore) Handle(p *effect.P, e effect.Effect) (any, error) {
	if g, ok := e.(ops.BlobGet); ok {
		if g.To != io.Discard {
			v, err := c.BlobStore.Handle(p, ops.BlobStat{CID: g.CID})
			if err != nil {
				return nil, err
			}
			if _, err := g.To.Write(make([]byte, v.(ops.BlobRef).Size/2)); err != nil {
				return nil, err
			}
		}
		return nil, errors.Join(ops.ErrBlobMismatch, errors.New("damaged chunk"))
	}
	return c.BlobStore.Handle(p, e)
}

// TestBlobCutShortIsMismatch: a get whose answer the server cuts short is
// ErrBlobMismatch once the server's verify says so, over HTTP/1.1 and h2c.
func TestBlobCutShortIsMismatch(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		bs, err := blobdir.OpenDir(context.Background(), t.TempDir(), blobdir.Options{})
		require.NoError(t, err)
		s, _ := serve(t, memStore(), server.Options{Blobs: cutStore{bs}}, remote.Options{HTTP2: h2})
		p := effect.Handle(context.Background(), s)
		ref, err := effect.Perform(p, ops.BlobPut{Body: bytes.NewReader(blobtest.Data(1<<20, 3))})
		require.NoError(t, err)
		var buf bytes.Buffer
		_, err = effect.Perform(p, ops.BlobGet{CID: ref.CID, To: &buf})
		require.ErrorIs(t, err, ops.ErrBlobMismatch, "h2 %v", h2)
		assert.Contains(t, err.Error(), "cut short")
		assert.Less(t, buf.Len(), 1<<20)
		require.NoError(t, s.Close())
	}
}
