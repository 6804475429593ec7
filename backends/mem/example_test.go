package mem_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"rose-ash.com/persist/backends/mem"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// The in-memory store is a handler: perform operations on a handle made of
// it.
func ExampleNew() {
	ctx := context.Background()
	clock := func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }
	store := mem.New(mem.WithClock(clock))
	p := effect.Handle(ctx, store)

	res, err := effect.Perform(p, ops.Append{Stream: "orders", Expect: ops.NoStream(),
		Events: []ops.EventData{{Type: "placed", Data: []byte(`{:order 17}`)}}})
	fmt.Println(res.Head, err)
	page, _ := effect.Perform(p, ops.Read{Stream: "orders"})
	ev := page.Events[0]
	fmt.Println(ev.Seq, ev.Type, string(ev.Data), ev.At.Format(time.RFC3339))

	_ = store.Close()
	_, err = effect.Perform(p, ops.Head{Stream: "orders"})
	fmt.Println(errors.Is(err, ops.ErrClosed))
	// Output:
	// 1 <nil>
	// 1 placed {:order 17} 2026-01-01T00:00:00Z
	// true
}

// Commit applies several parts all or none: a failed expectation writes
// nothing.
func ExampleStore_Commit() {
	store := mem.New()
	_, err := store.Commit(ops.Commit{
		Appends: []ops.Append{{Stream: "a", Events: []ops.EventData{{Type: "e"}}}},
		Kv:      []ops.KvChange{{Key: "k", Value: []byte("v"), Expect: ops.Exists()}},
	})
	fmt.Println(err)
	head, _ := store.Head(ops.Head{Stream: "a"})
	fmt.Println(head)
	// Output:
	// persist: conflict on key "k": expected the key present, actual absent
	// 0
}
