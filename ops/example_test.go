package ops_test

import (
	"errors"
	"fmt"

	"rose-ash.com/persist/ops"
)

func ExampleExpect() {
	for _, e := range []ops.Expect{ops.Any(), ops.NoStream(), ops.Exists(), ops.Exact(3)} {
		fmt.Println(e, e.Holds(0), e.Holds(3))
	}
	e, err := ops.ParseExpect("no-stream")
	fmt.Println(e == ops.NoStream(), err)
	// Output:
	// any true true
	// no-stream true false
	// exists false true
	// 3 false true
	// true <nil>
}

// A failed expectation is a value that names what was expected and found.
func ExampleConflict() {
	var err error = &ops.Conflict{Stream: "orders", Expected: ops.Exact(2), Actual: 5}
	var c *ops.Conflict
	fmt.Println(errors.Is(err, ops.ErrConflict), errors.As(err, &c), c.Actual)
	fmt.Println(err)
	// Output:
	// true true 5
	// persist: conflict on stream "orders": expected head 2, actual head 5
}

// Every backend validates an operation before it writes anything; the
// error names the operation and the field.
func ExampleValidate() {
	err := ops.Validate(ops.Append{Stream: "orders", Events: []ops.EventData{{Type: "placed"}, {}}})
	var inv *ops.InvalidError
	fmt.Println(errors.As(err, &inv), inv.Op, inv.Field)
	fmt.Println(err)
	fmt.Println(ops.Validate(ops.Head{Stream: "orders"}))
	// Output:
	// true persist/append events[1].type
	// persist/append: invalid events[1].type: empty
	// <nil>
}

// An append, a kv put and a kv delete are each a one-part commit.
func ExampleAsCommit() {
	c, ok := ops.AsCommit(ops.KvPut{Key: "k", Value: []byte("v"), Expect: ops.NoStream()})
	fmt.Println(ok, len(c.Appends), c.Kv[0].Key, c.Kv[0].Expect)
	// Output: true 0 k no-stream
}
