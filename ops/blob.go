package ops

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"

	"rose-ash.com/persist/effect"
)

// Blob effect names, as printed in traces.
const (
	NameBlobPut  = "persist/blob-put"
	NameBlobGet  = "persist/blob-get"
	NameBlobHas  = "persist/blob-has"
	NameBlobStat = "persist/blob-stat"
)

// DefaultMaxBlobBytes is the size limit of a blob store whose options set
// none: 4 GiB.
const DefaultMaxBlobBytes int64 = 4 << 30

// BlobRef names a blob by its content: the CID of its bytes (computed by the
// rule of the package doc), their size and the media type the caller gave.
// It is what an event or a kv value holds in place of the bytes.
//
// Its JSON form is {"cid": "bafk…", "size": 5, "type": "text/plain"} and its
// SX form {:cid "bafk…" :size 5 :type "text/plain"} (String); sx.Unmarshal
// reads either into a BlobRef. The type is left out when it is empty.
type BlobRef struct {
	CID       cid.Cid
	Size      int64
	MediaType string
}

// String gives the SX form of r.
func (r BlobRef) String() string {
	var b strings.Builder
	b.WriteString(`{:cid "`)
	b.WriteString(r.CID.String())
	b.WriteString(`" :size `)
	b.WriteString(strconv.FormatInt(r.Size, 10))
	if r.MediaType != "" {
		b.WriteString(" :type ")
		b.WriteString(strconv.Quote(r.MediaType))
	}
	b.WriteString("}")
	return b.String()
}

type blobRefJSON struct {
	CID       string `json:"cid"`
	Size      int64  `json:"size"`
	MediaType string `json:"type,omitempty"`
}

// MarshalJSON gives the JSON form of r.
func (r BlobRef) MarshalJSON() ([]byte, error) {
	if !r.CID.Defined() {
		return nil, fmt.Errorf("%w: blob reference without a CID", ErrBadCID)
	}
	return json.Marshal(blobRefJSON{CID: r.CID.String(), Size: r.Size, MediaType: r.MediaType})
}

// UnmarshalJSON reads the JSON form, checking the CID with ParseCID and the
// size (not negative).
func (r *BlobRef) UnmarshalJSON(b []byte) error {
	var j blobRefJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("ops: blob reference: %w", err)
	}
	c, err := ParseCID(j.CID)
	if err != nil {
		return err
	}
	if j.Size < 0 {
		return fmt.Errorf("ops: blob reference: negative size %d", j.Size)
	}
	*r = BlobRef{CID: c, Size: j.Size, MediaType: j.MediaType}
	return nil
}

var (
	// ErrBadCID matches the error of a CID that is malformed or not one a
	// blob store makes (see ParseCID).
	ErrBadCID = errors.New("ops: malformed CID")
	// ErrBlobMismatch matches the error of a read whose bytes do not hash to
	// the CID asked for: the store holds damaged or foreign bytes.
	ErrBlobMismatch = errors.New("ops: blob bytes do not match their CID")
	// ErrBlobNotFound matches the error of a read of a blob the store does
	// not have.
	ErrBlobNotFound = errors.New("ops: blob not found")
	// ErrBlobTooLarge matches the error of a put over the store's size limit.
	ErrBlobTooLarge = errors.New("ops: blob over the size limit")
)

// ParseCID reads a blob CID from its text form. It is one a blob store makes
// or it is an error matching ErrBadCID that says what is wrong: CID version
// 1, the raw (0x55) or dag-pb (0x70) codec, and a sha2-256 multihash of 32
// bytes. The text may be in any multibase the go-cid library reads; String
// gives base32, "bafk…" (raw) or "bafy…" (dag-pb).
func ParseCID(s string) (cid.Cid, error) {
	if s == "" {
		return cid.Undef, fmt.Errorf("%w: empty", ErrBadCID)
	}
	c, err := cid.Decode(s)
	if err != nil {
		return cid.Undef, fmt.Errorf("%w %q: %v", ErrBadCID, clip(s), err)
	}
	if err := CheckCID(c); err != nil {
		return cid.Undef, fmt.Errorf("%w (in %q)", err, clip(s))
	}
	return c, nil
}

// CheckCID reports whether c is a CID a blob store makes (see ParseCID).
func CheckCID(c cid.Cid) error {
	if !c.Defined() {
		return fmt.Errorf("%w: undefined CID", ErrBadCID)
	}
	p := c.Prefix()
	if p.Version != 1 {
		return fmt.Errorf("%w: CID version %d, want 1", ErrBadCID, p.Version)
	}
	if p.Codec != cid.Raw && p.Codec != cid.DagProtobuf {
		return fmt.Errorf("%w: codec 0x%x, want raw (0x55) or dag-pb (0x70)", ErrBadCID, p.Codec)
	}
	if p.MhType != multihash.SHA2_256 || p.MhLength != 32 {
		return fmt.Errorf("%w: multihash 0x%x of %d bytes, want sha2-256 of 32", ErrBadCID, p.MhType, p.MhLength)
	}
	return nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// BlobPut stores the bytes read from Body, to its end, and answers their
// reference, with MediaType as given. Body is read once, in pieces: no
// store holds the whole blob in memory. A blob over the store's limit is an
// error matching ErrBlobTooLarge, and nothing is stored.
type BlobPut struct {
	effect.Returns[BlobRef]
	Body      io.Reader
	MediaType string
}

// BlobGet writes the bytes of the blob CID to To and answers its reference
// (without a media type, which the store does not keep). Every byte is
// checked against CID before it is written: bytes that do not match are an
// error matching ErrBlobMismatch and are never written. A blob the store
// does not have is an error matching ErrBlobNotFound, before any byte.
type BlobGet struct {
	effect.Returns[BlobRef]
	CID cid.Cid
	To  io.Writer
}

// BlobHas answers whether the store has the blob CID.
type BlobHas struct {
	effect.Returns[bool]
	CID cid.Cid
}

// BlobStat answers the reference (CID and size) of a blob the store has, or
// an error matching ErrBlobNotFound.
type BlobStat struct {
	effect.Returns[BlobRef]
	CID cid.Cid
}

func (BlobPut) EffectName() string  { return NameBlobPut }
func (BlobGet) EffectName() string  { return NameBlobGet }
func (BlobHas) EffectName() string  { return NameBlobHas }
func (BlobStat) EffectName() string { return NameBlobStat }

// BlobStore is what a blob backend provides: a handler that answers the four
// blob operations (and ErrUnhandled for any other effect, so it stacks
// beside a storage backend), and a way to release it.
//
// Contract: Handle is safe for concurrent use; it checks each CID with
// CheckCID before anything else; a put that answered is stored whole (and,
// for a durable store, survives a crash), one that failed leaves nothing a
// read would serve; a get never writes a byte it has not verified.
type BlobStore interface {
	effect.Handler
	Close() error
}
