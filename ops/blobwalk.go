package ops

import (
	"fmt"
	"io"

	"github.com/ipfs/go-cid"
)

// maxBlobDepth bounds the height of a blob's DAG that ReadBlobDAG follows:
// 174^6 leaves of 256 KiB is far beyond any size limit.
const maxBlobDepth = 6

// BlobBlocks fetches one block of a blob's DAG by its CID. What it answers
// is not trusted: ReadBlobDAG checks it against the CID.
type BlobBlocks func(c cid.Cid) ([]byte, error)

// ReadBlobDAG writes the blob c to w, fetching its blocks with fetch, root
// first, depth first: each block is checked against its CID before it is
// read, each leaf before its bytes are written, so w sees only verified
// bytes, in order. It answers the blob's size. A block that does not match,
// or a DAG of the wrong shape (a leaf whose size differs from what its
// parent records, a node too deep), is an error matching ErrBlobMismatch.
// w may be nil to check the blob without writing it.
func ReadBlobDAG(c cid.Cid, fetch BlobBlocks, w io.Writer, maxBytes int64) (int64, error) {
	var root []byte
	size, err := BlobRootSize(c, func(c cid.Cid) ([]byte, error) {
		b, err := fetch(c)
		root = b
		return b, err
	})
	if err != nil {
		return 0, err
	}
	first := true
	once := func(k cid.Cid) ([]byte, error) {
		if first {
			first = false
			return root, nil // verified again by readDAG, at no cost of a fetch
		}
		return fetch(k)
	}
	if maxBytes > 0 && size > maxBytes {
		return 0, fmt.Errorf("%w: %s is %d bytes, the limit is %d", ErrBlobTooLarge, c, size, maxBytes)
	}
	return readDAG(c, once, w, size, 0)
}

// BlobRootSize fetches and verifies the root block of the blob c and
// answers the blob's size, as the root records it.
func BlobRootSize(c cid.Cid, fetch BlobBlocks) (int64, error) {
	if err := CheckCID(c); err != nil {
		return 0, err
	}
	block, err := fetch(c)
	if err != nil {
		return 0, err
	}
	if err := VerifyBlock(c, block); err != nil {
		return 0, err
	}
	if c.Prefix().Codec == cid.Raw {
		if len(block) > BlobChunkBytes {
			return 0, fmt.Errorf("%w: raw block of %d bytes, over the %d of a chunk", ErrBlobMismatch, len(block), BlobChunkBytes)
		}
		return int64(len(block)), nil
	}
	n, err := DecodeBlobNode(block)
	if err != nil {
		return 0, err
	}
	if n.FileSize > 1<<62 {
		return 0, fmt.Errorf("%w: file size %d", ErrBlobMismatch, n.FileSize)
	}
	return int64(n.FileSize), nil
}

func readDAG(c cid.Cid, fetch BlobBlocks, w io.Writer, want int64, depth int) (int64, error) {
	if depth > maxBlobDepth {
		return 0, fmt.Errorf("%w: DAG deeper than %d", ErrBlobMismatch, maxBlobDepth)
	}
	block, err := fetch(c)
	if err != nil {
		return 0, err
	}
	if err := VerifyBlock(c, block); err != nil {
		return 0, err
	}
	if c.Prefix().Codec == cid.Raw {
		if int64(len(block)) != want || len(block) > BlobChunkBytes {
			return 0, fmt.Errorf("%w: leaf %s of %d bytes where its parent records %d", ErrBlobMismatch, c, len(block), want)
		}
		if w == nil {
			return int64(len(block)), nil
		}
		k, err := w.Write(block)
		return int64(k), err
	}
	node, err := DecodeBlobNode(block)
	if err != nil {
		return 0, err
	}
	if int64(node.FileSize) != want {
		return 0, fmt.Errorf("%w: node %s holds %d bytes where its parent records %d", ErrBlobMismatch, c, node.FileSize, want)
	}
	var total int64
	for i, child := range node.Links {
		n, err := readDAG(child, fetch, w, int64(node.BlockSizes[i]), depth+1)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
