package persist

import (
	"context"
	"io"

	"github.com/ipfs/go-cid"

	"rose-ash.com/persist/backends/blobdir"
	"rose-ash.com/persist/backends/ipfs"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// BlobRef names a blob by its content: CID, size and media type. Store it
// in an event or a kv value in place of the bytes (its JSON form is
// {"cid": …, "size": …, "type": …}).
type BlobRef = ops.BlobRef

// CID is a content identifier (github.com/ipfs/go-cid).
type CID = cid.Cid

// ParseCID reads a blob CID (see ops.ParseCID).
func ParseCID(s string) (CID, error) { return ops.ParseCID(s) }

// Blobs is a blob store: images and media by content address, beside a
// DB, which keeps only their references. Each method performs one blob
// operation of package ops on the store's handler, as a program would; to
// perform them from programs run on a DB, give the DB the store's handler:
// WithMiddleware(blobs.Handler()).
type Blobs struct {
	store ops.BlobStore
}

// OpenBlobDir opens (creating when absent) a blob store in a local
// directory (backends/blobdir). maxBytes limits one blob; 0 means
// ops.DefaultMaxBlobBytes.
func OpenBlobDir(ctx context.Context, dir string, maxBytes int64) (*Blobs, error) {
	s, err := blobdir.OpenDir(ctx, dir, blobdir.Options{MaxBytes: maxBytes})
	if err != nil {
		return nil, err
	}
	return NewBlobs(s), nil
}

// IPFSOptions configure a blob store on an IPFS node.
type IPFSOptions = ipfs.Options

// OpenIPFS makes a blob store on an IPFS node: writes through its Kubo RPC
// API, reads through a trustless gateway, every block verified
// (backends/ipfs). It does not contact the node.
func OpenIPFS(opts IPFSOptions) (*Blobs, error) {
	s, err := ipfs.New(opts)
	if err != nil {
		return nil, err
	}
	return NewBlobs(s), nil
}

// NewBlobs makes a Blobs of any blob store.
func NewBlobs(s ops.BlobStore) *Blobs { return &Blobs{store: s} }

// Handler is the store's handler, to stack beside a DB's backend.
func (b *Blobs) Handler() effect.Handler { return b.store }

// Close releases the store.
func (b *Blobs) Close() error { return b.store.Close() }

func blobCall[R any](ctx context.Context, b *Blobs, op string, e effect.Op[R]) (R, error) {
	if ctx == nil {
		var zero R
		return zero, nilContext(op)
	}
	return effect.Perform(effect.Handle(ctx, b.store), e)
}

// Put stores the bytes read from r, to its end, and answers their
// reference, with mediaType as given. r is read in pieces, never held
// whole.
func (b *Blobs) Put(ctx context.Context, r io.Reader, mediaType string) (BlobRef, error) {
	return blobCall(ctx, b, "put-blob", ops.BlobPut{Body: r, MediaType: mediaType})
}

// Get writes the bytes of blob c to w, each checked against c before it is
// written (ops.ErrBlobMismatch when they do not match), and answers its
// reference (without a media type).
func (b *Blobs) Get(ctx context.Context, c CID, w io.Writer) (BlobRef, error) {
	return blobCall(ctx, b, "get-blob", ops.BlobGet{CID: c, To: w})
}

// Has reports whether the store has blob c.
func (b *Blobs) Has(ctx context.Context, c CID) (bool, error) {
	return blobCall(ctx, b, "has-blob", ops.BlobHas{CID: c})
}

// Stat answers the reference of blob c (ops.ErrBlobNotFound when the store
// lacks it).
func (b *Blobs) Stat(ctx context.Context, c CID) (BlobRef, error) {
	return blobCall(ctx, b, "stat-blob", ops.BlobStat{CID: c})
}
