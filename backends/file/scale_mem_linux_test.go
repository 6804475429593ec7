package file

import (
	"os"
	"syscall"
	"unsafe"
)

// ringResident counts the resident pages of b, a mapping (mincore).
func ringResident(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	page := os.Getpagesize()
	vec := make([]byte, (len(b)+page-1)/page)
	_, _, errno := syscall.Syscall(syscall.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0])))
	if errno != 0 {
		return -1
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n * page
}
