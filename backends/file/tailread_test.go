package file

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
)

// A read of a stream written in batches that wants at least boundEvents
// events of a record reads it with one io/read-at of its size, in sealed
// segments (whose records' sizes come from their index files) as in the
// active one, but for the last record with events of a sealed segment,
// whose size no index entry bounds: it takes a window, then the rest. The
// events are those written.
func TestBatchRecordsReadOnce(t *testing.T) {
	c := &readCount{}
	opts := Options{SegmentSize: minSegmentSize, CheckpointBytes: 48 << 10, ReadCacheBytes: -1}
	e := newEnv(t, opts, c)
	const streams, batches, batch = 3, 12, 30
	want := map[string][]string{}
	for b := range batches {
		for i := range streams {
			s := fmt.Sprint("s", i)
			var ds []string
			for j := range batch {
				ds = append(ds, fmt.Sprintf("%s %d %0150d", s, b*batch+j+1, 0))
			}
			must(t, e, ops.Append{Stream: s, Events: evs(ds...)})
			want[s] = append(want[s], ds...)
		}
		if b%3 == 1 {
			must(t, e, ops.KvPut{Key: "k", Value: make([]byte, 600)}) // a record without events between
		}
	}
	must(t, e, ops.Append{Stream: "last", Events: evs("x")}) // no batch is the log's last record
	e.reopen(opts)
	require.NotEmpty(t, e.s.st.indexed, "some segments are sealed and indexed")

	sealedLast := 0 // reads of a sealed segment's last record with events
	for i := range streams {
		s := fmt.Sprint("s", i)
		x, err := e.s.st.stream(e.p(), s)
		require.NoError(t, err)
		for _, from := range []int{1, 21, 31, 100, 200, 351, batches*batch - 9} {
			r := ops.Read{Stream: s, From: uint64(from), Limit: 10}
			must(t, e, r) // the index blocks it needs come into their cache
			ch, err := e.s.seqLoc(e.p(), s, x, uint64(from))
			require.NoError(t, err)
			extra := 0
			if ix := e.s.st.indexedSeg(ch.seg); ix != nil {
				_, last, err := e.s.idxAt(e.p(), ix, ix.nPos-1)
				require.NoError(t, err)
				if last == ch.off {
					extra = 1
					sealedLast++
				}
			}
			c.n = 0
			got := must(t, e, r)
			assert.Equal(t, 1+extra, c.n, "%s from %d", s, from)
			require.Len(t, got.Events, min(10, batches*batch-from+1))
			for k, ev := range got.Events {
				assert.Equal(t, uint64(from+k), ev.Seq)
				assert.Equal(t, want[s][from-1+k], string(ev.Data))
			}
		}
	}
	t.Logf("%d of the reads were of a sealed segment's last record", sealedLast)
}
