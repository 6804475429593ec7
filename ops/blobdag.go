package ops

import (
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
	"google.golang.org/protobuf/encoding/protowire"
)

// The CID rule (see the package doc): UnixFS, balanced layout, fixed-size
// chunks, raw leaves, CID version 1, sha2-256.
const (
	// BlobChunkBytes is the size of a blob's leaves: 256 KiB, Kubo's
	// size-262144 chunker.
	BlobChunkBytes = 256 << 10
	// BlobMaxLinks is the most children a node of a blob's DAG has:
	// Kubo's and boxo's default of 174.
	BlobMaxLinks = 174
	// BlobMaxNodeBytes bounds the encoding of an internal node of a blob's
	// DAG: 174 links of at most 48 bytes, plus the UnixFS data.
	BlobMaxNodeBytes = 16 << 10
)

// BlobDAG computes a blob's CID from its bytes as they are written, holding
// one chunk and the open nodes of the tree (a few KiB per level), never the
// blob. Write the bytes, then call Sum. The zero value is ready to use.
type BlobDAG struct {
	// OnLeaf, when set, is called with each leaf in order: its CID and
	// its bytes (valid only during the call).
	OnLeaf func(c cid.Cid, data []byte) error
	// OnNode, when set, is called with each internal node of the DAG, in
	// the order it is finished (the root last), and its encoded block
	// (valid only during the call).
	OnNode func(c cid.Cid, block []byte) error

	chunk  []byte
	size   int64
	leaves int64
	levels [][]dagLink
	err    error
}

type dagLink struct {
	c     cid.Cid
	tsize uint64 // the bytes of the blocks under the link
	fsize uint64 // the blob bytes under the link
}

// Size is the number of bytes written so far.
func (d *BlobDAG) Size() int64 { return d.size }

// Write adds p to the blob. It fails only when a callback did.
func (d *BlobDAG) Write(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	if d.chunk == nil {
		d.chunk = make([]byte, 0, BlobChunkBytes)
	}
	n := len(p)
	for len(p) > 0 {
		k := min(BlobChunkBytes-len(d.chunk), len(p))
		d.chunk = append(d.chunk, p[:k]...)
		p = p[k:]
		if len(d.chunk) == BlobChunkBytes {
			if err := d.leaf(); err != nil {
				return n - len(p), err
			}
		}
	}
	d.size += int64(n)
	return n, nil
}

// leaf turns the chunk into a raw leaf.
func (d *BlobDAG) leaf() error {
	c := rawCID(d.chunk)
	if d.OnLeaf != nil {
		if err := d.OnLeaf(c, d.chunk); err != nil {
			d.err = err
			return err
		}
	}
	n := uint64(len(d.chunk))
	d.chunk = d.chunk[:0]
	d.leaves++
	return d.add(0, dagLink{c: c, tsize: n, fsize: n})
}

// add appends l to the open node of level k, first closing that node into
// level k+1 when it is full: boxo's balanced layout, built bottom up.
func (d *BlobDAG) add(k int, l dagLink) error {
	if k == len(d.levels) {
		d.levels = append(d.levels, make([]dagLink, 0, BlobMaxLinks))
	}
	if len(d.levels[k]) == BlobMaxLinks {
		node, err := d.close(k)
		if err != nil {
			return err
		}
		if err := d.add(k+1, node); err != nil {
			return err
		}
	}
	d.levels[k] = append(d.levels[k], l)
	return nil
}

// close encodes the open node of level k and empties the level.
func (d *BlobDAG) close(k int) (dagLink, error) {
	links := d.levels[k]
	block := encodeBlobNode(links)
	c := dagPBCID(block)
	if d.OnNode != nil {
		if err := d.OnNode(c, block); err != nil {
			d.err = err
			return dagLink{}, err
		}
	}
	l := dagLink{c: c, tsize: uint64(len(block))}
	for _, x := range links {
		l.tsize += x.tsize
		l.fsize += x.fsize
	}
	d.levels[k] = links[:0]
	return l, nil
}

