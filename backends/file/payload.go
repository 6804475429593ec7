package file

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/google/uuid"

	"rose-ash.com/persist/ops"
)

// Snapshot file format versions (checkpoints have ckptVersion). Format 2
// numbers generations per name and records each file's generation and
// Keep in its body; format 1 files, written before, are still read.
const (
	snapFormat1 = 1
	snapFormat2 = 2
	snapFormat  = snapFormat2 // written by this version
)

// Segment format versions (the header's version field). Version 2 rolls
// so that a sealed segment proves its successor durable and writes every
// record into space whose size is already durable; version 3 adds what
// the seal records of the segment (see sealInfo); version 1 segments,
// written before, are read under their own rules (see the package doc).
const (
	segVersion1 = 1
	segVersion2 = 2
	segVersion  = 3 // written by this version
)

var segMagic = [8]byte{'p', 'e', 'r', 's', 'i', 's', 't', 'L'}

// headerPayload is the payload of a segment's header record.
func headerPayload(dst []byte, store [16]byte) []byte {
	dst = append(dst, segMagic[:]...)
	dst = binary.LittleEndian.AppendUint32(dst, segVersion)
	dst = binary.LittleEndian.AppendUint32(dst, 0)
	return append(dst, store[:]...)
}

// decodeHeader gives the store id and format version of a segment header.
func decodeHeader(b []byte) ([16]byte, uint32, error) {
	var id [16]byte
	if len(b) != 32 || [8]byte(b[:8]) != segMagic {
		return id, 0, errors.New("not a segment header")
	}
	v := binary.LittleEndian.Uint32(b[8:])
	if v < segVersion1 || v > segVersion {
		return id, 0, fmt.Errorf("unknown format version %d", v)
	}
	copy(id[:], b[16:])
	return id, v, nil
}

// commitRec is a decoded commit record. Its byte slices alias the record.
type commitRec struct {
	at       int64  // unix nanoseconds
	firstPos uint64 // position of the first event, 0 when there are none
	rev      uint64 // kv revision, 0 when there are no kv changes
	parts    []partRec
	kv       []kvRec
	meta     []metaRec // stream metadata changes (retention.go)
}

type partRec struct {
	stream   string
	firstSeq uint64
	events   []evRec
	n        int // events, also when they were skipped

	// The events' IDs: when decoding with the events skipped, and when
	// encoding a new commit, where src holds the caller's events in place
	// of events.
	ids []uuid.UUID
	src []ops.EventData
}

// id is the ID of the part's event j.
func (p *partRec) id(j int) uuid.UUID {
	if p.ids != nil {
		return p.ids[j]
	}
	return p.events[j].id
}

type evRec struct {
	id   uuid.UUID
	typ  string
	data []byte
}

const (
	kvPut = 1
	kvDel = 2
)

type kvRec struct {
	op    uint8
	key   string
	value []byte
	// had tells, for a state whose keys lie in a kv run, whether the key
	// had a value before the change: not encoded, set by whoever looked
	// it up (the commit's overlay, the recovery) before the state applies
	// the record.
	had bool
	// revs are the key's kept history revisions as the state's kv run
	// holds them, for a key whose history the state does not hold in
	// memory: set, as had, by whoever looked the key up.
	revs []uint64
}

func (c *commitRec) events() int {
	n := 0
	for _, p := range c.parts {
		n += p.n
	}
	return n
}

// appendCommit encodes c.
func appendCommit(dst []byte, c *commitRec) []byte {
	dst = binary.AppendVarint(dst, c.at)
	dst = binary.AppendUvarint(dst, c.firstPos)
	dst = binary.AppendUvarint(dst, c.rev)
	dst = binary.AppendUvarint(dst, uint64(len(c.parts)))
	for _, p := range c.parts {
		dst = appendString(dst, p.stream)
		dst = binary.AppendUvarint(dst, p.firstSeq)
		if p.src != nil {
			dst = binary.AppendUvarint(dst, uint64(len(p.src)))
			for j := range p.src {
				dst = appendEvent(dst, p.ids[j], p.src[j].Type, p.src[j].Data)
			}
			continue
		}
		dst = binary.AppendUvarint(dst, uint64(len(p.events)))
		for _, e := range p.events {
			dst = appendEvent(dst, e.id, e.typ, e.data)
		}
	}
	dst = binary.AppendUvarint(dst, uint64(len(c.kv)))
	for _, k := range c.kv {
		dst = append(dst, k.op)
		dst = appendString(dst, k.key)
		if k.op == kvPut {
			dst = binary.AppendUvarint(dst, uint64(len(k.value)))
			dst = append(dst, k.value...)
		}
	}
	return appendMeta(dst, c.meta)
}

