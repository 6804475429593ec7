package remote_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/mem"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/interp"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/programs"
	"rose-ash.com/persist/remote"
	"rose-ash.com/persist/server"
)

func TestTypedErrorsComeBack(t *testing.T) {
	c, _ := serve(t, memStore(), server.Options{}, remote.Options{})
	defer c.Close()
	p := effect.Handle(context.Background(), c)
	_, err := programs.Append(p, "s", ops.NoStream(), programs.Event("t", []byte("1")))
	require.NoError(t, err)
	_, err = programs.Append(p, "s", ops.NoStream(), programs.Event("t", []byte("2")))
	var conflict *ops.Conflict
	require.True(t, errors.As(err, &conflict), "want *ops.Conflict, got %T %v", err, err)
	assert.Equal(t, ops.Conflict{Stream: "s", Expected: ops.NoStream(), Actual: 1}, *conflict)

	_, err = effect.Perform(p, ops.KvPut{Key: "k", Value: []byte("v"), Expect: ops.Exact(4)})
	require.True(t, errors.As(err, &conflict))
	assert.Equal(t, ops.Conflict{Key: "k", Expected: ops.Exact(4), Actual: 0}, *conflict)
}

func TestProgramRunsUnchanged(t *testing.T) {
	c, _ := serve(t, memStore(), server.Options{}, remote.Options{JSON: true})
	defer c.Close()
	type order struct{ N int }
	got, err := interp.Run(context.Background(), func(p *effect.P) (int, error) {
		for i := 1; i <= 3; i++ {
			ev, err := programs.JSONEvent("placed", order{N: i})
			if err != nil {
				return 0, err
			}
			if _, err := programs.AppendRetry(p, "orders", 3, func(*effect.P, uint64) ([]ops.EventData, error) {
				return []ops.EventData{ev}, nil
			}); err != nil {
				return 0, err
			}
		}
		st, err := programs.Project(p, "orders", func(s int, ev ops.Event) (int, error) {
			o, err := programs.Decode[order](ev)
			return s + o.N, err
		}, 0)
		return st.Value, err
	}, c)
	require.NoError(t, err)
	assert.Equal(t, 6, got)
}

func TestBatch(t *testing.T) {
	c, _ := serve(t, memStore(), server.Options{}, remote.Options{})
	defer c.Close()
	_, err := effect.Perform(effect.Handle(context.Background(), c), ops.Append{Stream: "x", Events: []ops.EventData{{Type: "t"}}})
	require.NoError(t, err)
	res, err := c.Batch(context.Background(), []effect.Effect{
		ops.Append{Stream: "a", Events: []ops.EventData{{Type: "t"}}},
		ops.Append{Stream: "x", Expect: ops.NoStream(), Events: []ops.EventData{{Type: "t"}}},
		ops.KvGet{Key: "none"},
		ops.Head{Stream: "b"}, // the operations of a batch run at once, in no order
	})
	require.NoError(t, err)
	require.Len(t, res, 4)
	assert.NoError(t, res[0].Err)
	assert.Equal(t, uint64(1), res[0].Value.(ops.AppendResult).Head)
	assert.ErrorIs(t, res[1].Err, ops.ErrConflict)
	assert.Nil(t, res[2].Value.(*ops.KvEntry))
	assert.Equal(t, uint64(0), res[3].Value)
}

func TestClientClose(t *testing.T) {
	c, _ := serve(t, memStore(), server.Options{}, remote.Options{})
	defer c.Close()
	require.NoError(t, c.Client.Close())
	_, err := effect.Perform(effect.Handle(context.Background(), c), ops.Head{Stream: "s"})
	assert.ErrorIs(t, err, ops.ErrClosed)
}

func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	c, err := remote.Dial("http://"+addr, remote.Options{})
	require.NoError(t, err)
	defer c.Close()
	_, err = effect.Perform(effect.Handle(context.Background(), c), ops.Head{Stream: "s"})
	var ue *remote.UnreachableError
	assert.True(t, errors.As(err, &ue), "got %T %v", err, err)
}

