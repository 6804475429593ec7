package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/remote"
)

// startServe starts `persist serve` on dir in a process of its own and
// returns it with the URL it serves on. listen may name a fixed address
// (to restart on the same one).
func startServe(t *testing.T, dir, listen string) (*exec.Cmd, string, func() string) {
	t.Helper()
	bin, err := exec.LookPath("persist")
	require.NoError(t, err)
	cmd := exec.Command(bin, "--dir", dir, "serve", "--listen", listen, "--grace", "10s")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	r := bufio.NewReader(stderr)
	// A restart after a kill may first report what recovery did (a torn
	// tail cut); the line that names the address follows.
	var said []string
	var url string
	for {
		line, err := r.ReadString('\n')
		said = append(said, line)
		require.NoError(t, err, "serve said: %q", said)
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "persist: serving "); ok {
			_, u, ok := strings.Cut(rest, " on ")
			require.True(t, ok, "serve said: %q", said)
			url = u
			break
		}
		require.Contains(t, line, "persist: recovery ", "serve said: %q", said)
	}
	done := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	// logs gives the rest of what serve wrote to stderr, once it exited.
	logs := func() string {
		select {
		case s := <-done:
			return s
		case <-time.After(5 * time.Second):
			return "(serve still running)"
		}
	}
	return cmd, url, logs
}

// batchID is the event ID of event j of batch k of client c: a retry
// sends the same IDs.
func batchID(c, k, j int) uuid.UUID {
	return uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "serve-load/%d/%d/%d", c, k, j))
}

// retryable reports an error after which the same append may be sent
// again: no answer, or a server that is not (yet) serving.
func retryable(err error) bool {
	var ue *remote.UnreachableError
	return errors.As(err, &ue) || errors.Is(err, remote.ErrUnavailable)
}

type loadAck struct {
	first, head uint64
	ids         []uuid.UUID
}

