//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package file

import "errors"

// mapBytes has no mapping to give on this platform: the ring lives on
// the heap.
func mapBytes(int) ([]byte, error) { return nil, errors.ErrUnsupported }

func unmapBytes([]byte) error { return nil }
