package persist_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist"
)

// Scan and ScanAll yield the events Read and ReadAll yield, on every kind
// of store, each lent until the next step.
func TestScanMatchesRead(t *testing.T) {
	ctx := context.Background()
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			defer db.Close()
			for i := range 2500 {
				stream := fmt.Sprintf("s%d", i%3)
				_, err := db.Append(ctx, stream, persist.Any(), persist.NewEvent("e", fmt.Appendf(nil, "%d", i)))
				require.NoError(t, err)
			}
			var want, got []persist.Event
			for ev, err := range db.Read(ctx, "s1", 2) {
				require.NoError(t, err)
				want = append(want, ev)
			}
			for ev, err := range db.Scan(ctx, "s1", 2) {
				require.NoError(t, err)
				got = append(got, persist.CloneEvent(ev))
			}
			assert.Equal(t, want, got)
			want, got = nil, nil
			for ev, err := range db.ReadAll(ctx, 7) {
				require.NoError(t, err)
				want = append(want, ev)
			}
			for ev, err := range db.ScanAll(ctx, 7) {
				require.NoError(t, err)
				got = append(got, persist.CloneEvent(ev))
			}
			assert.Equal(t, want, got)
			assert.Len(t, got, 2494)
		})
	}
}
