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
	// (persist/append {:events [{:data "{\"sku\":\"a1\"}" :type "placed"}] :expect "no-stream" :stream "orders"}) !! persist: conflict on stream "orders": expected no stream (head 0), actual head 1
	// true 1
}

// Record keeps each effect and its answer; Replay answers a second run from
// the journal, without the store, and reports where a run departs from it.
func ExampleReplay() {
	ctx := context.Background()
	var j interp.Journal
	head, err := interp.Run(ctx, placeOrder, interp.Record(&j), mem.New())
	fmt.Println(head, err, j.Len())

	// No store at all: the journal answers.
	r := interp.Replay(&j, interp.ReplayOnly())
	head, err = interp.Run(ctx, placeOrder, r)
	fmt.Println(head, err, r.Replayed())

	// A program that performs something else diverges, as a value.
	_, err = interp.Run(ctx, func(p *effect.P) (uint64, error) { return programs.Head(p, "orders") }, interp.Replay(&j, interp.ReplayOnly()))
	fmt.Println(errors.Is(err, interp.ErrDiverged))
	// Output:
	// 1 <nil> 1
	// 1 <nil> 1
	// true
}

// Inject crashes the run at the k-th effect it counts.
func ExampleInject() {
	ctx := context.Background()
	store := mem.New()
	_, err := interp.Run(ctx, placeOrder, &interp.Inject{At: 0, Op: ops.NameAppend}, store)
	fmt.Println(errors.Is(err, interp.ErrCrash))
	head, _ := interp.Run(ctx, func(p *effect.P) (uint64, error) { return programs.Head(p, "orders") }, store)
	fmt.Println("written:", head)
	// Output:
	// true
	// written: 0
}
