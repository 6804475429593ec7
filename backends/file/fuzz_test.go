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
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeCommit(b, false, "")
		scanned, serr := scanAll(b)
		assert.Equal(t, err == nil, serr == nil, "commitScan and decodeCommit agree on %x: %v, %v", b, err, serr)
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
