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

// A roll fails at its last step, the directory sync that makes the new
// segment's name durable; the seal before it is durable. The process
// restarts without a machine crash, goes on, and then the machine crashes:
// every acknowledged append must survive both.
func TestCrashRollFailsAtDirectorySync(t *testing.T) {
	for _, act := range []mock.Action{{Kind: mock.ActEIO}, {Kind: mock.ActENOSPC}} {
		for _, when := range []string{"io/sync-dir", "io/rename", "io/fsync", "io/fallocate", "io/write-at"} {
			t.Run(when+"-"+act.String(), func(t *testing.T) {
				opts := file.Options{SegmentSize: 64 << 10}
				fs := mock.New(1, mock.Options{})
				s := mockOpen(t, fs, opts)
				big := strings.Repeat("x", 30000)
				mockAppend(t, s, fs, "s", "1"+big)
				mockAppend(t, s, fs, "s", "2"+big)
				k := 0
				if when == "io/write-at" {
					k = 1 // the seal is the first write of the roll; fail the new header
				}
				fs.Inject(mock.Fail(k, mock.Named(when), act))
				_, err := mockDo(s, fs, ops.Append{Stream: "s", Events: []ops.EventData{{Type: "t", Data: []byte("3" + big)}}})
				require.Error(t, err)
				_ = s.Close(effect.Handle(context.Background(), fs))

				fs.CloseAll()
				s = mockOpen(t, fs, opts)
				assert.Equal(t, []string{"1" + big, "2" + big}, mockEvents(t, s, fs, "s"))
				mockAppend(t, s, fs, "s", "4"+big)
				mockAppend(t, s, fs, "s", "5")

				for _, f := range []mock.FaultKind{mock.Drop, mock.Dirs, mock.Prefix} {
					disk, _ := fs.Crash(mock.Fault{Kind: f, Seed: 9}, 2)
					s2, err := file.Open(effect.Handle(context.Background(), disk), mockDir, opts)
					require.NoError(t, err, "after %s", f)
					assert.Equal(t, []string{"1" + big, "2" + big, "4" + big, "5"}, mockEvents(t, s2, disk, "s"), "after %s", f)
				}
			})
		}
	}
}
