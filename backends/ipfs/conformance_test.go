package ipfs_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/blobtest"
	"rose-ash.com/persist/backends/ipfs"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

func nodeFactory(t *testing.T, maxBytes int64) blobtest.Store {
	n := newNode(t)
	s, err := ipfs.New(ipfs.Options{API: n.srv.URL, Gateway: n.srv.URL, MaxBytes: maxBytes})
	require.NoError(t, err)
	return blobtest.Store{BlobStore: s, Damage: n.damage}
}

// TestConformance runs the blob suite against an IPFS node built from boxo
// in the test (see node_test.go): not Kubo, but Kubo's importer, blockstore
// and gateway code behind Kubo's RPC shapes.
func TestConformance(t *testing.T) { blobtest.Run(t, nodeFactory) }

// TestKubo runs the blob suite against a real Kubo: PERSIST_TEST_KUBO names
// its RPC API and gateway as "http://127.0.0.1:5001" (the gateway then at
// port 8080 of the same host) or "API,GATEWAY". It is skipped when unset.
// The damage case is skipped there: the suite cannot reach into a real
// node's blockstore.
func TestKubo(t *testing.T) {
	env := os.Getenv("PERSIST_TEST_KUBO")
	if env == "" {
		t.Skip("PERSIST_TEST_KUBO is not set: no real Kubo to run the blob suite against")
	}
	api, gw, ok := strings.Cut(env, ",")
	if !ok {
		gw = strings.Replace(api, ":5001", ":8080", 1)
	}
	blobtest.Run(t, func(t *testing.T, maxBytes int64) blobtest.Store {
		s, err := ipfs.New(ipfs.Options{API: api, Gateway: gw, MaxBytes: maxBytes})
		require.NoError(t, err)
		return blobtest.Store{BlobStore: s}
	})
}

// The CID rule of package ops gives the CID boxo's importer gives, for
// blobs from 0 bytes to 10 MiB and for one of two levels (175 chunks), and
// the very same dag-pb blocks.
func TestCIDsMatchBoxo(t *testing.T) {
	n := newNode(t)
	sizes := []int{0, 1, 2, 100, 1000, 4096, ops.BlobChunkBytes - 1, ops.BlobChunkBytes, ops.BlobChunkBytes + 1,
		2 * ops.BlobChunkBytes, 1 << 20, 1<<20 + 1, 3<<20 + 12345, 10 << 20,
		ops.BlobMaxLinks * ops.BlobChunkBytes, ops.BlobMaxLinks*ops.BlobChunkBytes + 1}
	for i := range 8 {
		sizes = append(sizes, int(blobtest.Data(4, uint64(i))[0])<<15+i)
	}
	for _, size := range sizes {
		if raceEnabled && size > 10<<20 {
			continue // the race detector makes hashing 44 MiB slow; plain runs cover it
		}
		b := blobtest.Data(size, uint64(size))
		nd, err := n.importBlob(bytes.NewReader(b), ops.BlobChunkBytes)
		require.NoError(t, err)
		var blocks int
		dag := ops.BlobDAG{OnNode: func(c cid.Cid, block []byte) error {
			got, err := n.bs.Get(context.Background(), c)
			if err != nil {
				return fmt.Errorf("boxo made no block %s: %w", c, err)
			}
			if !bytes.Equal(got.RawData(), block) {
				return fmt.Errorf("block %s differs from boxo's", c)
			}
			blocks++
			return nil
		}}
		_, err = dag.Write(b)
		require.NoError(t, err)
		c, _, err := dag.Sum()
		require.NoError(t, err, "size %d", size)
		assert.Equal(t, nd.Cid().String(), c.String(), "size %d", size)
		if size > ops.BlobChunkBytes {
			assert.Positive(t, blocks, "size %d: internal blocks compared", size)
		}
	}
}

// An unreachable node is an ErrUnreachable naming its address; a malformed
// node URL is refused at New.
func TestUnreachable(t *testing.T) {
	n := newNode(t)
	addr := n.srv.URL
	n.srv.Close()
	s, err := ipfs.New(ipfs.Options{API: addr, Gateway: addr})
	require.NoError(t, err)
	p := effect.Handle(context.Background(), s)
	_, err = effect.Perform(p, ops.BlobPut{Body: bytes.NewReader([]byte("x"))})
	require.ErrorIs(t, err, ipfs.ErrUnreachable)
	assert.Contains(t, err.Error(), strings.TrimPrefix(addr, "http://"))
	var buf bytes.Buffer
	_, err = effect.Perform(p, ops.BlobGet{CID: ops.BlobCID([]byte("x")), To: &buf})
	require.ErrorIs(t, err, ipfs.ErrUnreachable)
	_, err = effect.Perform(p, ops.BlobHas{CID: ops.BlobCID([]byte("x"))})
	require.ErrorIs(t, err, ipfs.ErrUnreachable)

	for _, bad := range []string{"", "localhost:5001", "ftp://x", "http://"} {
		_, err := ipfs.New(ipfs.Options{API: "http://127.0.0.1:5001", Gateway: bad})
		assert.Error(t, err, bad)
	}
}

// A node that names a blob differently from the CID rule (another chunker)
// fails the put, naming both CIDs, and pins nothing.
func TestNodeWithAnotherLayout(t *testing.T) {
	n := newNode(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v0/add", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		q.Set("chunker", "size-1024")
		r.URL.RawQuery = q.Encode()
		n.add(w, r)
	})
	mux.Handle("/", n.srv.Config.Handler)
	other := newServer(t, mux)
	s, err := ipfs.New(ipfs.Options{API: other, Gateway: other})
	require.NoError(t, err)
	b := blobtest.Data(5000, 1)
	_, err = s.Handle(effect.Handle(context.Background()), ops.BlobPut{Body: bytes.NewReader(b)})
	require.Error(t, err)
	assert.Contains(t, err.Error(), ops.BlobCID(b).String())
	has, err := s.Handle(nil, ops.BlobHas{CID: ops.BlobCID(b)})
	require.NoError(t, err)
	assert.Equal(t, false, has)
}
