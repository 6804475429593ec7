package ops

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/sx"
)

func blobBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// Known CIDs of `ipfs add --cid-version=1 --raw-leaves --chunker=size-262144`:
// the empty blob and "hello\n" are single raw blocks.
func TestBlobCIDKnown(t *testing.T) {
	assert.Equal(t, "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", BlobCID(nil).String())
	assert.Equal(t, "bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am", BlobCID([]byte("hello\n")).String())
}

func TestBlobDAGWriteInPiecesMatchesWhole(t *testing.T) {
	for _, n := range []int{0, 1, BlobChunkBytes - 1, BlobChunkBytes, BlobChunkBytes + 1, 3*BlobChunkBytes + 17} {
		b := blobBytes(n, uint64(n))
		var d BlobDAG
		for rest := b; len(rest) > 0; {
			k := min(len(rest), 1000+len(rest)%7777)
			_, err := d.Write(rest[:k])
			require.NoError(t, err)
			rest = rest[k:]
		}
		c, size, err := d.Sum()
		require.NoError(t, err)
		assert.Equal(t, int64(n), size)
		assert.Equal(t, BlobCID(b), c, "n=%d", n)
		want := cid.Raw
		if n > BlobChunkBytes {
			want = cid.DagProtobuf
		}
		assert.Equal(t, uint64(want), c.Prefix().Codec, "n=%d", n)
	}
}

// memBlocks collects a DAG's blocks as BlobDAG makes them.
func memBlocks(t *testing.T, b []byte) (cid.Cid, map[cid.Cid][]byte) {
	t.Helper()
	blocks := map[cid.Cid][]byte{}
	d := BlobDAG{
		OnLeaf: func(c cid.Cid, data []byte) error { blocks[c] = bytes.Clone(data); return nil },
		OnNode: func(c cid.Cid, block []byte) error { blocks[c] = bytes.Clone(block); return nil },
	}
	_, err := d.Write(b)
	require.NoError(t, err)
	c, _, err := d.Sum()
	require.NoError(t, err)
	return c, blocks
}

func fetchFrom(blocks map[cid.Cid][]byte) BlobBlocks {
	return func(c cid.Cid) ([]byte, error) {
		b, ok := blocks[c]
		if !ok {
			return nil, fmt.Errorf("%w: %s", ErrBlobNotFound, c)
		}
		return b, nil
	}
}

// The DAG of a blob of more than 174 chunks has two levels, every leaf at
// the same depth, and reads back whole.
func TestBlobDAGShapeAndReadBack(t *testing.T) {
	n := (BlobMaxLinks+2)*BlobChunkBytes + 5 // 177 leaves
	b := blobBytes(n, 7)
	root, blocks := memBlocks(t, b)
	node, err := DecodeBlobNode(blocks[root])
	require.NoError(t, err)
	require.Len(t, node.Links, 2, "a full node of 174 leaves and one of 3")
	assert.Equal(t, uint64(n), node.FileSize)
	first, err := DecodeBlobNode(blocks[node.Links[0]])
	require.NoError(t, err)
	assert.Len(t, first.Links, BlobMaxLinks)
	second, err := DecodeBlobNode(blocks[node.Links[1]])
	require.NoError(t, err)
	assert.Len(t, second.Links, 3)

	var out bytes.Buffer
	size, err := ReadBlobDAG(root, fetchFrom(blocks), &out, 0)
	require.NoError(t, err)
	assert.Equal(t, int64(n), size)
	assert.True(t, bytes.Equal(b, out.Bytes()))
}

// A damaged leaf is an error, and none of its bytes reach the writer.
func TestReadBlobDAGStopsAtDamage(t *testing.T) {
	b := blobBytes(3*BlobChunkBytes, 9)
	root, blocks := memBlocks(t, b)
	node, err := DecodeBlobNode(blocks[root])
	require.NoError(t, err)
	bad := bytes.Clone(blocks[node.Links[1]])
	bad[100] ^= 1
	blocks[node.Links[1]] = bad
	var out bytes.Buffer
	_, err = ReadBlobDAG(root, fetchFrom(blocks), &out, 0)
	require.ErrorIs(t, err, ErrBlobMismatch)
	assert.Equal(t, BlobChunkBytes, out.Len(), "only the verified first leaf was written")
	assert.True(t, bytes.Equal(b[:BlobChunkBytes], out.Bytes()))

	_, err = ReadBlobDAG(root, fetchFrom(blocks), nil, 2*BlobChunkBytes)
	require.ErrorIs(t, err, ErrBlobTooLarge)
}

