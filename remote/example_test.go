package remote_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"

	"rose-ash.com/persist/backends/mem"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/programs"
	"rose-ash.com/persist/remote"
	"rose-ash.com/persist/server"
)

// A program runs unchanged against a server: the client is the handler.
func ExampleDial() {
	srv, _ := server.New(mem.New(), server.Options{})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Shutdown(context.Background())

	c, err := remote.Dial(hs.URL, remote.Options{})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	p := effect.Handle(context.Background(), c)
	res, _ := programs.Append(p, "orders", ops.NoStream(), programs.Event("placed", []byte(`{"order":17}`)))
	fmt.Println("head", res.Head)

	// A conflict comes back as the same value as on an embedded store.
	_, err = programs.Append(p, "orders", ops.NoStream(), programs.Event("placed", []byte(`{"order":18}`)))
	var conflict *ops.Conflict
	fmt.Println(errors.As(err, &conflict), conflict.Actual)
	// Output:
	// head 1
	// true 1
}
