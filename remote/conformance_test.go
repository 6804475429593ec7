package remote_test

import (
	"context"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/backendtest"
	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/backends/mem"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
	"rose-ash.com/persist/remote"
	"rose-ash.com/persist/server"
)

// served is a client of a server of its own, on loopback: closing it
// closes the client, then shuts the server down, which closes the store.
type served struct {
	*remote.Client
	srv *server.Server
}

func (s *served) Close() error {
	err := s.Client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if serr := s.srv.Shutdown(ctx); serr != nil && err == nil {
		err = serr
	}
	return err
}

// serve starts a server of store on a loopback port and dials it.
func serve(t testing.TB, store ops.Backend, sopts server.Options, copts remote.Options) (*served, string) {
	t.Helper()
	srv, err := server.New(store, sopts)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln, "", "") }()
	url := "http://" + ln.Addr().String()
	c, err := remote.Dial(url, copts)
	require.NoError(t, err)
	return &served{Client: c, srv: srv}, url
}

func memStore() ops.Backend {
	return mem.New(mem.WithClock(backendtest.Clock()), mem.WithIDs(backendtest.IDs()))
}

// fileBackend runs a file store on the real OS, as file.DB does, with the
// suite's deterministic clock and event IDs.
type fileBackend struct {
	s     *file.Store
	os    *platform.OS
	syncs atomic.Uint64 // fdatasync and fsync effects performed
	count effect.Handler
}

func (b *fileBackend) Handle(p *effect.P, e effect.Effect) (any, error) {
	ctx := context.Background()
	if _, ok := e.(ops.Wait); ok && p != nil {
		ctx = p.Context()
	}
	return b.s.Handle(effect.Handle(ctx, b.count, b.os), e)
}

func (b *fileBackend) Close() error { return b.s.Close(effect.Handle(context.Background(), b.os)) }

// idReader serves io/random from a source of UUIDs, so that two fresh
// stores draw the same store id and nonce, and so the same event IDs.
type idReader struct {
	mu   sync.Mutex
	next func() uuid.UUID
	buf  []byte
}

func (r *idReader) Read(b []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for n < len(b) {
		if len(r.buf) == 0 {
			id := r.next()
			r.buf = id[:]
		}
		c := copy(b[n:], r.buf)
		r.buf = r.buf[c:]
		n += c
	}
	return n, nil
}

func fileStore(t testing.TB, dir string) *fileBackend {
	t.Helper()
	h := &platform.OS{Now: backendtest.Clock(), Rand: &idReader{next: backendtest.IDs()}}
	s, err := file.Open(effect.Handle(context.Background(), h), dir, file.Options{})
	require.NoError(t, err)
	b := &fileBackend{s: s, os: h}
	b.count = effect.HandlerFunc(func(p *effect.P, e effect.Effect) (any, error) {
		switch e.(type) {
		case platform.Fdatasync, platform.Fsync:
			b.syncs.Add(1)
		}
		return nil, effect.ErrUnhandled
	})
	return b
}

func TestConformanceMem(t *testing.T) {
	backendtest.RunWith(t, func(t *testing.T) ops.Backend {
		c, _ := serve(t, memStore(), server.Options{}, remote.Options{})
		return c
	}, backendtest.Options{Retention: true})
}

func TestConformanceFile(t *testing.T) {
	backendtest.RunWith(t, func(t *testing.T) ops.Backend {
		c, _ := serve(t, fileStore(t, filepath.Join(t.TempDir(), "data")), server.Options{}, remote.Options{})
		return c
	}, backendtest.Options{Retention: true})
}

// TestConformanceMemJSON runs the suite in the JSON notation over HTTP/2
// (h2c), so both notations and both protocols keep the contract.
func TestConformanceMemJSON(t *testing.T) {
	backendtest.RunWith(t, func(t *testing.T) ops.Backend {
		c, _ := serve(t, memStore(), server.Options{}, remote.Options{JSON: true, HTTP2: true})
		return c
	}, backendtest.Options{Retention: true})
}

// TestConformanceMemGather runs the suite without the pipe, with
// concurrent operations gathered into batches.
func TestConformanceMemGather(t *testing.T) {
	backendtest.RunWith(t, func(t *testing.T) ops.Backend {
		c, _ := serve(t, memStore(), server.Options{}, remote.Options{NoPipe: true, Gather: true})
		return c
	}, backendtest.Options{Retention: true})
}

// TestConformanceMemPerRequest runs the suite with every operation its own
// request, as an SX host performs them.
func TestConformanceMemPerRequest(t *testing.T) {
	backendtest.RunWith(t, func(t *testing.T) ops.Backend {
		c, _ := serve(t, memStore(), server.Options{}, remote.Options{NoPipe: true})
		return c
	}, backendtest.Options{Retention: true})
}
