package file

import (
	"errors"
	"fmt"
)

var (
	// ErrCorrupt matches every *CorruptError.
	ErrCorrupt = errors.New("file: corrupt data")
	// ErrFailed is returned for every write after an IO error on a write or
	// a sync: the store refuses writes until it is reopened.
	ErrFailed = errors.New("file: store failed after an IO error; reopen to recover")
	// ErrReadOnly is returned for every write to a store opened with
	// OpenReadOnly; nothing is written.
	ErrReadOnly = errors.New("file: store opened read-only")
)

// CorruptError names the file and byte offset of damaged data.
type CorruptError struct {
	File   string
	Offset int64
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("file: corrupt data in %s at offset %d: %s", e.File, e.Offset, e.Reason)
}

// Is makes errors.Is(err, ErrCorrupt) match.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

func corrupt(file string, off int64, format string, args ...any) error {
	return &CorruptError{File: file, Offset: off, Reason: fmt.Sprintf(format, args...)}
}
