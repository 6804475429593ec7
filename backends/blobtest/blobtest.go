package blobtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/ipfs/go-cid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// Store is one fresh store of one case.
type Store struct {
	ops.BlobStore
	// Damage, when set, changes one stored byte of the blob c (of a leaf,
	// for a blob of several chunks: the second one when there is one) so
	// that a read finds bytes that do not match. It reports whether it
	// found the blob.
	Damage func(c cid.Cid) bool
}

// Factory opens a fresh, empty store whose size limit is maxBytes (0: the
// default). The suite closes it when the case ends. It is called from
// parallel subtests.
type Factory func(t *testing.T, maxBytes int64) Store

// Case is one named behaviour.
type Case struct {
	Name string
	Doc  string
	Run  func(t *testing.T, f Factory)
}

// Cases lists the suite in order.
func Cases() []Case { return cases }

// Run runs every case against stores from f, as subtests blob/CASE of t.
func Run(t *testing.T, f Factory) {
	if testing.Verbose() {
		names := make([]string, len(cases))
		for i, c := range cases {
			names[i] = "blob/" + c.Name
		}
		t.Logf("conformance roster: %s", strings.Join(names, " "))
	}
	t.Run("blob", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.Name, func(t *testing.T) {
				t.Parallel()
				c.Run(t, f)
			})
		}
	})
}

// Data gives n deterministic pseudo-random bytes.
func Data(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x626c6f62))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n - n%8; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

func open(t *testing.T, f Factory, maxBytes int64) (Store, *effect.P) {
	t.Helper()
	s := f(t, maxBytes)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s, effect.Handle(context.Background(), s)
}

// Put stores b and checks its reference.
func Put(t *testing.T, p *effect.P, b []byte, mediaType string) ops.BlobRef {
	t.Helper()
	ref, err := effect.Perform(p, ops.BlobPut{Body: bytes.NewReader(b), MediaType: mediaType})
	require.NoError(t, err)
	require.Equal(t, ops.BlobCID(b), ref.CID, "the CID of the package ops rule")
	require.Equal(t, int64(len(b)), ref.Size)
	require.Equal(t, mediaType, ref.MediaType)
	return ref
}

// Get reads c back.
func Get(p *effect.P, c cid.Cid) ([]byte, ops.BlobRef, error) {
	var buf bytes.Buffer
	ref, err := effect.Perform(p, ops.BlobGet{CID: c, To: &buf})
	return buf.Bytes(), ref, err
}

func roundTrip(t *testing.T, f Factory, sizes ...int) {
	_, p := open(t, f, 0)
	for i, n := range sizes {
		b := Data(n, uint64(i+n))
		ref := Put(t, p, b, "application/octet-stream")
		got, gref, err := Get(p, ref.CID)
		require.NoError(t, err, "size %d", n)
		assert.True(t, bytes.Equal(b, got), "size %d: bytes read back differ", n)
		assert.Equal(t, ref.CID, gref.CID)
		assert.Equal(t, int64(n), gref.Size)
	}
}

