//go:build !linux && unix

package platform

import (
	"errors"
	"os"
	"syscall"
)

func fdatasync(f *os.File) error { return f.Sync() }

func fallocate(f *os.File, off, n int64) error { return extend(f, off+n) }

func lockFile(f *os.File) error {
	err := rawControl(f, func(fd int) error { return syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB) })
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return ErrLocked
	}
	return err
}
