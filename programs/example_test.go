package programs_test

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"rose-ash.com/persist/backends/mem"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/programs"
)

func ExampleAppendRetry() {
	p := effect.Handle(context.Background(), mem.New())
	// decide gets the head the append will expect; a conflict calls it
	// again with the new head.
	res, err := programs.AppendRetry(p, "tickets", 3, func(p *effect.P, head uint64) ([]ops.EventData, error) {
		return []ops.EventData{programs.Event("issued", strconv.AppendUint(nil, head+1, 10))}, nil
	})
	fmt.Println(res.Head, err)
	// Output: 1 <nil>
}

func ExampleUpdate() {
	p := effect.Handle(context.Background(), mem.New())
	incr := func(old []byte, found bool) ([]byte, error) {
		n, _ := strconv.Atoi(string(old))
		return strconv.AppendInt(nil, int64(n+1), 10), nil
	}
	_, _ = programs.Update(p, "visits", 5, incr)
	res, err := programs.Update(p, "visits", 5, incr)
	v, _ := programs.GetOr(p, "visits", nil)
	fmt.Println(string(v), res.Existed, err)
	// Output: 2 true <nil>
}

func ExampleProject() {
	p := effect.Handle(context.Background(), mem.New())
	_, _ = programs.Append(p, "acct", ops.NoStream(),
		programs.Event("deposit", []byte(`{"amount": 10}`)),
		programs.Event("deposit", []byte(`{:amount 5}`)))
	type deposit struct {
		Amount int `json:"amount"`
	}
	sum := func(total int, ev ops.Event) (int, error) {
		d, err := programs.Decode[deposit](ev) // JSON or SX, the same data
		return total + d.Amount, err
	}
	st, err := programs.Project(p, "acct", sum, 0)
	fmt.Println(st.Value, st.Seq, err)

	// A step's error stops the fold, naming the stream and seq.
	_, _ = programs.Append(p, "acct", ops.Any(), programs.Event("deposit", []byte(`{:amount "ten"}`)))
	_, err = programs.Project(p, "acct", sum, 0)
	fmt.Println(err)
	// Output:
	// 15 2 <nil>
	// project "acct": step at seq 3 (deposit): decode deposit event acct#3: json: cannot unmarshal string into Go struct field deposit.amount of type int
}

func ExampleLoad() {
	p := effect.Handle(context.Background(), mem.New())
	count := programs.Projection[int]{Name: "count", Stream: "clicks", Version: 1,
		Step: func(n int, _ ops.Event) (int, error) { return n + 1, nil }}
	_, _ = programs.Append(p, "clicks", ops.Any(), programs.Event("click", nil), programs.Event("click", nil))
	st, _ := programs.Load(p, count)
	_ = programs.Checkpoint(p, count, st) // snapshot at seq 2
	_, _ = programs.Append(p, "clicks", ops.Any(), programs.Event("click", nil))
	st, err := programs.Load(p, count) // the snapshot plus one event
	fmt.Println(st.Value, st.Seq, err)
	// Output: 3 3 <nil>
}

func ExampleFollow() {
	p := effect.Handle(context.Background(), mem.New())
	_, _ = programs.Append(p, "orders", ops.Any(), programs.Event("placed", nil), programs.Event("paid", nil))
	opts := programs.FollowOptions{Name: "mailer", Stream: "orders", Idle: 10 * time.Millisecond,
		Handle: func(p *effect.P, ev ops.Event) error {
			fmt.Println("mail for", ev.Seq, ev.Type)
			return nil
		}}
	_ = programs.Follow(p, opts)
	_, _ = programs.Append(p, "orders", ops.Any(), programs.Event("shipped", nil))
	err := programs.Follow(p, opts) // resumes after its checkpoint
	fmt.Println(err)
	// Output:
	// mail for 1 placed
	// mail for 2 paid
	// mail for 3 shipped
	// <nil>
}

func ExampleHub() {
	p := effect.Handle(context.Background(), mem.New())
	hub := programs.NewHub()
	cancel := hub.Subscribe("orders", func(p *effect.P, ev ops.Event) error {
		// Part of the publishing program: keep a read model current.
		_, err := programs.Put(p, "last-order", strconv.AppendUint(nil, ev.Seq, 10))
		return err
	})
	defer cancel()
	_, err := hub.Publish(p, "orders", ops.NoStream(), programs.Event("placed", nil))
	v, _ := programs.GetOr(p, "last-order", nil)
	fmt.Println(string(v), err)
	// Output: 1 <nil>
}

func ExampleEvents() {
	p := effect.Handle(context.Background(), mem.New())
	_, _ = programs.Append(p, "orders", ops.Any(), programs.Event("placed", nil), programs.Event("paid", nil))
	for ev, err := range programs.Events(p, "orders", 1) {
		if err != nil {
			fmt.Println(err)
			break
		}
		fmt.Println(ev.Seq, ev.Type)
	}
	// Output:
	// 1 placed
	// 2 paid
}

func ExampleDecode() {
	type order struct {
		Order int `json:"order"`
	}
	a, _ := programs.Decode[order](ops.Event{Data: []byte(`{"order": 17}`)})
	b, _ := programs.Decode[order](ops.Event{Data: []byte(`{:order 17}`)})
	fmt.Println(a == b, a.Order)
	// Output: true 17
}
