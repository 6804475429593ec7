package file

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/uuid"

	"rose-ash.com/persist/backends/backendtest"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// idReader serves io/random from a source of UUIDs, 16 bytes per UUID, so
// that two fresh stores draw the same store id and nonce, and so the same
// event IDs, as the suite's two modes require.
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

func conformanceFactory(t *testing.T) ops.Backend {
	h := &platform.OS{Now: backendtest.Clock(), Rand: &idReader{next: backendtest.IDs()}}
	s, err := Open(effect.Handle(context.Background(), h), filepath.Join(t.TempDir(), "data"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &DB{store: s, os: h}
}

func TestConformance(t *testing.T) {
	backendtest.RunWith(t, conformanceFactory, backendtest.Options{Retention: true})
}