func appendEvent(dst []byte, id uuid.UUID, typ string, data []byte) []byte {
	dst = append(dst, id[:]...)
	dst = appendString(dst, typ)
	dst = binary.AppendUvarint(dst, uint64(len(data)))
	return append(dst, data...)
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// decoder reads a payload; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

// uvarintLen is the length of the shortest encoding of v.
func uvarintLen(v uint64) int { return max(1, (bits.Len64(v)+6)/7) }

var errPayload = errors.New("malformed commit payload")

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errPayload
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	// A value under 128 is one byte, which is always its shortest
	// encoding: the common case takes no call.
	if b := d.b; len(b) > 0 && b[0] < 0x80 {
		d.b = b[1:]
		return uint64(b[0])
	}
	return d.uvarintLong()
}

// uvarintLong is uvarint of a value that does not fit in one byte (or of
// a malformed one).
func (d *decoder) uvarintLong() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 || n != uvarintLen(v) {
		d.fail() // malformed, or not the shortest encoding
		return 0
	}
	d.b = d.b[n:]
	return v
}

// u32 is a uvarint that must fit in 32 bits.
func (d *decoder) u32() uint32 {
	v := d.uvarint()
	if v > 1<<32-1 {
		d.fail()
		return 0
	}
	return uint32(v)
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 || n != uvarintLen(uint64(v)<<1^uint64(v>>63)) {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	if n, i := shortLen(d.b, 0); i > 0 && i+n <= len(d.b) {
		v := d.b[i : i+n : i+n]
		d.b = d.b[i+n:]
		return v
	}
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) count(min int) int {
	n := d.uvarint()
	if n > uint64(len(d.b)/min+1) {
		d.fail()
		return 0
	}
	return int(n)
}

// decodeCommit decodes a commit payload. With skipEvents, events are
// walked over but not kept (parts carry only their counts and IDs): what
// recovery needs. only, when not empty, keeps the events of that stream alone.
func decodeCommit(b []byte, skipEvents bool, only string) (commitRec, error) {
	var c commitRec
	if err := decodeCommitInto(b, skipEvents, only, &c); err != nil {
		return commitRec{}, err
	}
	return c, nil
}

// decodeCommitInto decodes a commit payload into c as decodeCommit does,
// reusing c's parts and their ID slices where they are long enough, and
// a part's stream name when the record names the same stream: replay
// decodes every record of the tail into one commitRec, which made about
// 240 bytes of garbage a one-event commit otherwise. Nothing of c may be
// kept past the next decode but its strings, kv changes and metadata,
// which are new each time.
func decodeCommitInto(b []byte, skipEvents bool, only string, c *commitRec) error {
	d := decoder{b: b}
	parts := c.parts[:0]
	*c = commitRec{}
	c.at = d.varint()
	c.firstPos = d.uvarint()
	c.rev = d.uvarint()
	prevType := "" // events of a commit mostly share their type
	np := d.count(3)
	if np > 0 {
		if cap(parts) < np {
			parts = make([]partRec, np)
		}
		c.parts = parts[:np]
	}
	for i := 0; i < np && d.err == nil; i++ {
		p := &c.parts[i]
		oldName, oldIDs := p.stream, p.ids[:0]
		*p = partRec{}
		if name := d.bytes(); string(name) == oldName {
			p.stream = oldName
		} else {
			p.stream = string(name)
		}
		p.firstSeq = d.uvarint()
		p.n = d.count(18)
		keep := !skipEvents && (only == "" || only == p.stream)
		if keep && p.n > 0 {
			p.events = make([]evRec, p.n)
		}
		if skipEvents && p.n > 0 {
			if cap(oldIDs) < p.n {
				oldIDs = make([]uuid.UUID, p.n)
			}
			p.ids = oldIDs[:p.n]
		}
		for j := 0; j < p.n && d.err == nil; j++ {
			if len(d.b) < 16 {
				d.fail()
				break
			}
			var id uuid.UUID
			copy(id[:], d.b[:16])
			d.b = d.b[16:]
			typ := d.bytes()
			data := d.bytes()
			if keep {
				t := prevType
				if string(typ) != t {
					t = string(typ)
					prevType = t
				}
				p.events[j] = evRec{id: id, typ: t, data: data}
			} else if skipEvents {
				p.ids[j] = id
			}
		}
	}
	nk := d.count(2)
	if nk > 0 {
		c.kv = make([]kvRec, nk)
	}
	for i := 0; i < nk && d.err == nil; i++ {
		if len(d.b) < 1 {
			d.fail()
			break
		}
		k := &c.kv[i]
		k.op = d.b[0]
		d.b = d.b[1:]
		k.key = string(d.bytes())
		switch k.op {
		case kvPut:
			k.value = d.bytes()
		case kvDel:
		default:
			d.fail()
		}
	}
	c.meta = d.meta()
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", errPayload, len(d.b))
	}
	return nil
}

