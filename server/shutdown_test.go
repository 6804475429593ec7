package server_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/mem"
	"rose-ash.com/persist/server"
)

// h2Preface opens an HTTP/2 connection with prior knowledge: the client
// preface and an empty SETTINGS frame.
var h2Preface = append([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 0, 0, 0, 0x4, 0, 0, 0, 0, 0)

// readUntilGoAway reads HTTP/2 frames from r until a GOAWAY.
func readUntilGoAway(t *testing.T, r *bufio.Reader) {
	t.Helper()
	var h [9]byte
	for {
		_, err := io.ReadFull(r, h[:])
		require.NoError(t, err, "the connection ended before a GOAWAY")
		n := int(h[0])<<16 | int(h[1])<<8 | int(h[2])
		_, err = io.CopyN(io.Discard, r, int64(n))
		require.NoError(t, err)
		if h[3] == 0x7 && binary.BigEndian.Uint32(h[5:])&0x7fffffff == 0 {
			return
		}
	}
}

// TestShutdownEndsALateHTTP2Connection shuts the server down while a
// connection it has accepted has not yet sent its HTTP/2 preface, and
// sends the preface only after http.Server.Shutdown has told the HTTP/2
// connections it had to go away. That connection is told nothing by
// http.Server and stays active; Shutdown must still end it, not wait for
// its context.
func TestShutdownEndsALateHTTP2Connection(t *testing.T) {
	srv, err := server.New(mem.New(), server.Options{})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln, "", "") }()

	// The late connection is dialled first, so it is accepted before the
	// early one is answered.
	late, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer late.Close()
	early, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer early.Close()
	_, err = early.Write(h2Preface)
	require.NoError(t, err)
	er := bufio.NewReader(early)
	var h [9]byte
	_, err = io.ReadFull(er, h[:]) // the server's SETTINGS: the early connection is served
	require.NoError(t, err)
	require.Equal(t, byte(0x4), h[3], "first frame of the server")
	_, err = io.CopyN(io.Discard, er, int64(int(h[0])<<16|int(h[1])<<8|int(h[2])))
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(ctx) }()
	// The early connection's GOAWAY says http.Server has told every
	// HTTP/2 connection it knew; the late one starts only now.
	readUntilGoAway(t, er)
	_, err = late.Write(h2Preface)
	require.NoError(t, err)

	require.NoError(t, <-shut, "Shutdown waited on the late connection")
	require.NoError(t, <-served)
	// The late connection was told to go away, and closed.
	readUntilGoAway(t, bufio.NewReader(late))
}