// Sum finishes the DAG and answers the blob's CID and size. Write must not
// be called after it.
func (d *BlobDAG) Sum() (cid.Cid, int64, error) {
	if d.err != nil {
		return cid.Undef, 0, d.err
	}
	if len(d.chunk) > 0 || d.leaves == 0 {
		if err := d.leaf(); err != nil {
			return cid.Undef, 0, err
		}
	}
	if len(d.levels) == 1 && len(d.levels[0]) == 1 {
		return d.levels[0][0].c, d.size, nil // one chunk: the raw leaf is the blob
	}
	for k := 0; k < len(d.levels); k++ {
		if len(d.levels[k]) == 0 {
			continue
		}
		node, err := d.close(k)
		if err != nil {
			return cid.Undef, 0, err
		}
		if k == len(d.levels)-1 {
			return node.c, d.size, nil
		}
		if err := d.add(k+1, node); err != nil {
			return cid.Undef, 0, err
		}
	}
	return cid.Undef, 0, errors.New("ops: blob DAG has no root") // not reached
}

// BlobCID answers the CID of b by the rule of the package doc.
func BlobCID(b []byte) cid.Cid {
	var d BlobDAG
	_, _ = d.Write(b)
	c, _, _ := d.Sum()
	return c
}

func rawCID(b []byte) cid.Cid { return cid.NewCidV1(cid.Raw, sha256Multihash(b)) }

func dagPBCID(b []byte) cid.Cid { return cid.NewCidV1(cid.DagProtobuf, sha256Multihash(b)) }

func sha256Multihash(b []byte) multihash.Multihash {
	sum := sha256.Sum256(b)
	mh, err := multihash.Encode(sum[:], multihash.SHA2_256)
	if err != nil {
		panic(err) // sha2-256 with 32 bytes is always encodable
	}
	return mh
}

// VerifyBlock reports whether block hashes to c (an error matching
// ErrBlobMismatch when it does not).
func VerifyBlock(c cid.Cid, block []byte) error {
	if err := CheckCID(c); err != nil {
		return err
	}
	sum := sha256.Sum256(block)
	dec, err := multihash.Decode(c.Hash())
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadCID, err)
	}
	if string(dec.Digest) != string(sum[:]) {
		return fmt.Errorf("%w: block of %d bytes does not hash to %s", ErrBlobMismatch, len(block), c)
	}
	return nil
}

// encodeBlobNode gives the dag-pb block of an internal node over links:
// a PBNode whose Links (field 2) each hold Hash (1), an empty Name (2) and
// Tsize (3), followed by Data (1), a UnixFS Data message of Type File (1: 2),
// filesize (3) and one blocksizes entry (4) per link: the bytes go-codec-dagpb
// and boxo's importer write.
func encodeBlobNode(links []dagLink) []byte {
	var b []byte
	var fsize uint64
	for _, l := range links {
		var lb []byte
		lb = protowire.AppendTag(lb, 1, protowire.BytesType)
		lb = protowire.AppendBytes(lb, l.c.Bytes())
		lb = protowire.AppendTag(lb, 2, protowire.BytesType)
		lb = protowire.AppendBytes(lb, nil)
		lb = protowire.AppendTag(lb, 3, protowire.VarintType)
		lb = protowire.AppendVarint(lb, l.tsize)
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, lb)
		fsize += l.fsize
	}
	var data []byte
	data = protowire.AppendTag(data, 1, protowire.VarintType)
	data = protowire.AppendVarint(data, 2) // File
	data = protowire.AppendTag(data, 3, protowire.VarintType)
	data = protowire.AppendVarint(data, fsize)
	for _, l := range links {
		data = protowire.AppendTag(data, 4, protowire.VarintType)
		data = protowire.AppendVarint(data, l.fsize)
	}
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendBytes(b, data)
	return b
}

// BlobNode is a decoded internal node of a blob's DAG.
type BlobNode struct {
	Links      []cid.Cid // the children, in order
	FileSize   uint64    // the blob bytes under the node
	BlockSizes []uint64  // the blob bytes under each child
}

