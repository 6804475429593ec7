package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadersBesideWriter runs every command that only reads (read,
// streams, stat, kv ls, tail, verify, dump) several times over, while another process keeps appending to the store: each
// succeeds and shows a consistent view.
func TestReadersBesideWriter(t *testing.T) {
	bin, err := exec.LookPath("persist-writer")
	require.NoError(t, err, "the test binary sets up persist-writer on PATH")
	dir := t.TempDir() + "/data"
	cmd := exec.Command(bin, dir, "2", "2ms") // paced, so that the log stays small under -race
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	acks := make(chan struct{}, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "ack ") {
				select {
				case acks <- struct{}{}:
				default:
				}
			}
		}
	}()
	select {
	case <-acks:
	case <-time.After(20 * time.Second):
		t.Fatalf("the writer acknowledged nothing: %s", stderr.String())
	}

	run := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		m := &Main{Stdout: &out, Stderr: &errOut, Getenv: os.Getenv}
		err := m.Run(context.Background(), append([]string{"--dir", dir}, args...))
		require.NoError(t, err, "persist %s: %s", strings.Join(args, " "), errOut.String())
		assert.Empty(t, errOut.String(), "persist %s", strings.Join(args, " "))
		return out.String()
	}
	for range 5 {
		<-acks // the writer has appended more meanwhile
		assert.Contains(t, run("read", "w0", "--limit", "3"), ":seq 1 ")
		assert.Contains(t, run("streams"), `:stream "w1"`)
		assert.Regexp(t, `^\{:bytes \d+ `, run("stat"))
		assert.Empty(t, run("kv", "ls"))
		assert.Contains(t, run("tail", "-n", "2", "w1"), `:stream "w1"`)
		assert.Contains(t, run("verify"), ":ok true")
		assert.Contains(t, run("dump", "-o", "json"), `"type":"header"`)
	}
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
}
