package file

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/mock"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

var fuzzBase struct {
	once   sync.Once
	closed *mock.FS
	live   *mock.FS
}

// fuzzStores builds, once, a store of two segments on the mock platform,
// closed, and crashed with everything kept (its checkpoint older than the
// end of the log).
func fuzzStores(t testing.TB) (closed, crashed *mock.FS) {
	fuzzBase.once.Do(func() {
		fs := mock.New(7, mock.Options{})
		p := effect.Handle(context.Background(), fs)
		opts := Options{SegmentSize: minSegmentSize, CheckpointBytes: 20 << 10}
		s, err := Open(p, "/data", opts)
		require.NoError(t, err)
		sp := effect.Handle(context.Background(), s, fs)
		for i := range 14 {
			c := ops.Commit{Appends: []ops.Append{{Stream: fmt.Sprint("s", i%3), Events: evs(fmt.Sprintf("%d:%s", i, strings.Repeat("f", 6000)))}}}
			if i%4 == 0 {
				c.Kv = []ops.KvChange{{Key: fmt.Sprint("k", i%3), Value: []byte(fmt.Sprint(i))}}
			}
			_, err := effect.Perform(sp, c)
			require.NoError(t, err)
		}
		fuzzBase.live, _ = fs.Crash(mock.Fault{Kind: mock.Keep}, 1)
		require.NoError(t, s.Close(p))
		fs.CloseAll()
		fuzzBase.closed = fs
	})
	return fuzzBase.closed, fuzzBase.live
}

// mockVerdict is the verdict of Verify, or of Open followed by reading
// everything, on a copy of fs.
func mockVerdict(fs *mock.FS, open bool) verdict {
	p := effect.Handle(context.Background(), fs)
	if !open {
		rep, err := Verify(p, "/data")
		if err != nil {
			return errVerdict("/data", err)
		}
		v := verdict{Kind: "ok", Roll: rollWord(rep.Rolled, rep.RollUndone, "/data")}
		if rep.TornTail != nil {
			v.Kind, v.File, v.Offset = "torn", rel("/data", rep.TornTail.File), rep.TornTail.Offset
		}
		return v
	}
	s, err := Open(p, "/data", Options{})
	if err != nil {
		return errVerdict("/data", err)
	}
	defer func() { _ = s.Close(p) }()
	sp := effect.Handle(context.Background(), s, fs)
	err = func() error {
		st, err := effect.Perform(sp, ops.Streams{Limit: ops.MaxPage})
		if err != nil {
			return err
		}
		for _, x := range st.Streams {
			if _, err := effect.Perform(sp, ops.Read{Stream: x.Name, Limit: ops.MaxPage}); err != nil {
				return err
			}
		}
		_, err = effect.Perform(sp, ops.ReadAll{Limit: ops.MaxPage})
		return err
	}()
	if err != nil {
		return errVerdict("/data", err)
	}
	rep := s.Recovery()
	v := verdict{Kind: "ok", Roll: rollWord(rep.Rolled, rep.RollUndone, "/data")}
	if rep.Truncated != nil {
		v.Kind, v.File, v.Offset = "torn", rel("/data", rep.Truncated.File), rep.Truncated.Offset
	}
	return v
}

// FuzzVerifyAgreesWithOpen writes arbitrary bytes into, or cuts, one file
// of a closed or a crashed store and requires Verify's verdict to equal
// Open's, as TestVerifyAgreesWithOpen does for its fixed matrix.
func FuzzVerifyAgreesWithOpen(f *testing.F) {
	f.Add(false, uint8(0), uint32(100), []byte{0xff}, false)
	f.Add(true, uint8(1), uint32(64), []byte{1, 2, 3, 4}, false)
	f.Add(true, uint8(1), uint32(20000), []byte{}, true)
	f.Add(false, uint8(2), uint32(30), []byte{9}, false)
	f.Add(false, uint8(3), uint32(20), []byte("x"), false)
	f.Fuzz(func(t *testing.T, crashed bool, which uint8, off uint32, data []byte, cut bool) {
		closed, live := fuzzStores(t)
		base := closed
		if crashed {
			base = live
		}
		var files []string
		for _, fi := range base.Files() {
			if !fi.Dir && !strings.HasSuffix(fi.Path, "LOCK") {
				files = append(files, fi.Path)
			}
		}
		img := base.Clone(2)
		path := files[int(which)%len(files)]
		p := effect.Handle(context.Background(), img)
		fd, err := effect.Perform(p, platform.Open{Path: path, Flag: os.O_RDWR})
		require.NoError(t, err)
		st, err := effect.Perform(p, platform.Stat{Path: path})
		require.NoError(t, err)
		at := int64(off) % (st.Size + 1)
		if cut {
			_, err = effect.Perform(p, platform.Truncate{FD: fd, Size: at})
		} else if len(data) > 0 {
			_, err = effect.Perform(p, platform.WriteAt{FD: fd, Off: at, Data: data[:min(len(data), 4096)]})
		}
		require.NoError(t, err)
		_, err = effect.Perform(p, platform.Fsync{FD: fd})
		require.NoError(t, err)
		_, err = effect.Perform(p, platform.Close{FD: fd})
		require.NoError(t, err)
		want := mockVerdict(img.Clone(3), true)
		got := mockVerdict(img.Clone(4), false)
		require.Equal(t, want, got, "verify's verdict must be open's, after editing %s at %d (cut %v)", path, at, cut)
	})
}
