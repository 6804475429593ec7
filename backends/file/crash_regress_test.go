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

// A crash at every IO effect of a segment roll, before and after it,
// under every crash fault: the reopened store holds the two acknowledged
// appends and all or none of the one in doubt, a second crash after the
// recovery changes nothing, Verify, run first, says what Open does, and a
// read-only open serves what Open does. A crash after the next
// segment was made but before the seal was durable leaves a successor
// holding only its header, which recovery takes back.
func TestCrashAtEveryRollEffect(t *testing.T) {
	opts := file.Options{SegmentSize: 64 << 10}
	big := strings.Repeat("x", 30000)
	setup := func(rec bool) (*mock.FS, *file.Store) {
		fs := mock.New(1, mock.Options{Record: rec})
		s := mockOpen(t, fs, opts)
		mockAppend(t, s, fs, "s", "1"+big)
		mockAppend(t, s, fs, "s", "2"+big)
		return fs, s
	}
	probe, s := setup(true)
	from := len(probe.Trace())
	mockAppend(t, s, probe, "s", "3"+big)
	n := len(probe.Trace()) - from
	require.Greater(t, n, 10, "the third append rolls")
	undone := 0
	for k := range n {
		for _, after := range []bool{false, true} {
			for _, f := range mock.FaultKinds() {
				fs, s := setup(false)
				fs.Inject(mock.Fail(k, mock.Any(), mock.Action{Kind: mock.ActCrash, After: after}))
				_, err := mockDo(s, fs, ops.Append{Stream: "s", Events: []ops.EventData{{Type: "t", Data: []byte("3" + big)}}})
				require.Error(t, err)
				disk, _ := fs.Crash(mock.Fault{Kind: f, Seed: uint64(k)}, 2)
				what := fmt.Sprintf("crash at roll effect %d (after %v) under %s", k, after, f)

				vr, verr := file.Verify(effect.Handle(context.Background(), disk.Clone(3)), mockDir)
				ro := disk.Clone(4)
				rs, err := file.OpenReadOnly(effect.Handle(context.Background(), ro), mockDir, opts)
				require.NoError(t, err, "read-only: %s", what)
				roEvents := mockEvents(t, rs, ro, "s")
				s2, err := file.Open(effect.Handle(context.Background(), disk), mockDir, opts)
				require.NoError(t, err, what)
				require.NoError(t, verr, what)
				rep := s2.Recovery()
				assert.Equal(t, rep.RollUndone, vr.RollUndone, "verify says what open does: %s", what)
				assert.Equal(t, rep.Truncated != nil, vr.TornTail != nil, "verify says what open does: %s", what)
				got := mockEvents(t, s2, disk, "s")
				if len(got) == 3 {
					assert.Equal(t, "3"+big, got[2], what)
					got = got[:2]
				}
				assert.Equal(t, []string{"1" + big, "2" + big}, got, what)
				assert.Len(t, roEvents, len(mockEvents(t, s2, disk, "s")), "a read-only open serves what open does: %s", what)
				if s2.Recovery().RollUndone != "" {
					undone++
				}
				mockAppend(t, s2, disk, "s", "4")
				again, _ := disk.Crash(mock.Fault{Kind: mock.Drop}, 3)
				s3, err := file.Open(effect.Handle(context.Background(), again), mockDir, opts)
				require.NoError(t, err, "%s, then a crash after recovery", what)
				assert.Equal(t, "4", mockEvents(t, s3, again, "s")[len(mockEvents(t, s3, again, "s"))-1], what)
			}
		}
	}
	assert.Positive(t, undone, "some crash leaves a successor holding only its header")
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