func TestDialRefusesBadURLs(t *testing.T) {
	for _, u := range []string{"ftp://x", "127.0.0.1:7070", "http://", "::"} {
		_, err := remote.Dial(u, remote.Options{})
		assert.Error(t, err, u)
	}
}

// TestFollowAcrossRestart follows a file store's stream while its server
// shuts down and a new one starts on the same address: every event
// arrives, in order, none lost.
func TestFollowAcrossRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	store := fileStore(t, dir)
	srv, err := server.New(store, server.Options{Limits: server.Limits{Ping: 50 * time.Millisecond}})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	go func() { _ = srv.Serve(ln, "", "") }()
	c, err := remote.Dial("http://"+addr, remote.Options{})
	require.NoError(t, err)
	defer c.Close()
	p := effect.Handle(context.Background(), c)
	appendN := func(n int) {
		for range n {
			_, err := effect.Perform(p, ops.Append{Stream: "s", Events: []ops.EventData{{Type: "t"}}})
			require.NoError(t, err)
		}
	}
	appendN(5)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got := make(chan uint64, 100)
	followed := make(chan error, 1)
	go func() {
		_, err := c.Follow(ctx, remote.FollowOptions{Stream: "s", Retry: 20 * time.Millisecond}, func(ev ops.Event) error {
			got <- ev.Seq
			if ev.Seq == 10 {
				return errors.New("enough")
			}
			return nil
		})
		followed <- err
	}()
	for want := uint64(1); want <= 5; want++ {
		assert.Equal(t, want, <-got)
	}
	require.NoError(t, srv.Shutdown(context.Background()))

	srv2, err := server.New(fileStore(t, dir), server.Options{})
	require.NoError(t, err)
	var ln2 net.Listener
	require.Eventually(t, func() bool {
		ln2, err = net.Listen("tcp", addr)
		return err == nil
	}, 5*time.Second, 20*time.Millisecond)
	go func() { _ = srv2.Serve(ln2, "", "") }()
	defer srv2.Shutdown(context.Background())
	appendN(5)
	for want := uint64(6); want <= 10; want++ {
		select {
		case seq := <-got:
			assert.Equal(t, want, seq)
		case <-ctx.Done():
			t.Fatalf("event %d never arrived", want)
		}
	}
	assert.EqualError(t, <-followed, "enough")
}

// TestCloseEndsALateDial closes the client while its first request is
// still dialling: the request ends with ops.ErrClosed, and the connection
// that the dial makes after Close is closed, not kept idle (over h2c the
// transport keeps it, having written its preface), so that a server
// shutting down does not wait on it.
func TestCloseEndsALateDial(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "http1", true: "h2c"}[h2], func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			defer ln.Close()
			c, err := remote.Dial("http://"+ln.Addr().String(), remote.Options{HTTP2: h2})
			require.NoError(t, err)
			entered, release := make(chan struct{}), make(chan struct{})
			remote.SetDialed(c, func() { close(entered); <-release })
			answered := make(chan error, 1)
			go func() {
				_, err := effect.Perform(effect.Handle(context.Background(), c), ops.Head{Stream: "s"})
				answered <- err
			}()
			<-entered
			require.NoError(t, c.Close())
			require.ErrorIs(t, <-answered, ops.ErrClosed)
			close(release)

			conn, err := ln.Accept()
			require.NoError(t, err)
			defer conn.Close()
			require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
			_, err = io.Copy(io.Discard, conn)
			require.NoError(t, err, "the connection dialled after Close is still open")
		})
	}
}