// TestServeKillLoad runs 64 clients appending with exact expectations and
// event IDs to `persist serve`, kills the server with SIGKILL mid-load and
// restarts it on the same address. Every acknowledged append is stored
// once, where it was acknowledged; retries with the same IDs are answered
// as the original; a follower through the kill sees every event of its
// stream with no gap. Then SIGTERM drains the server and exits 0.
func TestServeKillLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	const clients, batches = 64, 12
	dir := t.TempDir() + "/data"
	srv, url, _ := startServe(t, dir, "127.0.0.1:0")
	addr := strings.TrimPrefix(url, "http://")

	c, err := remote.Dial(url, remote.Options{})
	require.NoError(t, err)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// The follower of c0, through the kill.
	fctx, fcancel := context.WithCancel(ctx)
	var (
		fmu      sync.Mutex
		followed []uint64
	)
	followDone := make(chan error, 1)
	go func() {
		_, err := c.Follow(fctx, remote.FollowOptions{Stream: "c0", Retry: 20 * time.Millisecond}, func(ev ops.Event) error {
			fmu.Lock()
			followed = append(followed, ev.Seq)
			fmu.Unlock()
			return nil
		})
		followDone <- err
	}()

	acks := make([][]loadAck, clients)
	var acked sync.WaitGroup // the first third of the load is in
	acked.Add(clients)
	errs := make(chan error, clients)
	var retries atomic.Int64
	var wg sync.WaitGroup
	for ci := range clients {
		wg.Go(func() {
			p := effect.Handle(ctx, c)
			stream := fmt.Sprintf("c%d", ci)
			head := uint64(0)
			for k := range batches {
				if k == batches/3 {
					acked.Done()
				}
				evs := make([]ops.EventData, 1+(ci+k)%3)
				ids := make([]uuid.UUID, len(evs))
				for j := range evs {
					ids[j] = batchID(ci, k, j)
					evs[j] = ops.EventData{ID: ids[j], Type: "load", Data: fmt.Appendf(nil, "{:c %d :k %d :j %d}", ci, k, j)}
				}
				op := ops.Append{Stream: stream, Expect: ops.Exact(head), Events: evs}
				for {
					res, err := effect.Perform(p, op)
					if err == nil {
						if res.FirstSeq != head+1 || res.Head != head+uint64(len(evs)) {
							errs <- fmt.Errorf("%s batch %d: answered %+v after head %d", stream, k, res, head)
							return
						}
						acks[ci] = append(acks[ci], loadAck{first: res.FirstSeq, head: res.Head, ids: ids})
						head = res.Head
						break
					}
					if !retryable(err) || ctx.Err() != nil {
						errs <- fmt.Errorf("%s batch %d: %w", stream, k, err)
						return
					}
					retries.Add(1)
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}

	// Kill the server mid-load, and start it again on the same address.
	acked.Wait()
	require.NoError(t, srv.Process.Signal(syscall.SIGKILL))
	_ = srv.Wait()
	time.Sleep(50 * time.Millisecond)
	var srv2 *exec.Cmd
	var log2 func() string
	require.Eventually(t, func() bool {
		// The port may take a moment to be free again.
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return false
		}
		ln.Close()
		srv2, _, log2 = startServe(t, dir, addr)
		return true
	}, 10*time.Second, 50*time.Millisecond)

	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d appends sent again after the kill", retries.Load())
	assert.Positive(t, retries.Load(), "the kill came after the load: nothing was retried")

	// Every acknowledged append is there once, at the seqs acknowledged.
	p := effect.Handle(ctx, c)
	for ci := range clients {
		stream := fmt.Sprintf("c%d", ci)
		r, err := effect.Perform(p, ops.Read{Stream: stream, Limit: ops.MaxPage})
		require.NoError(t, err)
		seen := map[uuid.UUID]int{}
		for _, ev := range r.Events {
			seen[ev.ID]++
		}
		want := uint64(0)
		for _, a := range acks[ci] {
			for j, id := range a.ids {
				seq := a.first + uint64(j)
				if assert.LessOrEqual(t, seq, uint64(len(r.Events)), "%s: acknowledged seq %d lost", stream, seq) {
					assert.Equal(t, id, r.Events[seq-1].ID, "%s seq %d", stream, seq)
				}
				assert.Equal(t, 1, seen[id], "%s: event %s stored %d times", stream, id, seen[id])
			}
			want = a.head
		}
		assert.Equal(t, want, r.Head, "%s: events beyond the acknowledged ones", stream)
		assert.Len(t, acks[ci], batches, "%s: every batch acknowledged in the end", stream)

		// A retry of an acknowledged batch, same IDs, same expectation, is
		// answered as the original.
		if len(acks[ci]) > 1 {
			a := acks[ci][1]
			evs := make([]ops.EventData, len(a.ids))
			for j := range evs {
				evs[j] = ops.EventData{ID: a.ids[j], Type: "load", Data: fmt.Appendf(nil, "{:c %d :k %d :j %d}", ci, 1, j)}
			}
			res, err := effect.Perform(p, ops.Append{Stream: stream, Expect: ops.Exact(a.first - 1), Events: evs})
			require.NoError(t, err)
			assert.Equal(t, a.first, res.FirstSeq)
			assert.Equal(t, a.head, res.Head)
		}
	}

	// The follower saw every event of c0, in order, with no gap.
	head0 := acks[0][len(acks[0])-1].head
	assert.Eventually(t, func() bool {
		fmu.Lock()
		defer fmu.Unlock()
		return len(followed) >= int(head0)
	}, 20*time.Second, 50*time.Millisecond, "the follower fell behind")
	fcancel()
	assert.ErrorIs(t, <-followDone, context.Canceled)
	fmu.Lock()
	defer fmu.Unlock()
	assert.Len(t, followed, int(head0))
	for i, seq := range followed {
		assert.Equal(t, uint64(i+1), seq, "follower: event %d", i)
	}

	// The restarted server's metrics count the store's syncs and the
	// appends it acknowledged.
	resp, err := http.Get(url + "/metrics")
	require.NoError(t, err)
	mb, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	metrics := string(mb)
	assert.Contains(t, metrics, `persist_ops_total{op="persist/append",outcome="ok"}`)
	assert.Contains(t, metrics, "persist_store_commits ")
	assert.Regexp(t, `(?m)^persist_store_syncs_total [1-9]`, metrics, "syncs counted")

	// SIGTERM drains and closes the store: exit status 0.
	require.NoError(t, srv2.Process.Signal(syscall.SIGTERM))
	err = srv2.Wait()
	logs := log2()
	require.NoError(t, err, "serve after SIGTERM: %s", logs)
	assert.Contains(t, logs, "persist: store closed")
}

// --mint takes every grant the server knows, the delete grant included,
// and refuses an unknown one naming the kinds it takes.
func TestServeMintGrants(t *testing.T) {
	out, errs, code := runEnv(t, nil, "serve", "--mint", "purger", "--grant", "delete orders/", "--grant", "read orders/")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, `:grants ["delete orders/" "read orders/"]`)
	assert.Contains(t, out, `:name "purger"`)

	out, errs, code = runEnv(t, nil, "serve", "--mint", "x", "--grant", "erase orders/")
	assert.NotEqual(t, 0, code)
	assert.Empty(t, out, "nothing minted")
	assert.Contains(t, errs, "delete")
}
