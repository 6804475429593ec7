package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConcurrentAppendProcesses starts 20 persist append processes at once
// on one data directory: each waits its turn for the writer's lock, and all
// succeed, their events stored once each, seqs 1 to 20.
func TestConcurrentAppendProcesses(t *testing.T) {
	bin, err := exec.LookPath("persist")
	require.NoError(t, err, "the test binary sets up persist on PATH")
	dir := t.TempDir() + "/data"
	const procs = 20
	var wg sync.WaitGroup
	outs := make([]string, procs)
	errs := make([]error, procs)
	for i := range procs {
		wg.Go(func() {
			cmd := exec.Command(bin, "--dir", dir, "append", "s", "t", fmt.Sprintf("{:proc %d}", i), "--lock-wait", "60s")
			cmd.Env = append(os.Environ(), envLockWait+"=")
			out, err := cmd.CombinedOutput()
			outs[i], errs[i] = string(out), err
		})
	}
	wg.Wait()
	for i := range procs {
		assert.NoError(t, errs[i], "process %d: %s", i, outs[i])
		assert.Contains(t, outs[i], `:stream "s"`, "process %d", i)
	}

	var out, errOut bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}
	require.NoError(t, m.Run(context.Background(), []string{"--dir", dir, "read", "s"}), errOut.String())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, procs)
	seen := map[string]bool{}
	for i, l := range lines {
		assert.Contains(t, l, fmt.Sprintf(":seq %d ", i+1))
		j := strings.Index(l, ":data {:proc ")
		require.GreaterOrEqual(t, j, 0, l)
		seen[l[j:strings.Index(l[j:], "}")+j]] = true
	}
	assert.Len(t, seen, procs, "every process's event once")
}
