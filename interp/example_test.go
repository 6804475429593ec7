package interp_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"rose-ash.com/persist/backends/mem"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/interp"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/programs"
)

// placeOrder is a program: it performs operations and decides on what it
// reads, and knows nothing of where they are stored.
func placeOrder(p *effect.P) (uint64, error) {
	res, err := effect.Perform(p, ops.Append{
		Stream: "orders",
		Expect: ops.NoStream(), // a conflict comes back as *ops.Conflict; nothing is written
		Events: []ops.EventData{programs.Event("placed", []byte(`{"sku":"a1"}`))},
	})
	return res.Head, err
}

func Example() {
	ctx := context.Background()
	fixed := func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	store := mem.New(mem.WithClock(fixed))

	// In place: the store answers on the program's own stack.
	head, err := interp.Run(ctx, placeOrder, store)
	fmt.Println(head, err)

	// Stepped, one effect at a time, traced: the stream now exists, so the
	// same program gets a conflict, as a value.
	_, err = interp.RunStepped(ctx, placeOrder, interp.Trace(os.Stdout), store)
	var conflict *ops.Conflict
	fmt.Println(errors.As(err, &conflict), conflict.Actual)
	// Output:
	// 1 <nil>
	// (persist/append {:events [{:data "{\"sku\":\"a1\"}" :id "00000000-0000-0000-0000-000000000000" :type "placed"}] :expect "no-stream" :stream "orders"}) !! persist: conflict on stream "orders": expected no stream (head 0), actual head 1
	// true 1
}
