package file

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
)

func sampleRecord() []byte {
	c := commitRec{at: 1234567, firstPos: 7, rev: 3,
		parts: []partRec{{stream: "s", firstSeq: 2, events: []evRec{{id: uuid.UUID{1}, typ: "t", data: []byte("hello")}}}},
		kv:    []kvRec{{op: kvPut, key: "k", value: []byte("v")}, {op: kvDel, key: "d"}},
	}
	b, _ := appendRecord(nil, recCommit, 0xdeadbeef, 1, 9, func(b []byte) []byte { return appendCommit(b, &c) })
	return b
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(sampleRecord())
	h, _ := appendRecord(nil, recHeader, 0, 1, 1, func(b []byte) []byte { return headerPayload(b, [16]byte{9}) })
	f.Add(h)
	s, _ := appendRecord(nil, recSeal, 5, 1, 2, nil)
	f.Add(s)
	f.Add(make([]byte, 64))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := decodeFrame(b)
		if err != nil {
			return
		}
		require.LessOrEqual(t, fr.size, len(b))
		require.Zero(t, fr.size%alignment)
		// A valid frame re-encodes to the same bytes.
		again, crc := appendRecord(nil, fr.typ, fr.prev, fr.seg, fr.lsn, func(d []byte) []byte { return append(d, fr.payload...) })
		assert.Equal(t, b[:fr.size], again)
		assert.Equal(t, fr.crc, crc)
		if fr.typ == recCommit {
			c, err := decodeCommit(fr.payload, false, "")
			if err != nil {
				return
			}
			// A decodable payload re-encodes to the same bytes.
			assert.Equal(t, fr.payload, appendCommit(nil, &c))
			_, err = decodeCommit(fr.payload, true, "")
			assert.NoError(t, err)
		}
	})
}

func FuzzDecodeCommit(f *testing.F) {
	fr, _ := decodeFrame(sampleRecord())
	f.Add(fr.payload)
	f.Add([]byte{0, 0, 0, 0, 0})
	meta := commitRec{at: 5, meta: []metaRec{{stream: "s", state: ops.StreamState{StreamMeta: ops.StreamMeta{MaxCount: 3, MaxAge: time.Hour, TruncateBefore: 2}}}, {stream: "gone", state: ops.StreamState{Deleted: true, Tombstone: true, StreamMeta: ops.StreamMeta{TruncateBefore: 9}}}}}
	f.Add(appendCommit(nil, &meta))
	f.Add(appendCommit(nil, &wideCommit))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeCommit(b, false, "")
		// Decoding into a commitRec that held another record gives what
		// a fresh decode gives, with the events and without.
		for _, skip := range []bool{false, true} {
			fresh, ferr := decodeCommit(b, skip, "")
			reused, _ := decodeCommit(appendCommit(nil, &wideCommit), true, "")
			rerr := decodeCommitInto(b, skip, "", &reused)
			assert.Equal(t, ferr, rerr)
			if ferr == nil {
				assert.Equal(t, fresh, reused)
			}
		}
		scanned, serr := scanAll(b)
		assert.Equal(t, err == nil, serr == nil, "commitScan and decodeCommit agree on %x: %v, %v", b, err, serr)
		// Walking over events by their lengths (skip) checks what
		// reading them does, and leaves the scan where reading would.
		for every := 1; every <= 3; every++ {
			skipped, kerr := scanSkipping(b, every)
			assert.Equal(t, err == nil, kerr == nil, "a scan skipping events agrees with decodeCommit on %x: %v, %v", b, err, kerr)
			if err == nil && kerr == nil {
				assert.Equal(t, keepEvery(c, every), skipped)
			}
		}
		if err != nil {
			return
		}
		assert.Equal(t, b, appendCommit(nil, &c))
		// commitScan, which reads pages, sees what decodeCommit decodes.
		assert.Equal(t, c, scanned)
	})
}

// scanAll decodes a commit payload with commitScan, into the form
// decodeCommit gives (kv changes as decodeCommit gives them).
func scanAll(b []byte) (commitRec, error) {
	var s commitScan
	s.start(b)
	c := commitRec{at: s.at, firstPos: s.firstPos, rev: s.rev}
	for s.part() {
		p := partRec{stream: string(s.stream), firstSeq: s.firstSeq, n: s.n}
		for s.event() {
			p.events = append(p.events, evRec{id: uuid.UUID(s.id), typ: string(s.typ), data: s.data})
		}
		c.parts = append(c.parts, p)
	}
	if err := s.finish(); err != nil {
		return commitRec{}, err
	}
	full, err := decodeCommit(b, false, "")
	if err != nil {
		return commitRec{}, fmt.Errorf("commitScan accepts what decodeCommit refuses: %w", err)
	}
	c.kv, c.meta = full.kv, full.meta
	return c, nil
}

func FuzzDecodeSnapshot(f *testing.F) {
	f.Add(encodeSnapshot(snapRec{Snapshot: snapSample(), format: snapFormat, gen: 3, keep: 2}))
	f.Add(encodeSnapshot(snapRec{Snapshot: snapSample(), format: snapFormat1}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, _, err := decodeSnapshot(b)
		if err != nil {
			return
		}
		assert.Equal(t, b, encodeSnapshot(r), "a file decodes only from its own encoding")
		if r.format >= snapFormat2 {
			assert.NotZero(t, r.gen, "generation")
			assert.True(t, r.keep >= 1 && r.keep <= ops.MaxSnapshotGenerations, "keep %d", r.keep)
		}
	})
}