// TestPipeFallsBackToRequests talks to a server without /v1/pipe (an
// older one, whose 404 waits for a body that does not end): the client
// finds out and sends each operation as its own request instead.
func TestPipeFallsBackToRequests(t *testing.T) {
	srv, err := server.New(mem.New(), server.Options{})
	require.NoError(t, err)
	var piped atomic.Int32
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/pipe" {
			if r.Method == http.MethodPost {
				piped.Add(1)
			}
			http.NotFound(w, r)
			return
		}
		srv.ServeHTTP(w, r)
	}))
	defer hs.Close()
	defer srv.Shutdown(context.Background())
	c, err := remote.Dial(hs.URL, remote.Options{})
	require.NoError(t, err)
	defer c.Close()
	p := effect.Handle(context.Background(), c)
	for range 3 {
		_, err := effect.Perform(p, ops.Append{Stream: "s", Events: []ops.EventData{{Type: "t"}}})
		require.NoError(t, err)
	}
	h, err := effect.Perform(p, ops.Head{Stream: "s"})
	require.NoError(t, err)
	assert.Equal(t, uint64(3), h)
	assert.Equal(t, int32(1), piped.Load(), "the pipe is asked for once")
}

// TestPipeCarriesConcurrentOperations performs many operations at once
// through one client: they share its pipe, each gets its own answer, and
// a refused one does not disturb the others.
func TestPipeCarriesConcurrentOperations(t *testing.T) {
	secret, tok, err := server.NewToken("w", server.Grant{Kind: server.GrantWrite, Prefix: "ok/"}, server.Grant{Kind: server.GrantRead, Prefix: "ok/"})
	require.NoError(t, err)
	c, _ := serve(t, mem.New(), server.Options{Tokens: []server.Token{tok}}, remote.Options{Token: secret})
	defer c.Close()
	var wg sync.WaitGroup
	errs := make([]error, 64)
	for i := range 64 {
		wg.Go(func() {
			stream := fmt.Sprintf("ok/%d", i)
			if i%8 == 0 {
				stream = fmt.Sprintf("no/%d", i)
			}
			p := effect.Handle(context.Background(), c)
			for range 10 {
				if _, errs[i] = effect.Perform(p, ops.Append{Stream: stream, Events: []ops.EventData{{Type: "t"}}}); errs[i] != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	p := effect.Handle(context.Background(), c)
	for i, err := range errs {
		if i%8 == 0 {
			assert.ErrorIs(t, err, remote.ErrForbidden, "writer %d", i)
			continue
		}
		require.NoError(t, err, "writer %d", i)
		h, err := effect.Perform(p, ops.Head{Stream: fmt.Sprintf("ok/%d", i)})
		require.NoError(t, err)
		assert.Equal(t, uint64(10), h)
	}
}

// TestWatchKvDeliversChanges watches keys under a prefix over the wire:
// the changes already made, then live ones, in revision order.
func TestWatchKvDeliversChanges(t *testing.T) {
	store := mem.New()
	c, _ := serve(t, store, server.Options{}, remote.Options{})
	defer c.Close()
	p := effect.Handle(context.Background(), c)
	_, err := effect.Perform(p, ops.KvPut{Key: "cfg/a", Value: []byte("1")})
	require.NoError(t, err)
	_, err = effect.Perform(p, ops.KvPut{Key: "x", Value: []byte("1")})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make(chan ops.KvVersion, 10)
	done := make(chan error, 1)
	go func() {
		_, err := c.WatchKv(ctx, remote.WatchOptions{Prefix: "cfg/"}, func(v ops.KvVersion) error {
			got <- v
			if v.Deleted {
				return errors.New("enough")
			}
			return nil
		})
		done <- err
	}()
	first := <-got
	assert.Equal(t, "cfg/a", first.Key)
	assert.Equal(t, uint64(1), first.Revision)
	_, err = effect.Perform(p, ops.KvDelete{Key: "cfg/a"})
	require.NoError(t, err)
	last := <-got
	assert.True(t, last.Deleted)
	assert.Equal(t, uint64(3), last.Revision)
	assert.EqualError(t, <-done, "enough")

	h, err := effect.Perform(p, ops.KvHistory{Key: "cfg/a"})
	require.NoError(t, err)
	require.Len(t, h.Versions, 2)
	assert.True(t, h.Versions[0].Deleted, "newest first")
}