func TestBlobRefForms(t *testing.T) {
	r := BlobRef{CID: BlobCID([]byte("hello\n")), Size: 6, MediaType: "text/plain"}
	j, err := json.Marshal(r)
	require.NoError(t, err)
	assert.JSONEq(t, `{"cid":"bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am","size":6,"type":"text/plain"}`, string(j))
	var back BlobRef
	require.NoError(t, json.Unmarshal(j, &back))
	assert.Equal(t, r, back)
	assert.Equal(t, `{:cid "bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am" :size 6 :type "text/plain"}`, r.String())

	for _, bad := range []string{
		`{"cid":"","size":1}`,
		`{"cid":"bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6a","size":1}`,
		`{"cid":"QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n","size":1}`,
		`{"cid":"bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am","size":-1}`,
	} {
		assert.Error(t, json.Unmarshal([]byte(bad), &back), bad)
	}
	_, err = json.Marshal(BlobRef{})
	assert.ErrorIs(t, err, ErrBadCID)
}

func TestParseCIDErrors(t *testing.T) {
	for s, want := range map[string]string{
		"":         "empty",
		"nonsense": "malformed CID",
		"QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n":                                                                 "version 0",
		"bafyreigbtj4x7ip5legnfznufuopl4sg4knzc2cof6duas4b3q2fy6swua":                                                    "codec 0x71",
		"bafkr2qffyprvhimferhyfkg6af63marfiplxn6euhncxwy3izaefj3g73ilqlzo5kdgvcbm4aknifudqfwb2gnyxwuv5r5ltgtdyyd4xzmxg4": "want sha2-256",
	} {
		_, err := ParseCID(s)
		require.Error(t, err, s)
		assert.ErrorIs(t, err, ErrBadCID)
		assert.Contains(t, err.Error(), want, s)
	}
	c, err := ParseCID("bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am")
	require.NoError(t, err)
	assert.Equal(t, BlobCID([]byte("hello\n")), c)
}

func TestDecodeBlobNodeRejects(t *testing.T) {
	good := encodeBlobNode([]dagLink{{c: rawCID([]byte("a")), tsize: 1, fsize: 1}})
	_, err := DecodeBlobNode(good)
	require.NoError(t, err)
	for name, b := range map[string][]byte{
		"empty":     nil,
		"truncated": good[:len(good)-1],
		"garbage":   []byte{0xff, 0xff, 0xff},
	} {
		_, err := DecodeBlobNode(b)
		assert.ErrorIs(t, err, ErrBlobMismatch, name)
	}
}

func FuzzParseCID(f *testing.F) {
	f.Add("bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am")
	f.Add("bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi")
	f.Add("QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n")
	f.Add("")
	f.Add("b")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCID(s)
		if err != nil {
			if !errors.Is(err, ErrBadCID) {
				t.Fatalf("error %v does not match ErrBadCID", err)
			}
			return
		}
		back, err := ParseCID(c.String())
		if err != nil || !back.Equals(c) {
			t.Fatalf("%s does not round trip: %v", c, err)
		}
		j, err := json.Marshal(BlobRef{CID: c, Size: 1})
		if err != nil {
			t.Fatal(err)
		}
		var r BlobRef
		if err := json.Unmarshal(j, &r); err != nil || !r.CID.Equals(c) {
			t.Fatalf("ref of %s does not round trip: %v", c, err)
		}
	})
}

func FuzzBlobRefJSON(f *testing.F) {
	f.Add([]byte(`{"cid":"bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am","size":6,"type":"text/plain"}`))
	f.Add([]byte(`{"cid":5}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r BlobRef
		if err := json.Unmarshal(b, &r); err != nil {
			return
		}
		j, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back BlobRef
		if err := json.Unmarshal(j, &back); err != nil || back != r {
			t.Fatalf("%s does not round trip: %v", j, err)
		}
	})
}

func FuzzDecodeBlobNode(f *testing.F) {
	f.Add(encodeBlobNode([]dagLink{{c: rawCID([]byte("a")), tsize: 1, fsize: 1}, {c: rawCID([]byte("bc")), tsize: 2, fsize: 2}}))
	f.Add([]byte{0x0a, 0x02, 0x08, 0x02})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := DecodeBlobNode(b)
		if err != nil {
			if !errors.Is(err, ErrBlobMismatch) {
				t.Fatalf("error %v does not match ErrBlobMismatch", err)
			}
			return
		}
		if len(n.Links) != len(n.BlockSizes) {
			t.Fatalf("decoded %d links and %d sizes", len(n.Links), len(n.BlockSizes))
		}
	})
}

// The SX form reads back through the sx package's rule (SX stands for the
// JSON value it converts to).
func TestBlobRefSXForm(t *testing.T) {
	r := BlobRef{CID: BlobCID(blobBytes(300000, 2)), Size: 300000, MediaType: "image/png"}
	var back BlobRef
	require.NoError(t, sx.Unmarshal([]byte(r.String()), &back))
	assert.Equal(t, r, back)
	noType := BlobRef{CID: r.CID, Size: 1}
	require.NoError(t, sx.Unmarshal([]byte(noType.String()), &back))
	assert.Equal(t, noType, back)
	assert.Error(t, sx.Unmarshal([]byte(`{:cid "bafynope" :size 1}`), &back))
}
