package file_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/backends/mock"
	"rose-ash.com/persist/effect"
)

// A write lands elsewhere than asked (a misdirected write) and the device
// reports success: the append is acknowledged but its record is not where
// the log needs it. A clean close then writes a store checkpoint that
// covers the record. On the next open the log ends before the checkpoint:
// that is proof that acknowledged records are missing, and the store must
// say so rather than serve the shorter log.
func TestCrashMisdirectedWriteThenCheckpoint(t *testing.T) {
	for _, delta := range []int{4096, 3072, 8 * mock.SectorSize} {
		t.Run(fmt.Sprint(delta), func(t *testing.T) {
			fs := mock.New(1, mock.Options{})
			s := mockOpen(t, fs, file.Options{})
			for i := range 3 {
				mockAppend(t, s, fs, "s", fmt.Sprint("event ", i))
			}
			fs.Inject(mock.Fail(0, mock.Writes(), mock.Action{Kind: mock.ActMisdirect, N: delta}))
			mockAppend(t, s, fs, "s", "misdirected")
			require.NoError(t, s.Close(effect.Handle(context.Background(), fs)))
			fs.CloseAll()

			s2, err := file.Open(effect.Handle(context.Background(), fs), mockDir, file.Options{})
			if err != nil {
				assert.True(t, errors.Is(err, file.ErrCorrupt), "a typed error: %v", err)
				return
			}
			assert.Equal(t, []string{"event 0", "event 1", "event 2", "misdirected"}, mockEvents(t, s2, fs, "s"),
				"the open must not serve a log shorter than its checkpoint")
		})
	}
}
