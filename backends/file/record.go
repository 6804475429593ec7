package file

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Record framing. See the package doc for the layout.
const (
	frameSize = 32 // bytes of a record's frame before its payload
	alignment = 8  // every record starts at a multiple of this

	recHeader = 1 // first record of a segment
	recCommit = 2 // one commit
	recSeal   = 3 // last record of a sealed segment
	recGap    = 4 // commit records a compaction replaced (compact.go)

	// maxPayload bounds a record's payload: a commit of MaxCommitBytes with
	// the largest per-event overhead fits with room to spare.
	maxPayload = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errShort means the bytes end before the record does.
var errShort = errors.New("record extends past the end of the data")

// frame is a decoded record.
type frame struct {
	crc     uint32
	typ     uint8
	prev    uint32 // crc of the record before this one
	seg     uint64
	lsn     uint64
	payload []byte // aliases the decoded bytes
	raw     []byte // the whole record, padding included; aliases too
	size    int    // bytes the record occupies, padding included
}

// recordSize is the space a record with an n-byte payload occupies.
func recordSize(n int) int { return alignUp(frameSize + n) }

func alignUp(n int) int { return (n + alignment - 1) &^ (alignment - 1) }

// appendRecord appends a record whose payload is written by fill (which
// appends to the slice it is given and returns it) and returns the buffer
// and the record's crc.
func appendRecord(dst []byte, typ uint8, prev uint32, seg, lsn uint64, fill func([]byte) []byte) ([]byte, uint32) {
	start := len(dst)
	dst = append(dst, make([]byte, frameSize)...)
	if fill != nil {
		dst = fill(dst)
	}
	n := len(dst) - start - frameSize
	h := dst[start : start+frameSize]
	binary.LittleEndian.PutUint32(h[4:], uint32(n))
	h[8] = typ
	binary.LittleEndian.PutUint32(h[12:], prev)
	binary.LittleEndian.PutUint64(h[16:], seg)
	binary.LittleEndian.PutUint64(h[24:], lsn)
	crc := crc32.Update(0, castagnoli, dst[start+4:])
	binary.LittleEndian.PutUint32(h[0:], crc)
	if pad := alignUp(len(dst)-start) - (len(dst) - start); pad > 0 {
		dst = append(dst, make([]byte, pad)...)
	}
	return dst, crc
}

// decodeFrame decodes the record at the start of b. It returns errShort
// when b ends before the record does, and another error when the bytes are
// not a valid record.
func decodeFrame(b []byte) (frame, error) {
	if len(b) < frameSize {
		return frame{}, errShort
	}
	n := binary.LittleEndian.Uint32(b[4:])
	f := frame{
		crc:  binary.LittleEndian.Uint32(b[0:]),
		typ:  b[8],
		prev: binary.LittleEndian.Uint32(b[12:]),
		seg:  binary.LittleEndian.Uint64(b[16:]),
		lsn:  binary.LittleEndian.Uint64(b[24:]),
	}
	if f.typ < recHeader || f.typ > recGap || b[9] != 0 || b[10] != 0 || b[11] != 0 {
		return frame{}, fmt.Errorf("bad record type %d or reserved bytes", f.typ)
	}
	if n > maxPayload {
		return frame{}, fmt.Errorf("payload length %d over the limit", n)
	}
	f.size = recordSize(int(n))
	if len(b) < f.size {
		return frame{}, errShort
	}
	end := frameSize + int(n)
	if got := crc32.Update(0, castagnoli, b[4:end]); got != f.crc {
		return frame{}, fmt.Errorf("checksum mismatch: stored %08x, computed %08x", f.crc, got)
	}
	if !allZero(b[end:f.size]) {
		return frame{}, errors.New("non-zero padding")
	}
	f.payload = b[frameSize:end]
	f.raw = b[:f.size]
	return f, nil
}

// sealInfo is the payload of the seal record of a segment of format
// version 3: what the segment held when it was sealed. Open trusts a
// sealed segment that a checkpoint covers on its header, its seal and
// this; Verify checks it against every byte.
type sealInfo struct {
	firstLSN uint64 // LSN of the segment's header record
	length   uint64 // bytes before the seal: where the seal starts
	sum      uint32 // CRC-32C of those bytes
	lastPos  uint64 // position of the last event before the seal (0: none)
	rev      uint64 // last kv revision before the seal (0: none)
}

// sealPayloadSize is the size of a version 3 seal's payload, and
// sealSize the size of the record.
const sealPayloadSize = 40

var sealSize = recordSize(sealPayloadSize)

// sealSizeOf is the size of a seal record in a segment of version v.
func sealSizeOf(v uint32) int {
	if v >= segVersion {
		return sealSize
	}
	return recordSize(0)
}

func (si sealInfo) append(b []byte) []byte {
	b = binary.LittleEndian.AppendUint64(b, si.firstLSN)
	b = binary.LittleEndian.AppendUint64(b, si.length)
	b = binary.LittleEndian.AppendUint32(b, si.sum)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint64(b, si.lastPos)
	return binary.LittleEndian.AppendUint64(b, si.rev)
}

// decodeSeal decodes the payload of a seal of segment format version v:
// empty before version 3.
func decodeSeal(b []byte, v uint32) (sealInfo, error) {
	if v < segVersion {
		if len(b) != 0 {
			return sealInfo{}, fmt.Errorf("seal of a version %d segment with a %d-byte payload", v, len(b))
		}
		return sealInfo{}, nil
	}
	if len(b) != sealPayloadSize || binary.LittleEndian.Uint32(b[20:]) != 0 {
		return sealInfo{}, fmt.Errorf("malformed seal payload (%d bytes)", len(b))
	}
	return sealInfo{
		firstLSN: binary.LittleEndian.Uint64(b),
		length:   binary.LittleEndian.Uint64(b[8:]),
		sum:      binary.LittleEndian.Uint32(b[16:]),
		lastPos:  binary.LittleEndian.Uint64(b[24:]),
		rev:      binary.LittleEndian.Uint64(b[32:]),
	}, nil
}

// sealRecord encodes the seal of a segment of version v that follows the
// record with checksum prev.
func sealRecord(v uint32, prev uint32, seg, lsn uint64, si sealInfo) ([]byte, uint32) {
	if v < segVersion {
		return appendRecord(nil, recSeal, prev, seg, lsn, nil)
	}
	return appendRecord(nil, recSeal, prev, seg, lsn, si.append)
}

// frameLen reads the total size of the record starting at b (at least
// frameSize bytes), or 0 when its length field is out of range.
func frameLen(b []byte) int {
	n := binary.LittleEndian.Uint32(b[4:])
	if n > maxPayload {
		return 0
	}
	return recordSize(int(n))
}

var zeros [64 << 10]byte

func allZero(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), len(zeros))
		if !bytes.Equal(b[:n], zeros[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}
