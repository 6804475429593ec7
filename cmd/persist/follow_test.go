package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/sx"
)

// fileMain is the command on the file backend in dir, as the real command
// runs it: every Run opens the store itself.
func fileMain(dir string, stdout, stderr io.Writer) *Main {
	return &Main{Stdout: stdout, Stderr: stderr, Getenv: func(k string) string {
		if k == "PERSIST_DIR" {
			return dir
		}
		return ""
	}}
}

// appendOK runs "persist append ARGS" in its own Main: it takes the lock
// of the data directory for its run, beside any tail.
func appendOK(t *testing.T, dir string, args ...string) {
	t.Helper()
	var out, errb bytes.Buffer
	m := fileMain(dir, &out, &errb)
	err := m.Run(context.Background(), append([]string{"append"}, args...))
	require.NoError(t, err, "persist append: %s", errb.String())
}

// lineReader delivers the lines of r on a channel, closed at EOF.
func lineReader(r io.Reader) <-chan string {
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	return lines
}

func nextLine(t *testing.T, lines <-chan string) *sx.Dict {
	t.Helper()
	select {
	case l, ok := <-lines:
		require.True(t, ok, "tail -f ended")
		return readSX(t, l)
	case <-time.After(10 * time.Second):
		t.Fatal("tail -f printed nothing within 10s")
		return nil
	}
}

// TestTailFollowsOtherWriter runs tail -f on the file backend while
// appends are made by other runs of the command, each opening the data
// directory for itself (tail takes no lock), and checks that tail prints
// them and ends with status 0 when interrupted.
func TestTailFollowsOtherWriter(t *testing.T) {
	for _, all := range []bool{false, true} {
		dir := t.TempDir() + "/data"
		appendOK(t, dir, "s", "t", "1")
		ctx, cancel := context.WithCancel(context.Background())
		pr, pw := io.Pipe()
		var errb bytes.Buffer
		done := make(chan int, 1)
		go func() {
			m := fileMain(dir, pw, &errb)
			args := []string{"tail", "-f", "s"}
			if all {
				args = []string{"tail", "-f", "--all"}
			}
			done <- m.ExitCode(m.Run(ctx, args))
			pw.Close()
		}()
		lines := lineReader(pr)
		assert.Equal(t, int64(1), get(t, nextLine(t, lines), "seq"))

		start := time.Now()
		appendOK(t, dir, "s", "t", "2", "t", "3")
		assert.Equal(t, int64(2), get(t, nextLine(t, lines), "seq"))
		assert.Equal(t, int64(3), get(t, nextLine(t, lines), "seq"))
		t.Logf("all=%v: appended events shown %v after the append began", all, time.Since(start))
		appendOK(t, dir, "other", "t", "4")
		appendOK(t, dir, "s", "t", "5")
		if all {
			d := nextLine(t, lines)
			assert.Equal(t, "other", get(t, d, "stream"))
		}
		d := nextLine(t, lines)
		assert.Equal(t, int64(4), get(t, d, "seq"))
		assert.Equal(t, int64(5), get(t, d, "data"))

		cancel()
		select {
		case code := <-done:
			assert.Equal(t, 0, code, "an interrupted tail -f ends normally: %s", errb.String())
		case <-time.After(10 * time.Second):
			t.Fatal("tail -f did not end on cancel")
		}
		assert.Empty(t, errb.String())
	}
}

// TestTailFollowsOtherProcess runs persist tail -f as its own process and
// appends from this one: the case of two shells.
func TestTailFollowsOtherProcess(t *testing.T) {
	bin, err := exec.LookPath("persist")
	require.NoError(t, err, "the test binary sets up persist on PATH")
	dir := t.TempDir() + "/data"
	appendOK(t, dir, "s", "t", "1")
	cmd := exec.Command(bin, "tail", "-f", "s")
	cmd.Env = append(os.Environ(), "PERSIST_DIR="+dir)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill() }()
	lines := lineReader(stdout)
	assert.Equal(t, int64(1), get(t, nextLine(t, lines), "seq"))
	for i := int64(2); i <= 4; i++ {
		appendOK(t, dir, "s", "t", "2")
		assert.Equal(t, i, get(t, nextLine(t, lines), "seq"))
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	for range lines {
	}
	assert.NoError(t, cmd.Wait(), "tail -f ends with status 0 on interrupt: %s", errb.String())
}