var cases = []Case{
	{"put-get", "a small blob reads back byte for byte under the CID of the ops rule", func(t *testing.T, f Factory) {
		roundTrip(t, f, 1, 11, 4096)
	}},
	{"empty", "the empty blob has the empty raw block's CID and reads back empty", func(t *testing.T, f Factory) {
		_, p := open(t, f, 0)
		ref := Put(t, p, nil, "")
		assert.Equal(t, "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", ref.CID.String())
		got, gref, err := Get(p, ref.CID)
		require.NoError(t, err)
		assert.Empty(t, got)
		assert.Equal(t, int64(0), gref.Size)
	}},
	{"chunks", "blobs at and around the chunk size, and of many chunks, read back whole", func(t *testing.T, f Factory) {
		roundTrip(t, f, ops.BlobChunkBytes-1, ops.BlobChunkBytes, ops.BlobChunkBytes+1, 3<<20+5)
	}},
	{"dedupe", "the same bytes give the same CID, stored once; the reference keeps each put's media type", func(t *testing.T, f Factory) {
		_, p := open(t, f, 0)
		b := Data(70000, 3)
		a := Put(t, p, b, "image/png")
		c := Put(t, p, b, "application/octet-stream")
		assert.Equal(t, a.CID, c.CID)
		got, _, err := Get(p, a.CID)
		require.NoError(t, err)
		assert.True(t, bytes.Equal(b, got))
	}},
	{"has-stat", "has and stat answer for a stored blob and deny a missing one", func(t *testing.T, f Factory) {
		_, p := open(t, f, 0)
		b := Data(300000, 4)
		c := ops.BlobCID(b)
		has, err := effect.Perform(p, ops.BlobHas{CID: c})
		require.NoError(t, err)
		assert.False(t, has)
		_, err = effect.Perform(p, ops.BlobStat{CID: c})
		assert.ErrorIs(t, err, ops.ErrBlobNotFound)
		Put(t, p, b, "")
		has, err = effect.Perform(p, ops.BlobHas{CID: c})
		require.NoError(t, err)
		assert.True(t, has)
		st, err := effect.Perform(p, ops.BlobStat{CID: c})
		require.NoError(t, err)
		assert.Equal(t, c, st.CID)
		assert.Equal(t, int64(len(b)), st.Size)
	}},
	{"missing", "a get of a blob the store lacks is ErrBlobNotFound and writes nothing", func(t *testing.T, f Factory) {
		_, p := open(t, f, 0)
		for _, n := range []int{10, 600000} {
			got, _, err := Get(p, ops.BlobCID(Data(n, 5)))
			assert.ErrorIs(t, err, ops.ErrBlobNotFound)
			assert.Empty(t, got)
		}
	}},
	{"bad-cid", "a CID not of the ops rule's shape is ErrBadCID for get, has and stat", func(t *testing.T, f Factory) {
		_, p := open(t, f, 0)
		v0, err := cid.Decode("QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n")
		require.NoError(t, err)
		cbor := cid.NewCidV1(cid.DagCBOR, ops.BlobCID([]byte("x")).Hash())
		for _, c := range []cid.Cid{cid.Undef, v0, cbor} {
			_, _, err := Get(p, c)
			assert.ErrorIs(t, err, ops.ErrBadCID, "get %s", c)
			_, err = effect.Perform(p, ops.BlobHas{CID: c})
			assert.ErrorIs(t, err, ops.ErrBadCID, "has %s", c)
			_, err = effect.Perform(p, ops.BlobStat{CID: c})
			assert.ErrorIs(t, err, ops.ErrBadCID, "stat %s", c)
		}
	}},
	{"too-large", "a put over the size limit is ErrBlobTooLarge and stores nothing; one at the limit is stored", func(t *testing.T, f Factory) {
		const limit = 700000
		_, p := open(t, f, limit)
		over := Data(limit+1, 6)
		_, err := effect.Perform(p, ops.BlobPut{Body: bytes.NewReader(over)})
		require.ErrorIs(t, err, ops.ErrBlobTooLarge)
		assert.Contains(t, err.Error(), fmt.Sprint(limit))
		has, err := effect.Perform(p, ops.BlobHas{CID: ops.BlobCID(over)})
		require.NoError(t, err)
		assert.False(t, has)
		has, err = effect.Perform(p, ops.BlobHas{CID: ops.BlobCID(over[:limit])})
		require.NoError(t, err)
		assert.False(t, has, "a prefix of the refused blob is not stored either")
		Put(t, p, over[:limit], "")
	}},
	{"reader-error", "a body that fails midway fails the put with its error and stores nothing", func(t *testing.T, f Factory) {
		_, p := open(t, f, 0)
		b := Data(500000, 7)
		boom := errors.New("body broke")
		body := io.MultiReader(bytes.NewReader(b[:300000]), iotest.ErrReader(boom))
		_, err := effect.Perform(p, ops.BlobPut{Body: body})
		require.ErrorIs(t, err, boom)
		for _, c := range []cid.Cid{ops.BlobCID(b[:300000]), ops.BlobCID(b[:ops.BlobChunkBytes])} {
			has, err := effect.Perform(p, ops.BlobHas{CID: c})
			require.NoError(t, err)
			assert.False(t, has)
		}
	}},
	{"small-reads", "a body read in small pieces (a byte, then 97 at a time) gives the same blob", func(t *testing.T, f Factory) {
		_, p := open(t, f, 0)
		b := Data(ops.BlobChunkBytes+999, 8)
		body := io.MultiReader(iotest.OneByteReader(bytes.NewReader(b[:1000])), smallReader{bytes.NewReader(b[1000:]), 97})
		ref, err := effect.Perform(p, ops.BlobPut{Body: body})
		require.NoError(t, err)
		assert.Equal(t, ops.BlobCID(b), ref.CID)
		got, _, err := Get(p, ref.CID)
		require.NoError(t, err)
		assert.True(t, bytes.Equal(b, got))
	}},
	{"damaged", "a stored byte changed makes get ErrBlobMismatch, and no unverified byte reaches the writer", func(t *testing.T, f Factory) {
		s, p := open(t, f, 0)
		if s.Damage == nil {
			t.Skip("the store offers no way to damage its bytes")
		}
		for _, n := range []int{1000, 3*ops.BlobChunkBytes + 1} {
			b := Data(n, uint64(n))
			ref := Put(t, p, b, "")
			require.True(t, s.Damage(ref.CID))
			got, _, err := Get(p, ref.CID)
			require.ErrorIs(t, err, ops.ErrBlobMismatch, "size %d", n)
			require.LessOrEqual(t, len(got), n)
			assert.True(t, bytes.Equal(b[:len(got)], got), "size %d: what was written is a prefix of the blob", n)
			assert.Less(t, len(got), 2*ops.BlobChunkBytes, "size %d: nothing from the damaged chunk on", n)
		}
	}},
	{"concurrent", "many puts and gets at once, of the same and of different blobs, all succeed", func(t *testing.T, f Factory) {
		s, _ := open(t, f, 0)
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for g := range 8 {
			wg.Go(func() {
				p := effect.Handle(context.Background(), s)
				for i := range 4 {
					b := Data(100000+(g%2)*ops.BlobChunkBytes, uint64(i%2+10*(g%3)))
					ref, err := effect.Perform(p, ops.BlobPut{Body: bytes.NewReader(b)})
					if err != nil {
						errs <- err
						return
					}
					got, _, err := Get(p, ref.CID)
					if err != nil || !bytes.Equal(got, b) {
						errs <- fmt.Errorf("get %s: %v (equal %v)", ref.CID, err, bytes.Equal(got, b))
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			assert.NoError(t, err)
		}
	}},
}

// smallReader reads at most n bytes at a time.
type smallReader struct {
	r io.Reader
	n int
}

func (s smallReader) Read(p []byte) (int, error) { return s.r.Read(p[:min(len(p), s.n)]) }
