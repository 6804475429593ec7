package file_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/backends/mock"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// Regression scenarios for bugs the crash test found, each replayed on the
// mock platform step by step.

const mockDir = "/data"

func mockOpen(t testing.TB, fs *mock.FS, opts file.Options) *file.Store {
	t.Helper()
	s, err := file.Open(effect.Handle(context.Background(), fs), mockDir, opts)
	require.NoError(t, err)
	return s
}

func mockDo[R any](s *file.Store, fs *mock.FS, op effect.Op[R]) (R, error) {
	return effect.Perform(effect.Handle(context.Background(), s, fs), op)
}

func mockAppend(t testing.TB, s *file.Store, fs *mock.FS, stream, data string) ops.AppendResult {
	t.Helper()
	r, err := mockDo(s, fs, ops.Append{Stream: stream, Events: []ops.EventData{{Type: "t", Data: []byte(data)}}})
	require.NoError(t, err)
	return r
}

// mockEvents reads a whole stream.
func mockEvents(t testing.TB, s *file.Store, fs *mock.FS, stream string) []string {
	t.Helper()
	r, err := mockDo(s, fs, ops.Read{Stream: stream, Limit: ops.MaxPage})
	require.NoError(t, err)
	var out []string
	for _, e := range r.Events {
		out = append(out, string(e.Data))
	}
	return out
}

// A crash after a roll wrote the seal but before it cut the reserved tail
// of the sealed segment: recovery finishes the roll, and must leave the
// sealed segment as a sealed segment must be (nothing after the seal), or
// the next open refuses it.
func TestCrashRollRecoveryCutsSealedTail(t *testing.T) {
	opts := file.Options{SegmentSize: 64 << 10}
	fs := mock.New(1, mock.Options{})
	s := mockOpen(t, fs, opts)
	big := strings.Repeat("x", 30000)
	mockAppend(t, s, fs, "s", "1"+big)
	mockAppend(t, s, fs, "s", "2"+big)
	// The third append rolls: seal, truncate, fsync, ... The machine dies
	// at the truncate; the disk keeps the seal.
	fs.Inject(mock.Fail(0, mock.Named("io/truncate"), mock.Action{Kind: mock.ActCrash}))
	_, err := mockDo(s, fs, ops.Append{Stream: "s", Events: []ops.EventData{{Type: "t", Data: []byte("3" + big)}}})
	require.Error(t, err)
	disk, _ := fs.Crash(mock.Fault{Kind: mock.Keep}, 2)

	s = mockOpen(t, disk, opts)
	assert.True(t, s.Recovery().Rolled, "recovery finishes the roll")
	assert.Equal(t, []string{"1" + big, "2" + big}, mockEvents(t, s, disk, "s"))

	// Whatever of that recovery is durable, the next open accepts it.
	again, _ := disk.Crash(mock.Fault{Kind: mock.Drop}, 3)
	s2, err := file.Open(effect.Handle(context.Background(), again), mockDir, opts)
	require.NoError(t, err, "the sealed segment must not keep its reserved tail after the seal")
	assert.Equal(t, []string{"1" + big, "2" + big}, mockEvents(t, s2, again, "s"))
	_, err = file.Verify(effect.Handle(context.Background(), again), mockDir)
	assert.NoError(t, err)
}

// An fdatasync fails with EIO and the kernel drops the pages; the data
// stays readable in the page cache. A reopen without a crash must not take
// the never-synced record for a durable one and build on it: after a later
// crash the record would be a hole in the middle of the log.
func TestCrashFsyncEIOThenReopen(t *testing.T) {
	fs := mock.New(1, mock.Options{})
	s := mockOpen(t, fs, file.Options{})
	mockAppend(t, s, fs, "s", "one")
	fs.Inject(mock.Fail(0, mock.Syncs(), mock.Action{Kind: mock.ActEIO}))
	_, err := mockDo(s, fs, ops.Append{Stream: "s", Events: []ops.EventData{{Type: "t", Data: []byte("lost")}}})
	require.Error(t, err)
	_ = s.Close(effect.Handle(context.Background(), fs))

	// The process restarts; the machine does not.
	fs.CloseAll()
	s = mockOpen(t, fs, file.Options{})
	assert.Equal(t, []string{"one"}, mockEvents(t, s, fs, "s"), "a record whose sync failed is not served")
	mockAppend(t, s, fs, "s", "three")

	// Now the machine crashes: every acknowledged append survives.
	disk, _ := fs.Crash(mock.Fault{Kind: mock.Drop}, 2)
	s2, err := file.Open(effect.Handle(context.Background(), disk), mockDir, file.Options{})
	require.NoError(t, err)
	assert.Equal(t, []string{"one", "three"}, mockEvents(t, s2, disk, "s"))
}

// A read of the recovery returns bytes from the wrong place (a misdirected
// read). Recovery may fail, but it must not take the wrong bytes for the
// end of the log: serving fewer acknowledged records, and then writing over
// them, loses them for good.
func TestCrashMisdirectedReadInRecovery(t *testing.T) {
	fs := mock.New(1, mock.Options{Record: true})
	s := mockOpen(t, fs, file.Options{})
	var want []string
	for i := range 6 {
		want = append(want, fmt.Sprint("event ", i))
		mockAppend(t, s, fs, "s", want[i])
		if i == 3 {
			// A clean close writes a store checkpoint; recovery then reads
			// the log after it in a window of its own.
			require.NoError(t, s.Close(effect.Handle(context.Background(), fs)))
			fs.CloseAll()
			s = mockOpen(t, fs, file.Options{})
		}
	}
	disk, _ := fs.Crash(mock.Fault{Kind: mock.Drop}, 2)

	// Count the reads of a clean recovery.
	probe := disk.Clone(3)
	mockOpen(t, probe, file.Options{})
	reads := 0
	for _, e := range probe.Trace() {
		if e.Name == "io/read-at" {
			reads++
		}
	}
	require.NotZero(t, reads)
	for j := range reads {
		for _, delta := range []int{-512, 512, 4096} {
			victim := disk.Clone(uint64(10 + j))
			victim.Inject(mock.Fail(j, mock.Reads(), mock.Action{Kind: mock.ActMisdirect, N: delta}))
			vs, err := file.Open(effect.Handle(context.Background(), victim), mockDir, file.Options{})
			if err == nil {
				assert.Equal(t, want, mockEvents(t, vs, victim, "s"), "read %d misdirected by %d", j, delta)
				_ = vs.Close(effect.Handle(context.Background(), victim))
			}
			after, _ := victim.Crash(mock.Fault{Kind: mock.Drop}, 4)
			clean := mockOpen(t, after, file.Options{})
			assert.Equal(t, want, mockEvents(t, clean, after, "s"), "after read %d misdirected by %d", j, delta)
		}
	}
}
