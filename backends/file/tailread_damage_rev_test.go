package file

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
)

// A batch record of a sealed, indexed segment read with one read of the
// size its index bounds (and one of the active segment, read by its
// in-memory bound) that is damaged after the events a read wants, or
// before its From, is still an error naming the file and the record's
// offset: the whole record's checksum is checked, not only the events
// the read decodes.
func TestBoundedReadOfDamagedRecord(t *testing.T) {
	opts := Options{SegmentSize: minSegmentSize, CheckpointBytes: 48 << 10, ReadCacheBytes: -1}
	for _, where := range []string{"sealed", "active"} {
		for _, at := range []string{"after want", "before from"} {
			t.Run(where+" "+at, func(t *testing.T) {
				e := newEnv(t, opts)
				const batch = 30
				for b := range 40 {
					var ds []string
					for j := range batch {
						ds = append(ds, fmt.Sprintf("s %d %0150d", b*batch+j+1, 0))
					}
					must(t, e, ops.Append{Stream: "s", Events: evs(ds...)})
				}
				e.reopen(opts)
				require.NotEmpty(t, e.s.st.indexed)
				seq := uint64(1) // in the first segment, sealed
				if where == "active" {
					seq = 40*batch - 2*batch + 1 // the log's last record
				}
				l, err := e.s.seqLoc(e.p(), "s", e.s.st.streams["s"], seq)
				require.NoError(t, err)
				if where == "sealed" {
					require.NotNil(t, e.s.st.indexedSeg(l.seg), "seq %d in an indexed segment", seq)
				} else {
					require.Equal(t, uint64(l.seg), e.s.active.id)
				}
				path := e.s.segs[uint64(l.seg)].path
				e.close()
				b, err := os.ReadFile(path)
				require.NoError(t, err)
				size := frameLen(b[l.off:])
				require.Greater(t, size, 0)
				from, off := seq+10, int64(l.off)+int64(size)-20 // in the last event's data
				if at == "before from" {
					from, off = seq+25, int64(l.off)+int64(size)/3
				}
				flipAt(t, path, off)
				e.open(opts)
				_, err = perform(e, ops.Read{Stream: "s", From: from, Limit: 3})
				require.ErrorIs(t, err, ErrCorrupt, "a read of a damaged record from %d", from)
				require.ErrorContains(t, err, path)
				require.ErrorContains(t, err, strconv.Itoa(int(l.off)))
			})
		}
	}
}
