package platform_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/platform"
)

func newP(t testing.TB) (*effect.P, *platform.OS) {
	t.Helper()
	h := &platform.OS{}
	t.Cleanup(func() { assert.Zero(t, h.OpenFiles(), "files left open") })
	return effect.Handle(context.Background(), h), h
}

func mustOpen(t testing.TB, p *effect.P, path string, flag int) platform.FD {
	t.Helper()
	fd, err := effect.Perform(p, platform.Open{Path: path, Flag: flag, Perm: 0o644})
	require.NoError(t, err)
	return fd
}

func mustClose(t testing.TB, p *effect.P, fd platform.FD) {
	t.Helper()
	_, err := effect.Perform(p, platform.Close{FD: fd})
	require.NoError(t, err)
}

func TestWriteReadSync(t *testing.T) {
	p, _ := newP(t)
	path := filepath.Join(t.TempDir(), "a")
	fd := mustOpen(t, p, path, os.O_RDWR|os.O_CREATE|os.O_EXCL)

	n, err := effect.Perform(p, platform.WriteAt{FD: fd, Off: 4, Data: []byte("world")})
	require.NoError(t, err)
	assert.Equal(t, 5, n)
	_, err = effect.Perform(p, platform.WriteAt{FD: fd, Off: 0, Data: []byte("helo")})
	require.NoError(t, err)
	_, err = effect.Perform(p, platform.Fdatasync{FD: fd})
	require.NoError(t, err)
	_, err = effect.Perform(p, platform.Fsync{FD: fd})
	require.NoError(t, err)

	buf := make([]byte, 16)
	n, err = effect.Perform(p, platform.ReadAt{FD: fd, Off: 0, Buf: buf})
	require.NoError(t, err, "a short read at the end of the file is not an error")
	assert.Equal(t, "heloworld", string(buf[:n]))
	n, err = effect.Perform(p, platform.ReadAt{FD: fd, Off: 100, Buf: buf})
	require.NoError(t, err)
	assert.Zero(t, n)

	_, err = effect.Perform(p, platform.Truncate{FD: fd, Size: 4})
	require.NoError(t, err)
	fi, err := effect.Perform(p, platform.Stat{Path: path})
	require.NoError(t, err)
	assert.Equal(t, int64(4), fi.Size)
	assert.Equal(t, "a", fi.Name)
	assert.False(t, fi.IsDir)
	mustClose(t, p, fd)

	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "helo", string(got))
}

func TestClosedFD(t *testing.T) {
	p, _ := newP(t)
	fd := mustOpen(t, p, filepath.Join(t.TempDir(), "a"), os.O_RDWR|os.O_CREATE)
	mustClose(t, p, fd)
	_, err := effect.Perform(p, platform.WriteAt{FD: fd, Data: []byte("x")})
	assert.ErrorIs(t, err, fs.ErrClosed)
	_, err = effect.Perform(p, platform.Close{FD: fd})
	assert.ErrorIs(t, err, fs.ErrClosed)
	_, err = effect.Perform(p, platform.Fdatasync{FD: 999})
	assert.ErrorIs(t, err, fs.ErrClosed)
}

func TestErrorsNameOpAndPathAndKeepOSError(t *testing.T) {
	p, _ := newP(t)
	missing := filepath.Join(t.TempDir(), "missing")
	_, err := effect.Perform(p, platform.Open{Path: missing, Flag: os.O_RDONLY})
	require.Error(t, err)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.ErrorIs(t, err, syscall.ENOENT)
	var pe *platform.Error
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "io/open", pe.Op)
	assert.Equal(t, missing, pe.Path)
	assert.Contains(t, err.Error(), "io/open "+missing)

	_, err = effect.Perform(p, platform.Stat{Path: missing})
	assert.ErrorIs(t, err, fs.ErrNotExist)
	_, err = effect.Perform(p, platform.Remove{Path: missing})
	assert.ErrorIs(t, err, fs.ErrNotExist)
	_, err = effect.Perform(p, platform.Rename{From: missing, To: missing + "2"})
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.Contains(t, err.Error(), "io/rename")
	_, err = effect.Perform(p, platform.List{Dir: missing})
	assert.ErrorIs(t, err, fs.ErrNotExist)
	_, err = effect.Perform(p, platform.SyncDir{Path: missing})
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

