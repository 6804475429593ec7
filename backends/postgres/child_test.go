package postgres_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/postgres"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// childEnv names the role a child process plays; the child's settings
// come in the other PERSIST_CHILD_* variables.
const childEnv = "PERSIST_CHILD"

// runChild is the body of a child process.
func runChild(role string) error {
	switch role {
	case "writer":
		return childWriter()
	case "pinger":
		return childPinger()
	}
	return fmt.Errorf("unknown role %q", role)
}

func envInt(name string) int {
	n, _ := strconv.Atoi(os.Getenv(name))
	return n
}

// childWriter runs PERSIST_CHILD_WRITERS goroutines, each appending
// PERSIST_CHILD_APPENDS batches of 1 to 3 events to its own stream (with
// PERSIST_CHILD_SHARED=1, all to the stream PERSIST_CHILD_PREFIX, each
// expecting the head it last saw and retrying on a conflict), and
// prints one line per acknowledged append: "ack stream head firstpos
// lastpos". With PERSIST_CHILD_NOGROUP=1 every commit is its own
// transaction, so the process holds many transactions in flight at once.
func childWriter() error {
	ctx := context.Background()
	writers, appends := envInt("PERSIST_CHILD_WRITERS"), envInt("PERSIST_CHILD_APPENDS")
	opts := []postgres.Option{postgres.WithSchema(os.Getenv("PERSIST_CHILD_SCHEMA")), postgres.WithMaxConns(writers + 1)}
	if os.Getenv("PERSIST_CHILD_NOGROUP") == "1" {
		opts = append(opts, postgres.WithoutGroupCommit())
	}
	s, err := postgres.Open(ctx, testDSN(), opts...)
	if err != nil {
		return err
	}
	defer s.Close()
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	prefix := os.Getenv("PERSIST_CHILD_PREFIX")
	shared := os.Getenv("PERSIST_CHILD_SHARED") == "1"
	for w := range writers {
		wg.Go(func() {
			p := effect.Handle(ctx, s)
			stream := fmt.Sprintf("%s-%d", prefix, w)
			if shared {
				stream = prefix
			}
			var head uint64
			for i := range appends {
				n := 1 + (i+w)%3
				evs := make([]ops.EventData, n)
				for j := range evs {
					evs[j] = ops.EventData{Type: "t", Data: []byte(fmt.Sprintf("%s/%d/%d", stream, i, j))}
				}
				var r ops.AppendResult
				var err error
				if shared {
					// Optimistic concurrency against the other writers:
					// expect the head last seen, and on a conflict learn
					// the new head and try again.
					for {
						r, err = effect.Perform(p, ops.Append{Stream: stream, Expect: ops.Exact(head), Events: evs})
						var c *ops.Conflict
						if errors.As(err, &c) {
							head = c.Actual
							continue
						}
						break
					}
					head = r.Head
				} else {
					r, err = effect.Perform(p, ops.Append{Stream: stream, Events: evs})
				}
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				// Flushed at once: a test may kill this process at any
				// moment, and an acknowledgement it printed must be out.
				fmt.Fprintf(out, "ack %s %d %d %d\n", r.Stream, r.Head, r.FirstPos, r.LastPos)
				err = out.Flush()
				mu.Unlock()
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	mu.Lock()
	defer mu.Unlock()
	if err := out.Flush(); err != nil {
		return err
	}
	return <-errs
}

// ack is an append a child acknowledged.
type ack struct {
	stream                  string
	head, firstPos, lastPos uint64
}

// child is a started child process.
type child struct {
	cmd *exec.Cmd
	out strings.Builder
	err strings.Builder
}

// startChild starts the test binary as a child of the given role with the
// given PERSIST_CHILD_* settings.
func startChild(t *testing.T, role string, env map[string]string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(os.Args[0], "-test.run=^$")}
	c.cmd.Env = append(os.Environ(), childEnv+"="+role, "PERSIST_TEST_PG="+testDSN())
	for k, v := range env {
		c.cmd.Env = append(c.cmd.Env, "PERSIST_CHILD_"+k+"="+v)
	}
	c.cmd.Stdout = &c.out
	c.cmd.Stderr = &c.err
	require.NoError(t, c.cmd.Start())
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			_ = c.cmd.Process.Kill()
			_ = c.cmd.Wait()
		}
	})
	return c
}

// wait waits for the child and returns the appends it acknowledged.
func (c *child) wait(t *testing.T) []ack {
	t.Helper()
	err := c.cmd.Wait()
	require.NoError(t, err, "child: %s", c.err.String())
	return parseAcks(t, c.out.String())
}

func parseAcks(t *testing.T, out string) []ack {
	var acks []ack
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 5 || f[0] != "ack" {
			continue
		}
		var a ack
		a.stream = f[1]
		var err error
		a.head, err = strconv.ParseUint(f[2], 10, 64)
		require.NoError(t, err)
		a.firstPos, err = strconv.ParseUint(f[3], 10, 64)
		require.NoError(t, err)
		a.lastPos, err = strconv.ParseUint(f[4], 10, 64)
		require.NoError(t, err)
		acks = append(acks, a)
	}
	return acks
}

// childPinger appends one event to stream "ping" every
// PERSIST_CHILD_EVERY_MS milliseconds, PERSIST_CHILD_COUNT times, and
// prints "ping pos nanos" with the wall-clock time the append was
// acknowledged, for a follower in another process to measure how long
// after that it saw the event.
func childPinger() error {
	ctx := context.Background()
	s, err := postgres.Open(ctx, testDSN(), postgres.WithSchema(os.Getenv("PERSIST_CHILD_SCHEMA")))
	if err != nil {
		return err
	}
	defer s.Close()
	p := effect.Handle(ctx, s)
	every := time.Duration(envInt("PERSIST_CHILD_EVERY_MS")) * time.Millisecond
	for range envInt("PERSIST_CHILD_COUNT") {
		time.Sleep(every)
		r, err := effect.Perform(p, ops.Append{Stream: "ping", Events: []ops.EventData{{Type: "ping"}}})
		if err != nil {
			return err
		}
		fmt.Printf("ping %d %d\n", r.FirstPos, time.Now().UnixNano())
	}
	return nil
}