func TestRecordRoundTrip(t *testing.T) {
	b := sampleRecord()
	fr, err := decodeFrame(b)
	require.NoError(t, err)
	assert.Equal(t, uint8(recCommit), fr.typ)
	assert.Equal(t, uint32(0xdeadbeef), fr.prev)
	c, err := decodeCommit(fr.payload, false, "")
	require.NoError(t, err)
	assert.Equal(t, "hello", string(c.parts[0].events[0].data))
	assert.Equal(t, uuid.UUID{1}, c.parts[0].id(0))
	skipped, err := decodeCommit(fr.payload, true, "")
	require.NoError(t, err)
	assert.Equal(t, []uuid.UUID{{1}}, skipped.parts[0].ids, "IDs kept when the events are skipped")
	for i := range b {
		if i >= frameSize+len(fr.payload) && i < fr.size {
			continue // padding: checked separately below
		}
		d := append([]byte(nil), b...)
		d[i] ^= 0x10
		_, err := decodeFrame(d)
		assert.Error(t, err, "flip at %d", i)
	}
	d := append([]byte(nil), b...)
	d[len(d)-1] = 1
	if fr.size > frameSize+len(fr.payload) {
		_, err = decodeFrame(d)
		assert.Error(t, err, "non-zero padding")
	}
	_, err = decodeFrame(b[:len(b)-8])
	assert.ErrorIs(t, err, errShort)
}

// FuzzDecodeGap: a gap record's payload decodes or is an error, never a
// panic, and what decodes encodes back to the same bytes.
func FuzzDecodeGap(f *testing.F) {
	c := commitRec{at: 5, firstPos: 3, parts: []partRec{{stream: "a", firstSeq: 2, events: []evRec{{}}}}}
	f.Add(appendGap(nil, &gapRec{span: 4096, lastCRC: 7, sum: 9, recs: []gapSkel{{off: 0, payload: appendCommit(nil, &c)}, {off: 64, payload: appendCommit(nil, &c)}}}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := decodeGap(b)
		if err != nil {
			return
		}
		if got := appendGap(nil, &g); string(got) != string(b) {
			t.Fatalf("re-encoded %x, decoded from %x", got, b)
		}
	})
}

// FuzzDecodeCompacted: the compaction file decodes or is an error, never
// a panic, and what decodes encodes back to the same bytes.
func FuzzDecodeCompacted(f *testing.F) {
	f.Add(encodeCompacted(time.Unix(0, 12345), map[string]uint64{"a": 7, "b": 5}, map[uint32][]gapRun{1: {{64, 1000}, {2000, 5000}}, 2: {{64, 3000}}}))
	f.Add(encodeCompacted(time.Unix(0, 0), nil, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		at, floors, gaps, err := decodeCompacted(b)
		if err != nil {
			return
		}
		if got := encodeCompacted(at, floors, gaps); string(got) != string(b) {
			t.Fatalf("re-encoded %x, decoded from %x", got, b)
		}
	})
}

// wideCommit has events whose lengths take one, two and three bytes,
// with the events of one part skipped or read in turn.
var wideCommit = commitRec{at: 9, firstPos: 100, parts: []partRec{
	{stream: "a", firstSeq: 1, events: []evRec{
		{id: uuid.UUID{1}, typ: "t", data: make([]byte, 200)},
		{id: uuid.UUID{2}, typ: "t"},
		{id: uuid.UUID{3}, typ: string(make([]byte, 130)), data: make([]byte, 20_000)},
		{id: uuid.UUID{4}, typ: "u", data: []byte("x")},
	}},
	{stream: "b", firstSeq: 7, events: []evRec{{id: uuid.UUID{5}, typ: "t", data: make([]byte, 127)}}},
}}

// scanSkipping scans a commit payload with commitScan, skipping each
// part's events but every every'th, which it reads, and gives the parts
// with the events read.
func scanSkipping(b []byte, every int) ([]partRec, error) {
	var s commitScan
	s.start(b)
	var parts []partRec
	for s.part() {
		p := partRec{stream: string(s.stream), firstSeq: s.firstSeq, n: s.n}
		for j := 0; ; j++ {
			if j%every != every-1 {
				if !s.skip() {
					break
				}
				continue
			}
			if !s.event() {
				break
			}
			p.events = append(p.events, evRec{id: uuid.UUID(s.id), typ: string(s.typ), data: s.data})
		}
		parts = append(parts, p)
	}
	if err := s.finish(); err != nil {
		return nil, err
	}
	return parts, nil
}

// keepEvery gives c's parts with only every every'th event of each, as
// scanSkipping reads them.
func keepEvery(c commitRec, every int) []partRec {
	var parts []partRec
	for _, p := range c.parts {
		q := partRec{stream: p.stream, firstSeq: p.firstSeq, n: p.n}
		for j, e := range p.events {
			if j%every == every-1 {
				q.events = append(q.events, e)
			}
		}
		parts = append(parts, q)
	}
	return parts
}

func TestShortLen(t *testing.T) {
	for _, c := range []struct {
		b    []byte
		v, i int
	}{
		{[]byte{0}, 0, 1},
		{[]byte{0x7f}, 0x7f, 1},
		{[]byte{0x80, 0x01}, 128, 2},
		{[]byte{0xff, 0x7f}, 1<<14 - 1, 2},
		{[]byte{0x80, 0x00}, 0, 0},       // not the shortest encoding
		{[]byte{0x81, 0x80, 0x01}, 0, 0}, // three bytes: left to uvarint
		{[]byte{0x80}, 0, 0},             // cut short
		{nil, 0, 0},
	} {
		v, i := shortLen(c.b, 0)
		assert.Equal(t, [2]int{c.v, c.i}, [2]int{v, i}, "%x", c.b)
		if i > 0 {
			d := decoder{b: c.b}
			assert.Equal(t, uint64(v), d.uvarint(), "%x", c.b)
			assert.NoError(t, d.err)
		}
	}
}