func TestENOSPC(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	p, _ := newP(t)
	fd := mustOpen(t, p, "/dev/full", os.O_WRONLY)
	defer mustClose(t, p, fd)
	_, err := effect.Perform(p, platform.WriteAt{FD: fd, Data: []byte("x")})
	if errors.Is(err, syscall.ESPIPE) {
		t.Skip("device does not take pwrite")
	}
	assert.ErrorIs(t, err, syscall.ENOSPC)
	var pe *platform.Error
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "io/write-at", pe.Op)
	assert.Equal(t, "/dev/full", pe.Path)
}

func TestDirectoryOps(t *testing.T) {
	p, _ := newP(t)
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	_, err := effect.Perform(p, platform.Mkdir{Path: sub, Perm: 0o755})
	require.NoError(t, err)
	_, err = effect.Perform(p, platform.Mkdir{Path: sub, Perm: 0o755})
	assert.ErrorIs(t, err, fs.ErrExist)

	for _, name := range []string{"c", "a", "b"} {
		mustClose(t, p, mustOpen(t, p, filepath.Join(sub, name), os.O_RDWR|os.O_CREATE))
	}
	_, err = effect.Perform(p, platform.Mkdir{Path: filepath.Join(sub, "d"), Perm: 0o755})
	require.NoError(t, err)
	_, err = effect.Perform(p, platform.Rename{From: filepath.Join(sub, "c"), To: filepath.Join(sub, "e")})
	require.NoError(t, err)
	_, err = effect.Perform(p, platform.Remove{Path: filepath.Join(sub, "a")})
	require.NoError(t, err)
	_, err = effect.Perform(p, platform.SyncDir{Path: sub})
	require.NoError(t, err)

	ents, err := effect.Perform(p, platform.List{Dir: sub})
	require.NoError(t, err)
	assert.Equal(t, []platform.DirEntry{{Name: "b"}, {Name: "d", IsDir: true}, {Name: "e"}}, ents)

	fi, err := effect.Perform(p, platform.Stat{Path: sub})
	require.NoError(t, err)
	assert.True(t, fi.IsDir)
}

func TestLock(t *testing.T) {
	p, _ := newP(t)
	path := filepath.Join(t.TempDir(), "LOCK")
	fd, err := effect.Perform(p, platform.Lock{Path: path})
	require.NoError(t, err)

	// A second open file description conflicts, as another process would.
	_, err = effect.Perform(p, platform.Lock{Path: path})
	require.Error(t, err)
	assert.ErrorIs(t, err, platform.ErrLocked)
	assert.Contains(t, err.Error(), path)
	assert.Contains(t, err.Error(), "locked by another process")

	mustClose(t, p, fd)
	fd, err = effect.Perform(p, platform.Lock{Path: path})
	require.NoError(t, err, "closing the FD releases the lock")
	mustClose(t, p, fd)
}

func TestFallocate(t *testing.T) {
	p, _ := newP(t)
	path := filepath.Join(t.TempDir(), "seg")
	fd := mustOpen(t, p, path, os.O_RDWR|os.O_CREATE)
	defer mustClose(t, p, fd)
	_, err := effect.Perform(p, platform.Fallocate{FD: fd, Off: 0, Len: 1 << 20})
	require.NoError(t, err)
	fi, err := effect.Perform(p, platform.Stat{Path: path})
	require.NoError(t, err)
	assert.Equal(t, int64(1<<20), fi.Size, "keep-size is off: the file covers the range")

	_, err = effect.Perform(p, platform.WriteAt{FD: fd, Off: 4096, Data: []byte("data")})
	require.NoError(t, err)
	fi, err = effect.Perform(p, platform.Stat{Path: path})
	require.NoError(t, err)
	assert.Equal(t, int64(1<<20), fi.Size, "a write inside the reserved range does not grow the file")

	buf := make([]byte, 8)
	n, err := effect.Perform(p, platform.ReadAt{FD: fd, Off: 4092, Buf: buf})
	require.NoError(t, err)
	assert.Equal(t, []byte{0, 0, 0, 0, 'd', 'a', 't', 'a'}, buf[:n])

	_, err = effect.Perform(p, platform.Fallocate{FD: fd, Off: 0, Len: 0})
	assert.ErrorIs(t, err, fs.ErrInvalid)
}

