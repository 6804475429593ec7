//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package file

import "syscall"

// mapBytes gives size bytes of zeroed memory outside the Go heap: an
// anonymous private mapping, whose pages the kernel backs only once they
// are written.
func mapBytes(size int) ([]byte, error) {
	return syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
}

func unmapBytes(b []byte) error { return syscall.Munmap(b) }
