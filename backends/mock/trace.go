package mock

import (
	"fmt"
	"strings"
	"syscall"

	"rose-ash.com/persist/platform"
)

var errIsDir = syscall.EISDIR

// TraceEntry is one effect the filesystem received and its answer.
type TraceEntry struct {
	Index int
	Name  string
	Path  string
	Off   int64 // io/write-at, io/read-at, io/fallocate, io/truncate (size)
	Len   int   // bytes written, read or reserved
	Err   string
}

func (t TraceEntry) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s %s", t.Index, t.Name, t.Path)
	if t.Off != 0 || t.Len != 0 {
		fmt.Fprintf(&b, " @%d+%d", t.Off, t.Len)
	}
	if t.Err != "" {
		fmt.Fprintf(&b, " !! %s", t.Err)
	}
	return b.String()
}

func traceOf(op Op, v any, err error) TraceEntry {
	t := TraceEntry{Index: op.Index, Name: op.Name, Path: op.Path}
	switch e := op.Effect.(type) {
	case platform.WriteAt:
		t.Off, t.Len = e.Off, len(e.Data)
	case platform.ReadAt:
		t.Off = e.Off
		if n, ok := v.(int); ok {
			t.Len = n
		}
	case platform.Fallocate:
		t.Off, t.Len = e.Off, int(e.Len)
	case platform.Truncate:
		t.Off = e.Size
	}
	if err != nil {
		t.Err = err.Error()
	}
	return t
}

// Trace returns the effects received so far, when Options.Record is set.
func (m *FS) Trace() []TraceEntry {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]TraceEntry(nil), m.trace...)
}
