package file_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/backends/mock"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// A segment roll fails on a full disk at its space reservation while a
// store checkpoint is due. The failed store must write no checkpoint (not
// as the group's leader, not at Close), the roll must take back what it
// reserved, and every later open must recover every acknowledged commit:
// the store once came back refusing every open with "the log does not
// match the checkpoint".
func TestRollENOSPCWithCheckpointDue(t *testing.T) {
	opts := file.Options{SegmentSize: 64 << 10, CheckpointBytes: 1}
	fs := mock.New(1, mock.Options{})
	s := mockOpen(t, fs, opts)
	big := strings.Repeat("x", 30000)
	mockAppend(t, s, fs, "s", "1"+big)
	mockAppend(t, s, fs, "s", "2"+big)
	fs.Inject(mock.Fail(0, mock.Named("io/fallocate"), mock.Action{Kind: mock.ActENOSPC}))
	_, err := mockDo(s, fs, ops.Append{Stream: "s", Events: []ops.EventData{{Type: "t", Data: []byte("3" + big)}}})
	require.Error(t, err)
	assert.True(t, s.Stats().Failed)
	_ = s.Close(effect.Handle(context.Background(), fs))

	// The process restarts (space freed); then the machine crashes too.
	fs.CloseAll()
	for i, disk := range []*mock.FS{fs, fs.Clone(2)} {
		s2, err := file.Open(effect.Handle(context.Background(), disk), mockDir, opts)
		require.NoError(t, err, "open %d", i)
		assert.Equal(t, []string{"1" + big, "2" + big}, mockEvents(t, s2, disk, "s"))
		mockAppend(t, s2, disk, "s", "4"+big)
		require.NoError(t, s2.Close(effect.Handle(context.Background(), disk)))
		disk.CloseAll()
		_, err = file.Verify(effect.Handle(context.Background(), disk), mockDir)
		require.NoError(t, err)
		s3 := mockOpen(t, disk, opts)
		assert.Equal(t, []string{"1" + big, "2" + big, "4" + big}, mockEvents(t, s3, disk, "s"))
	}
}
