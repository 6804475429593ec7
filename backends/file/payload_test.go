package file

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Replay decodes every record of the tail into one commitRec: a
// one-event commit to a stream the last record named decodes with no
// allocation, where a fresh commitRec for each made about 240 bytes of
// garbage a record, which the heap grew into while Open replayed the
// tail (issue 12).
func TestDecodeCommitIntoReusesParts(t *testing.T) {
	one := func(stream string, seq uint64, id uuid.UUID) []byte {
		c := commitRec{at: 5, firstPos: seq, parts: []partRec{{stream: stream, firstSeq: seq, events: []evRec{{id: id, typ: "t", data: []byte("body")}}}}}
		return appendCommit(nil, &c)
	}
	a, b := one("stream-1", 7, uuid.UUID{1}), one("stream-1", 8, uuid.UUID{2})
	var rec commitRec
	require.NoError(t, decodeCommitInto(a, true, "", &rec))
	allocs := testing.AllocsPerRun(50, func() {
		if err := decodeCommitInto(b, true, "", &rec); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs, "allocations of a decode into a reused commitRec")
	assert.Equal(t, uint64(8), rec.parts[0].firstSeq)
	assert.Equal(t, uuid.UUID{2}, rec.parts[0].id(0))
	// Another stream, then one of two parts: each as a fresh decode.
	for _, p := range [][]byte{one("stream-2", 3, uuid.UUID{3}), appendCommit(nil, &wideCommit), a} {
		want, err := decodeCommit(p, true, "")
		require.NoError(t, err)
		require.NoError(t, decodeCommitInto(p, true, "", &rec))
		assert.Equal(t, want, rec)
	}
}