// errNode wraps a dag-pb decoding problem.
func errNode(format string, args ...any) error {
	return fmt.Errorf("%w: dag-pb node: %s", ErrBlobMismatch, fmt.Sprintf(format, args...))
}

// DecodeBlobNode reads the dag-pb block of an internal node of a blob's DAG
// (a UnixFS File node). Anything else, or a block that is not well formed, is
// an error matching ErrBlobMismatch: a verified block of the wrong shape
// cannot belong to a blob this package's rule made.
func DecodeBlobNode(block []byte) (BlobNode, error) {
	var n BlobNode
	var data []byte
	var haveData bool
	for len(block) > 0 {
		num, typ, k := protowire.ConsumeTag(block)
		if k < 0 {
			return n, errNode("bad tag")
		}
		block = block[k:]
		if typ != protowire.BytesType {
			return n, errNode("field %d of wire type %d", num, typ)
		}
		v, k := protowire.ConsumeBytes(block)
		if k < 0 {
			return n, errNode("bad length of field %d", num)
		}
		block = block[k:]
		switch num {
		case 2:
			if haveData {
				return n, errNode("link after data")
			}
			c, err := decodeLink(v)
			if err != nil {
				return n, err
			}
			n.Links = append(n.Links, c)
		case 1:
			if haveData {
				return n, errNode("data twice")
			}
			data, haveData = v, true
		default:
			return n, errNode("unknown field %d", num)
		}
	}
	if !haveData {
		return n, errNode("no data")
	}
	var typ uint64
	var haveType, haveSize bool
	for len(data) > 0 {
		num, wt, k := protowire.ConsumeTag(data)
		if k < 0 || wt != protowire.VarintType {
			return n, errNode("bad unixfs field")
		}
		data = data[k:]
		v, k := protowire.ConsumeVarint(data)
		if k < 0 {
			return n, errNode("bad unixfs varint")
		}
		data = data[k:]
		switch num {
		case 1:
			typ, haveType = v, true
		case 3:
			n.FileSize, haveSize = v, true
		case 4:
			n.BlockSizes = append(n.BlockSizes, v)
		default:
			return n, errNode("unixfs field %d", num)
		}
	}
	if !haveType || typ != 2 || !haveSize {
		return n, errNode("not a unixfs file node")
	}
	if len(n.BlockSizes) != len(n.Links) || len(n.Links) == 0 {
		return n, errNode("%d links and %d block sizes", len(n.Links), len(n.BlockSizes))
	}
	var sum uint64
	for _, s := range n.BlockSizes {
		if s == 0 || sum+s < sum {
			return n, errNode("bad block size %d", s)
		}
		sum += s
	}
	if sum != n.FileSize {
		return n, errNode("block sizes add to %d, filesize %d", sum, n.FileSize)
	}
	return n, nil
}

func decodeLink(b []byte) (cid.Cid, error) {
	var c cid.Cid
	for len(b) > 0 {
		num, typ, k := protowire.ConsumeTag(b)
		if k < 0 {
			return cid.Undef, errNode("bad link tag")
		}
		b = b[k:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			v, k := protowire.ConsumeBytes(b)
			if k < 0 {
				return cid.Undef, errNode("bad link hash")
			}
			b = b[k:]
			parsed, err := cid.Cast(v)
			if err != nil {
				return cid.Undef, errNode("link hash: %v", err)
			}
			if err := CheckCID(parsed); err != nil {
				return cid.Undef, errNode("link: %v", err)
			}
			c = parsed
		case num == 2 && typ == protowire.BytesType:
			_, k := protowire.ConsumeBytes(b)
			if k < 0 {
				return cid.Undef, errNode("bad link name")
			}
			b = b[k:]
		case num == 3 && typ == protowire.VarintType:
			_, k := protowire.ConsumeVarint(b)
			if k < 0 {
				return cid.Undef, errNode("bad link tsize")
			}
			b = b[k:]
		default:
			return cid.Undef, errNode("link field %d", num)
		}
	}
	if !c.Defined() {
		return cid.Undef, errNode("link without hash")
	}
	return c, nil
}
