//go:build linux

package platform

import (
	"errors"
	"os"
	"syscall"
)

func fdatasync(f *os.File) error {
	return rawControl(f, syscall.Fdatasync)
}

func fallocate(f *os.File, off, n int64) error {
	err := rawControl(f, func(fd int) error { return syscall.Fallocate(fd, 0, off, n) })
	if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) {
		return extend(f, off+n)
	}
	return err
}

func lockFile(f *os.File) error {
	err := rawControl(f, func(fd int) error { return syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB) })
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return ErrLocked
	}
	return err
}