func TestClockAndRandom(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	h := &platform.OS{Now: func() time.Time { return at }, Rand: bytes.NewReader([]byte{1, 2, 3, 4, 5})}
	p := effect.Handle(context.Background(), h)
	got, err := effect.Perform(p, platform.Clock{})
	require.NoError(t, err)
	assert.Equal(t, at, got)
	b, err := effect.Perform(p, platform.Random{N: 3})
	require.NoError(t, err)
	assert.Equal(t, []byte{1, 2, 3}, b)
	_, err = effect.Perform(p, platform.Random{N: 3})
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "an exhausted source is an error, not short randomness")

	p, _ = newP(t)
	now, err := effect.Perform(p, platform.Clock{})
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), now, time.Minute)
	r1, err := effect.Perform(p, platform.Random{N: 32})
	require.NoError(t, err)
	r2, err := effect.Perform(p, platform.Random{N: 32})
	require.NoError(t, err)
	assert.Len(t, r1, 32)
	assert.NotEqual(t, r1, r2)
}

type unknown struct{ effect.Returns[int] }

func (unknown) EffectName() string { return "test/unknown" }

func TestUnhandled(t *testing.T) {
	v, err := (&platform.OS{}).Handle(nil, unknown{})
	assert.Nil(t, v)
	assert.Same(t, effect.ErrUnhandled, err)
}

func TestEffectNames(t *testing.T) {
	names := map[string]effect.Effect{
		"io/open": platform.Open{}, "io/write-at": platform.WriteAt{}, "io/read-at": platform.ReadAt{},
		"io/fdatasync": platform.Fdatasync{}, "io/fsync": platform.Fsync{}, "io/truncate": platform.Truncate{},
		"io/rename": platform.Rename{}, "io/remove": platform.Remove{}, "io/list": platform.List{},
		"io/mkdir": platform.Mkdir{}, "io/sync-dir": platform.SyncDir{}, "io/stat": platform.Stat{},
		"io/close": platform.Close{}, "io/lock": platform.Lock{}, "io/fallocate": platform.Fallocate{},
		"io/clock": platform.Clock{}, "io/random": platform.Random{},
	}
	for name, e := range names {
		assert.Equal(t, name, e.EffectName())
	}
}

func TestConcurrentUse(t *testing.T) {
	p, h := newP(t)
	dir := t.TempDir()
	done := make(chan error, 8)
	for i := range 8 {
		go func() {
			p := effect.Handle(context.Background(), h) // a handle per goroutine
			path := filepath.Join(dir, string(rune('a'+i)))
			fd, err := effect.Perform(p, platform.Open{Path: path, Flag: os.O_RDWR | os.O_CREATE, Perm: 0o644})
			if err != nil {
				done <- err
				return
			}
			for j := range 50 {
				if _, err := effect.Perform(p, platform.WriteAt{FD: fd, Off: int64(j), Data: []byte{byte(j)}}); err != nil {
					done <- err
					return
				}
			}
			_, err = effect.Perform(p, platform.Close{FD: fd})
			done <- err
		}()
	}
	for range 8 {
		require.NoError(t, <-done)
	}
	ents, err := effect.Perform(p, platform.List{Dir: dir})
	require.NoError(t, err)
	assert.Len(t, ents, 8)
}
