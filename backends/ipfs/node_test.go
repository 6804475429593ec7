package ipfs_test

// The IPFS node of these tests is built in the test from boxo, the library
// Kubo is made of, not Kubo itself (Kubo cannot be built from the Go module
// proxy: it replaces go-libp2p with a fork the proxy does not serve). It
// has boxo's blockstore (in memory), boxo's UnixFS importer with the
// balanced layout, a fixed-size chunker, CID version 1 and raw leaves (the
// code path of Kubo's `ipfs add`), and boxo's own gateway handler serving
// the trustless gateway (format=raw and format=car) at /ipfs/. Beside it,
// the RPC endpoints the store uses, /api/v0/add, /api/v0/pin/add and
// /api/v0/pin/ls, answer with the request and response shapes of Kubo's
// RPC reference; the pin set is a map of this test, not boxo's pinner.
// TestKubo runs the same suite against a real Kubo when PERSIST_TEST_KUBO
// names one.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	chunker "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/gateway"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/multiformats/go-multihash"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
)

// node is an IPFS node built from boxo for a test.
type node struct {
	bs   blockstore.Blockstore
	dag  ipld.DAGService
	srv  *httptest.Server
	mu   sync.Mutex
	pins map[string]bool // recursive pins, by multihash
}

func newNode(t testing.TB) *node {
	t.Helper()
	bs := blockstore.NewBlockstore(dssync.MutexWrap(datastore.NewMapDatastore()))
	bserv := blockservice.New(bs, nil)
	n := &node{bs: bs, dag: merkledag.NewDAGService(bserv), pins: map[string]bool{}}
	backend, err := gateway.NewBlocksBackend(bserv)
	require.NoError(t, err)
	gw := gateway.NewHandler(gateway.Config{MetricsRegistry: prometheus.NewRegistry()}, backend)
	mux := http.NewServeMux()
	mux.Handle("/ipfs/", gw)
	mux.HandleFunc("POST /api/v0/add", n.add)
	mux.HandleFunc("POST /api/v0/pin/add", n.pinAdd)
	mux.HandleFunc("POST /api/v0/pin/ls", n.pinLs)
	n.srv = httptest.NewServer(mux)
	t.Cleanup(n.srv.Close)
	return n
}

// importBlob adds r the way `ipfs add --cid-version=1 --raw-leaves
// --chunker=size-N` does: boxo's balanced importer over a size splitter.
func (n *node) importBlob(r io.Reader, chunk int64) (ipld.Node, error) {
	params := helpers.DagBuilderParams{
		Maxlinks:   helpers.DefaultLinksPerBlock,
		RawLeaves:  true,
		CidBuilder: cid.V1Builder{Codec: cid.DagProtobuf, MhType: multihash.SHA2_256},
		Dagserv:    n.dag,
	}
	db, err := params.New(chunker.NewSizeSplitter(r, chunk))
	if err != nil {
		return nil, err
	}
	return balanced.Layout(db)
}

// kuboError answers as Kubo's RPC does on an error.
func kuboError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"Message": msg, "Code": 0, "Type": "error"})
}

// add is /api/v0/add: multipart/form-data with one file part, answered with
// one {"Name", "Hash", "Size"} object per file.
func (n *node) add(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("cid-version") != "1" || q.Get("raw-leaves") != "true" || q.Get("hash") != "sha2-256" {
		kuboError(w, http.StatusBadRequest, "this test node adds with cid-version=1, raw-leaves=true and hash=sha2-256 only")
		return
	}
	chunk := int64(262144)
	if c := q.Get("chunker"); c != "" {
		v, err := strconv.ParseInt(strings.TrimPrefix(c, "size-"), 10, 64)
		if err != nil || !strings.HasPrefix(c, "size-") {
			kuboError(w, http.StatusBadRequest, "unrecognized chunker option: "+c)
			return
		}
		chunk = v
	}
	mr, err := r.MultipartReader()
	if err != nil {
		kuboError(w, http.StatusBadRequest, err.Error())
		return
	}
	part, err := mr.NextPart()
	if err != nil {
		kuboError(w, http.StatusBadRequest, "no file: "+err.Error())
		return
	}
	nd, err := n.importBlob(part, chunk)
	if err != nil {
		kuboError(w, http.StatusInternalServerError, err.Error())
		return
	}
	size, err := nd.Size()
	if err != nil {
		kuboError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if q.Get("pin") != "false" {
		n.pin(nd.Cid())
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"Name": part.FileName(), "Hash": nd.Cid().String(), "Size": strconv.FormatUint(size, 10)})
}

func (n *node) pin(c cid.Cid) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.pins[string(c.Hash())] = true
}

func argCID(w http.ResponseWriter, r *http.Request) (cid.Cid, bool) {
	c, err := cid.Decode(r.URL.Query().Get("arg"))
	if err != nil {
		kuboError(w, http.StatusInternalServerError, "invalid path "+strconv.Quote(r.URL.Query().Get("arg"))+": "+err.Error())
		return cid.Undef, false
	}
	return c, true
}

// pinAdd is /api/v0/pin/add?arg=CID: it checks the whole DAG is there, as
// a recursive pin does, and answers {"Pins": [CID]}.
func (n *node) pinAdd(w http.ResponseWriter, r *http.Request) {
	c, ok := argCID(w, r)
	if !ok {
		return
	}
	err := merkledag.Walk(r.Context(), merkledag.GetLinksWithDAG(n.dag), c, func(cid.Cid) bool { return true })
	if err != nil {
		kuboError(w, http.StatusInternalServerError, "pin: "+err.Error())
		return
	}
	n.pin(c)
	_ = json.NewEncoder(w).Encode(map[string][]string{"Pins": {c.String()}})
}

// pinLs is /api/v0/pin/ls?arg=CID&type=recursive.
func (n *node) pinLs(w http.ResponseWriter, r *http.Request) {
	c, ok := argCID(w, r)
	if !ok {
		return
	}
	n.mu.Lock()
	pinned := n.pins[string(c.Hash())]
	n.mu.Unlock()
	if !pinned {
		kuboError(w, http.StatusInternalServerError, fmt.Sprintf("path '/ipfs/%s' is not pinned", c))
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"Keys": map[string]any{c.String(): map[string]string{"Type": "recursive"}}})
}

// damage replaces the block of c (of its second leaf, for a DAG) with
// bytes that do not match.
func (n *node) damage(c cid.Cid) bool {
	ctx := context.Background()
	if c.Prefix().Codec == cid.DagProtobuf {
		root, err := n.bs.Get(ctx, c)
		if err != nil {
			return false
		}
		nd, err := ops.DecodeBlobNode(root.RawData())
		if err != nil || len(nd.Links) < 2 {
			return false
		}
		c = nd.Links[1]
	}
	b, err := n.bs.Get(ctx, c)
	if err != nil {
		return false
	}
	bad := append([]byte(nil), b.RawData()...)
	bad[len(bad)/2] ^= 0x20
	blk, err := blocks.NewBlockWithCid(bad, c)
	if err != nil {
		return false
	}
	if err := n.bs.DeleteBlock(ctx, c); err != nil {
		return false
	}
	return n.bs.Put(ctx, blk) == nil
}

func newServer(t testing.TB, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
