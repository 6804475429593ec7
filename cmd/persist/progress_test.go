package main

import (
	"bytes"
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a terminal stand-in that the progress line's redrawing
// goroutine and the test may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The long commands draw a progress line where Progress goes (stderr, when
// it is a terminal), erase it at the end, and leave no goroutine behind;
// without Progress they draw nothing.
func TestProgressOnATerminal(t *testing.T) {
	dir := t.TempDir() + "/data"
	env := func(k string) string {
		if k == "PERSIST_DIR" {
			return dir
		}
		return ""
	}
	run := func(tty bool, args ...string) (stdout, stderr, progress string) {
		t.Helper()
		var out, errb bytes.Buffer
		var prog syncBuffer
		m := &Main{Stdout: &out, Stderr: &errb, Getenv: env}
		if tty {
			m.Progress = &prog
		}
		require.NoError(t, m.Run(context.Background(), args), errb.String())
		return out.String(), errb.String(), prog.String()
	}
	run(false, "append", "s", "t", "1", "t", "2")
	before := runtime.NumGoroutine()

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"crashtest", "--seed", "7", "--workload", "empty", "--draws", "1", "--fault", "drop"}, "crashtest: seed 7"},
		{[]string{"verify"}, "verify: checking " + dir},
		{[]string{"dump"}, "dump: " + dir},
	} {
		out, errs, prog := run(true, c.args...)
		assert.Contains(t, prog, c.want, "%v", c.args)
		assert.Regexp(t, "\r +\r", prog, "%v: the line is erased at the end", c.args)
		assert.Empty(t, errs, "%v: progress goes only where Progress goes", c.args)
		assert.NotEmpty(t, out, "%v", c.args)
		_, _, prog = run(false, c.args...)
		assert.Empty(t, prog)
	}
	_, _, prog := run(true, "dump")
	assert.Regexp(t, `dump: .* \(\d+/-, \d+ records/`, prog, "dump counts records")

	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before, "the redrawing goroutines end")
}