// commitScan walks a commit payload without allocating: its header, then
// each part and its events, then the kv changes, with the checks
// decodeCommit makes. Its byte slices alias the payload.
//
//	var c commitScan
//	c.start(payload)
//	for c.part() {
//		for j := 0; c.event(); j++ { ... c.id, c.typ, c.data ... }
//	}
//	err := c.finish()
type commitScan struct {
	d        decoder
	at       int64
	firstPos uint64
	rev      uint64
	parts    int // parts not begun yet

	// The current part: its stream, first seq and number of events, and
	// how many of them are still to be read.
	stream   []byte
	firstSeq uint64
	n        int
	left     int

	// The current event.
	id   [16]byte
	typ  []byte
	data []byte
}

// start reads the payload's header.
func (c *commitScan) start(b []byte) {
	*c = commitScan{d: decoder{b: b}}
	c.at = c.d.varint()
	c.firstPos = c.d.uvarint()
	c.rev = c.d.uvarint()
	c.parts = c.d.count(3)
}

// part begins the next part, walking over the events of the current one
// that were not read; false when no part is left or the payload is
// malformed.
func (c *commitScan) part() bool {
	for c.skip() {
	}
	if c.parts == 0 || c.d.err != nil {
		return false
	}
	c.parts--
	c.stream = c.d.bytes()
	c.firstSeq = c.d.uvarint()
	c.n = c.d.count(18)
	c.left = c.n
	return c.d.err == nil
}

// skip walks over the next event of the current part without reading
// it, with the checks event makes; false when the part has no more or the
// payload is malformed. An event whose type and data are each under 16
// KiB takes no call.
func (c *commitScan) skip() bool {
	if c.left == 0 || c.d.err != nil {
		return false
	}
	b := c.d.b
	if n, t := shortLen(b, 16); t > 0 && t+n <= len(b) {
		if n, e := shortLen(b, t+n); e > 0 && e+n <= len(b) {
			c.left--
			c.d.b = b[e+n:]
			return true
		}
	}
	return c.event()
}

// shortLen reads the uvarint at b[i] when it is one or two bytes long and
// the shortest encoding of its value: the value and the index after it,
// else an index of 0.
func shortLen(b []byte, i int) (int, int) {
	if i >= len(b) {
		return 0, 0
	}
	x := b[i]
	if x < 0x80 {
		return int(x), i + 1
	}
	if i+1 < len(b) && b[i+1]-1 < 0x7f { // the second byte: 1 to 127
		return int(x&0x7f) | int(b[i+1])<<7, i + 2
	}
	return 0, 0
}

// event reads the next event of the current part into c.id, c.typ and
// c.data; false when the part has no more or the payload is malformed.
func (c *commitScan) event() bool {
	if c.left == 0 || c.d.err != nil {
		return false
	}
	c.left--
	if len(c.d.b) < 16 {
		c.d.fail()
		return false
	}
	c.id = [16]byte(c.d.b[:16])
	c.d.b = c.d.b[16:]
	c.typ = c.d.bytes()
	c.data = c.d.bytes()
	return c.d.err == nil
}

// finish walks the rest of the payload and reports whether all of it is
// well formed.
func (c *commitScan) finish() error {
	for c.part() {
	}
	nk := c.d.count(2)
	for i := 0; i < nk && c.d.err == nil; i++ {
		if len(c.d.b) < 1 {
			c.d.fail()
			break
		}
		op := c.d.b[0]
		c.d.b = c.d.b[1:]
		c.d.bytes()
		switch op {
		case kvPut:
			c.d.bytes()
		case kvDel:
		default:
			c.d.fail()
		}
	}
	c.d.meta()
	if c.d.err != nil {
		return c.d.err
	}
	if len(c.d.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", errPayload, len(c.d.b))
	}
	return nil
}
