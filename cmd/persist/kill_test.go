package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// killData is the data of writer w's event at seq: the parent checks every
// stored event against it, acknowledged or not.
func killData(w int, seq uint64) []byte {
	return fmt.Appendf(nil, "{:writer %d :seq %d :pad %q}", w, seq, strings.Repeat("p", int(seq%64)))
}

// writerMain is the child of the kill test: "persist-writer DIR WRITERS
// [PAUSE]".
// Each writer appends batches of 1 to 3 events to its own stream "w<i>",
// each batch expecting the head it last saw, and prints "ack <i> <first>
// <last>" on stdout once the append is acknowledged, then pauses PAUSE
// (default none). It runs until killed.
func writerMain(args []string) int {
	if len(args) != 2 && len(args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: persist-writer DIR WRITERS [PAUSE]")
		return 2
	}
	var pause time.Duration
	if len(args) == 3 {
		var err error
		if pause, err = time.ParseDuration(args[2]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	writers, err := strconv.Atoi(args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx := context.Background()
	b, err := openFile(ctx, args[0], file.Options{}, os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 1
	}
	var mu sync.Mutex
	out := os.Stdout
	fmt.Fprintln(out, "ready")
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			p := effect.Handle(ctx, b)
			stream := fmt.Sprintf("w%d", w)
			head, err := effect.Perform(p, ops.Head{Stream: stream})
			if err != nil {
				errs <- err
				return
			}
			for {
				n := 1 + int(head%3)
				evs := make([]ops.EventData, n)
				for i := range evs {
					evs[i] = ops.EventData{Type: "tick", Data: killData(w, head+1+uint64(i))}
				}
				res, err := effect.Perform(p, ops.Append{Stream: stream, Expect: ops.Exact(head), Events: evs})
				if err != nil {
					errs <- fmt.Errorf("%s: %w", stream, err)
					return
				}
				mu.Lock()
				_, err = fmt.Fprintf(out, "ack %d %d %d\n", w, res.FirstSeq, res.Head)
				mu.Unlock()
				if err != nil {
					errs <- err
					return
				}
				head = res.Head
				time.Sleep(pause)
			}
		}()
	}
	err = <-errs
	fmt.Fprintln(os.Stderr, "writer:", err)
	return 1
}

type ack struct {
	writer      int
	first, last uint64
}

// TestKill kills a writing process with SIGKILL at random moments and
// checks, after each kill, that the reopened store holds every
// acknowledged event with its data and that every stream's seqs run from 1
// without a gap.
func TestKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kill test skipped under -short")
	}
	bin, err := exec.LookPath("persist-writer")
	require.NoError(t, err, "the test binary sets up persist-writer on PATH")
	dir := t.TempDir() + "/data"
	const writers, rounds = 4, 20
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	acked := make(map[int]uint64) // writer -> highest acknowledged seq
	deadline := time.Now().Add(40 * time.Second)
	for round := range rounds {
		if time.Now().After(deadline) {
			t.Logf("stopping after %d rounds to keep within time", round)
			break
		}
		start := time.Now()
		acks, stderr := killRound(t, bin, dir, writers, time.Duration(20+rng.IntN(300))*time.Millisecond)
		for _, a := range acks {
			acked[a.writer] = max(acked[a.writer], a.last)
		}
		ran := time.Since(start)
		heads := checkStore(t, dir, writers, acked)
		t.Logf("round %d: %d acks in %s (check %s), heads %v, acknowledged %v, stderr %q",
			round, len(acks), ran.Round(time.Millisecond), (time.Since(start) - ran).Round(time.Millisecond), heads, acked, stderr)
	}
	total := uint64(0)
	for _, n := range acked {
		total += n
	}
	assert.Positive(t, total, "the writers acknowledged something")
}

// killRound starts the writer, lets it run for about d after it is ready,
// kills it and returns every acknowledgement it completed.
func killRound(t *testing.T, bin, dir string, writers int, d time.Duration) ([]ack, string) {
	t.Helper()
	cmd := exec.Command(bin, dir, strconv.Itoa(writers))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	lines := make(chan string, 1024)
	readDone := make(chan error, 1)
	go func() {
		r := bufio.NewReader(stdout)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				// A line the child did not finish is not an acknowledgement.
				if err == io.EOF {
					err = nil
				}
				readDone <- err
				close(lines)
				return
			}
			lines <- strings.TrimSuffix(line, "\n")
		}
	}()
	var acks []ack
	parse := func(line string) {
		if line == "ready" {
			return
		}
		var a ack
		_, err := fmt.Sscanf(line, "ack %d %d %d", &a.writer, &a.first, &a.last)
		require.NoError(t, err, "line %q", line)
		acks = append(acks, a)
	}
	select {
	case line, ok := <-lines:
		require.True(t, ok, "writer ended before it was ready: %s", stderr.String())
		require.Equal(t, "ready", line)
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("writer not ready")
	}
	kill := time.After(d)
loop:
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				break loop
			}
			parse(line)
		case <-kill:
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			for line := range lines {
				parse(line)
			}
			break loop
		}
	}
	require.NoError(t, <-readDone)
	err = cmd.Wait()
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr, "the writer dies by SIGKILL, not on its own: %s", stderr.String())
	return acks, stderr.String()
}

// batchEnd reports whether head is where one of the writer's batches ends:
// from head h the next batch has 1+h%3 events.
func batchEnd(head uint64) bool {
	h := uint64(0)
	for h < head {
		h += 1 + h%3
	}
	return h == head
}

// checkStore reopens the store and checks it against the acknowledgements:
// every acknowledged event is there with its data, every stream's seqs run
// from 1 without a gap, every event (acknowledged or in flight) has the
// data its writer gave it, and no batch is stored in part. It returns the
// heads.
func checkStore(t *testing.T, dir string, writers int, acked map[int]uint64) []uint64 {
	t.Helper()
	ctx := context.Background()
	b, err := openFile(ctx, dir, file.Options{}, os.Getenv)
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close()) }()
	p := effect.Handle(ctx, b)
	var heads []uint64
	for w := range writers {
		stream := fmt.Sprintf("w%d", w)
		next := uint64(1)
		for {
			res, err := effect.Perform(p, ops.Read{Stream: stream, From: next, Limit: ops.MaxPage})
			require.NoError(t, err)
			for _, ev := range res.Events {
				require.Equal(t, next, ev.Seq, "%s: seqs contiguous from 1", stream)
				require.Equal(t, string(killData(w, ev.Seq)), string(ev.Data), "%s seq %d", stream, ev.Seq)
				next++
			}
			if len(res.Events) == 0 || next > res.Head {
				break
			}
		}
		require.GreaterOrEqual(t, next-1, acked[w], "%s: every acknowledged event survives", stream)
		require.True(t, batchEnd(next-1), "%s: head %d splits a batch", stream, next-1)
		heads = append(heads, next-1)
	}
	return heads
}
