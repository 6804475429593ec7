package persist_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"rose-ash.com/persist"
	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/backends/mem"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/interp"
	"rose-ash.com/persist/programs"
)

// The basic case: open, append, read.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "persist-example-")
	defer os.RemoveAll(dir)

	db, err := persist.Open(ctx, dir)
	if err != nil {
		panic(err)
	}
	defer db.Close()
	if _, err := db.Append(ctx, "orders", persist.NoStream(), persist.NewEvent("placed", []byte(`{:order 17}`))); err != nil {
		panic(err)
	}
	for ev, err := range db.Read(ctx, "orders", 1) {
		if err != nil {
			panic(err)
		}
		fmt.Println(ev.Seq, ev.Type, string(ev.Data))
	}
	// Output: 1 placed {:order 17}
}

func ExampleOpen() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "persist-example-")
	defer os.RemoveAll(dir)

	db, _ := persist.Open(ctx, dir)
	_, _ = db.Append(ctx, "orders", persist.Any(), persist.NewEvent("placed", nil))
	_ = db.Close()

	// What was acknowledged is there after a reopen.
	db, _ = persist.Open(ctx, dir)
	defer db.Close()
	head, _ := db.Head(ctx, "orders")
	fmt.Println("head after reopen:", head)
	// Output: head after reopen: 1
}

func ExampleOpenReadOnly() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "persist-example-")
	defer os.RemoveAll(dir)
	writer, _ := persist.Open(ctx, dir)
	defer writer.Close()
	_, _ = writer.Append(ctx, "orders", persist.Any(), persist.NewEvent("placed", nil))

	reader, _ := persist.OpenReadOnly(ctx, dir)
	defer reader.Close()
	head, _ := reader.Head(ctx, "orders")
	_, err := reader.Append(ctx, "orders", persist.Any(), persist.NewEvent("placed", nil))
	fmt.Println(head, errors.Is(err, file.ErrReadOnly))
	// Output: 1 true
}

func ExampleOpenMem() {
	ctx := context.Background()
	db := persist.OpenMem(persist.WithClock(func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }))
	defer db.Close()
	_, _ = db.Append(ctx, "orders", persist.Any(), persist.NewEvent("placed", nil))
	for ev := range db.Read(ctx, "orders", 1) {
		fmt.Println(ev.Seq, ev.At.Format(time.RFC3339))
	}
	// Output: 1 2026-01-01T00:00:00Z
}

func ExampleNew() {
	// Any ops.Backend makes a DB; here the in-memory one, built by hand.
	db := persist.New(mem.New())
	defer db.Close()
	res, _ := db.Append(context.Background(), "s", persist.NoStream(), persist.NewEvent("e", nil))
	fmt.Println(res.Head)
	// Output: 1
}

func ExampleWithMiddleware() {
	// Trace prints every operation the DB performs, and its answer.
	db := persist.OpenMem(persist.WithMiddleware(interp.Trace(os.Stdout)))
	defer db.Close()
	_, _ = db.Head(context.Background(), "orders")
	// Output: (persist/head {:stream "orders"}) => 0
}

func ExampleDB_Append() {
	ctx := context.Background()
	db := persist.OpenMem()
	defer db.Close()
	res, err := db.Append(ctx, "orders", persist.NoStream(),
		persist.NewEvent("placed", []byte(`{"order": 17}`)),
		persist.NewEvent("paid", []byte(`{"order": 17}`)))
	fmt.Println(res.FirstSeq, res.Head, err)

	// The stream is no longer empty: the conflict is a value, and nothing
	// is written.
	_, err = db.Append(ctx, "orders", persist.NoStream(), persist.NewEvent("placed", nil))
	var c *persist.Conflict
	fmt.Println(errors.As(err, &c), c.Actual)
	fmt.Println(err)
	// Output:
	// 1 2 <nil>
	// true 2
	// persist: conflict on stream "orders": expected no stream (head 0), actual head 2
}

func ExampleDB_AppendRetry() {
	ctx := context.Background()
	db := persist.OpenMem()
	defer db.Close()
	// decide is given the head; a conflict calls it again with the new one.
	res, err := db.AppendRetry(ctx, "tickets", 3, func(head uint64) ([]persist.EventData, error) {
		return []persist.EventData{persist.NewEvent("issued", fmt.Appendf(nil, "{:number %d}", head+1))}, nil
	})
	fmt.Println(res.Head, err)
	// Output: 1 <nil>
}

func ExampleDB_Read() {
	ctx := context.Background()
	db := persist.OpenMem()
	defer db.Close()
	for _, t := range []string{"placed", "paid", "shipped"} {
		_, _ = db.Append(ctx, "orders", persist.Any(), persist.NewEvent(t, nil))
	}
	for ev, err := range db.Read(ctx, "orders", 2) {
		if err != nil {
			fmt.Println(err)
			break
		}
		fmt.Println(ev.Seq, ev.Type)
	}
	// Output:
	// 2 paid
	// 3 shipped
}

func ExampleDB_ReadAll() {
	ctx := context.Background()
	db := persist.OpenMem()
	defer db.Close()
	_, _ = db.Append(ctx, "orders", persist.Any(), persist.NewEvent("placed", nil))
	_, _ = db.Append(ctx, "users", persist.Any(), persist.NewEvent("joined", nil))
	for ev := range db.ReadAll(ctx, 1) {
		fmt.Println(ev.Pos, ev.Stream, ev.Type)
	}
	// Output:
	// 1 orders placed
	// 2 users joined
}

func ExampleDB_Head() {
	ctx := context.Background()
	db := persist.OpenMem()
	defer db.Close()
	empty, _ := db.Head(ctx, "orders")
	_, _ = db.Append(ctx, "orders", persist.Any(), persist.NewEvent("placed", nil))
	head, _ := db.Head(ctx, "orders")
	fmt.Println(empty, head)
	// Output: 0 1
}

func ExampleDB_Streams() {
	ctx := context.Background()
	db := persist.OpenMem()
	defer db.Close()
	for _, s := range []string{"order-2", "order-1", "user-1"} {
		_, _ = db.Append(ctx, s, persist.Any(), persist.NewEvent("e", nil))
	}
	for s := range db.Streams(ctx, "order-") {
		fmt.Println(s.Name, s.Head)
	}
	// Output:
	// order-1 1
	// order-2 1
}

func ExampleDB_Wait() {
	ctx := context.Background()
	db := persist.OpenMem()
	defer db.Close()
	go func() {
		_, _ = db.Append(ctx, "orders", persist.Any(), persist.NewEvent("placed", nil))
	}()
	w, err := db.Wait(ctx, "orders", 0, time.Minute) // until the head passes 0
	fmt.Println(w.Passed, w.Head, err)
	w, _ = db.Wait(ctx, "orders", 1, time.Millisecond) // a timeout is an answer
	fmt.Println(w.Passed)
	// Output:
	// true 1 <nil>
	// false
}

func ExampleDB_Follow() {
	ctx := context.Background()
	db := persist.OpenMem()
	defer db.Close()
	_, _ = db.Append(ctx, "orders", persist.Any(), persist.NewEvent("placed", nil), persist.NewEvent("paid", nil))
	handle := func(ctx context.Context, ev persist.Event) error {
		fmt.Println("handled", ev.Seq, ev.Type)
		return nil
	}
	// Idle ends the follow once caught up; without it Follow waits for
	// more until ctx ends.
	_ = db.Follow(ctx, persist.FollowOptions{Name: "mailer", Stream: "orders", Idle: 10 * time.Millisecond, Handle: handle})
	_, _ = db.Append(ctx, "orders", persist.Any(), persist.NewEvent("shipped", nil))
	// The follower resumes after its checkpoint.
	_ = db.Follow(ctx, persist.FollowOptions{Name: "mailer", Stream: "orders", Idle: 10 * time.Millisecond, Handle: handle})
	// Output:
	// handled 1 placed
	// handled 2 paid
	// handled 3 shipped
}

func ExampleDB_Publish() {
	ctx := context.Background()
	db := persist.OpenMem()
	defer db.Close()
	cancel, _ := db.Subscribe("orders", func(ctx context.Context, ev persist.Event) error {
		fmt.Println("subscriber saw", ev.Seq, ev.Type)
		return nil
	})
	defer cancel()
	res, err := db.Publish(ctx, "orders", persist.NoStream(), persist.NewEvent("placed", nil))
	fmt.Println(res.Head, err)
	// Output:
	// subscriber saw 1 placed
	// 1 <nil>
}

func ExampleDB_Subscribe() {
	ctx := context.Background()
	db := persist.OpenMem()
	defer db.Close()
	cancel, _ := db.Subscribe("orders", func(ctx context.Context, ev persist.Event) error {
		fmt.Println("saw", ev.Type)
		return nil
	})
	_, _ = db.Publish(ctx, "orders", persist.Any(), persist.NewEvent("placed", nil))
	_, _ = db.Append(ctx, "orders", persist.Any(), persist.NewEvent("bulk", nil)) // not published: not seen
	cancel()
	_, _ = db.Publish(ctx, "orders", persist.Any(), persist.NewEvent("paid", nil)) // cancelled: not seen
	// Output: saw placed
}

func ExampleDB_KvGet() {
	ctx := context.Background()
	db := persist.OpenMem()
	defer db.Close()
	_, found, _ := db.KvGet(ctx, "cart/1")
	fmt.Println(found)
	_, _ = db.KvPut(ctx, "cart/1", []byte(`{:items 2}`), persist.Any())
	e, found, _ := db.KvGet(ctx, "cart/1")
	fmt.Println(found, string(e.Value), e.Revision)
	// Output:
	// false
	// true {:items 2} 1
}

func ExampleDB_KvPut() {
	ctx := context.Background()
	db := persist.OpenMem()
	defer db.Close()
	r, _ := db.KvPut(ctx, "config", []byte("v1"), persist.NoStream()) // create only
	_, err := db.KvPut(ctx, "config", []byte("v1"), persist.NoStream())
	fmt.Println(r.Revision, err)
	r, err = db.KvPut(ctx, "config", []byte("v2"), persist.Exact(r.Revision)) // compare-and-set
	fmt.Println(r.Revision, err)
	// Output:
	// 1 persist: conflict on key "config": expected the key absent, actual revision 1
	// 2 <nil>
}

func ExampleDB_KvDelete() {
	ctx := context.Background()
	db := persist.OpenMem()
	defer db.Close()
	_, _ = db.KvPut(ctx, "session/a", []byte("x"), persist.Any())
	r, _ := db.KvDelete(ctx, "session/a", persist.Exists())
	fmt.Println(r.Existed)
	r, err := db.KvDelete(ctx, "session/a", persist.Any()) // absent: not an error
	fmt.Println(r.Existed, err)
	// Output:
	// true
	// false <nil>
}

func ExampleDB_KvList() {
	ctx := context.Background()
	db := persist.OpenMem()
	defer db.Close()
	for _, k := range []string{"user/2", "user/1", "group/1"} {
		_, _ = db.KvPut(ctx, k, []byte(k), persist.Any())
	}
	for e := range db.KvList(ctx, "user/") {
		fmt.Println(e.Key)
	}
	// Output:
	// user/1
	// user/2
}

func ExampleDB_KvUpdate() {
	ctx := context.Background()
	db := persist.OpenMem()
	defer db.Close()
	incr := func(old []byte, found bool) ([]byte, error) {
		n := 0
		if found {
			fmt.Sscan(string(old), &n)
		}
		return fmt.Append(nil, n+1), nil
	}
	_, _ = db.KvUpdate(ctx, "visits", 5, incr)
	_, _ = db.KvUpdate(ctx, "visits", 5, incr)
	e, _, _ := db.KvGet(ctx, "visits")
	fmt.Println(string(e.Value))
	// Output: 2
}

func ExampleDB_Commit() {
	ctx := context.Background()
	db := persist.OpenMem()
	defer db.Close()
	// An order event and the stock it takes, all or none.
	res, err := db.Commit(ctx, persist.Commit{
		Appends: []persist.Append{{Stream: "order-17", Expect: persist.NoStream(), Events: []persist.EventData{persist.NewEvent("placed", nil)}}},
		Kv:      []persist.KvChange{{Key: "stock/a1", Value: []byte("4"), Expect: persist.NoStream()}},
	})
	fmt.Println(res.Appends[0].Head, res.Kv[0].Revision, err)
	// Output: 1 1 <nil>
}

func ExampleDB_Run() {
	ctx := context.Background()
	db := persist.OpenMem()
	defer db.Close()
	// A program performs operations; Run answers them on the DB's handlers.
	err := db.Run(ctx, func(p *effect.P) error {
		if _, err := programs.Append(p, "orders", persist.NoStream(), programs.Event("placed", nil)); err != nil {
			return err
		}
		_, err := programs.Put(p, "order/17", []byte("placed"))
		return err
	})
	e, _, _ := db.KvGet(ctx, "order/17")
	fmt.Println(err, string(e.Value))
	// Output: <nil> placed
}

func ExampleRun() {
	ctx := context.Background()
	db := persist.OpenMem()
	defer db.Close()
	head, err := persist.Run(ctx, db, func(p *effect.P) (uint64, error) {
		res, err := programs.Append(p, "orders", persist.Any(), programs.Event("placed", nil))
		return res.Head, err
	})
	fmt.Println(head, err)
	// Output: 1 <nil>
}

func ExampleDB_Handlers() {
	ctx := context.Background()
	db := persist.OpenMem()
	defer db.Close()
	// The same program, stepped: the host answers each operation.
	head, err := interp.RunStepped(ctx, func(p *effect.P) (uint64, error) { return programs.Head(p, "orders") }, db.Handlers()...)
	fmt.Println(head, err)
	// Output: 0 <nil>
}

func ExampleDB_Backend() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "persist-example-")
	defer os.RemoveAll(dir)
	db, _ := persist.Open(ctx, dir)
	defer db.Close()
	_, _ = db.Append(ctx, "orders", persist.Any(), persist.NewEvent("placed", nil))
	fmt.Println(db.Backend().(*file.DB).Stats().Events)
	// Output: 1
}

func ExampleDB_Close() {
	ctx := context.Background()
	db := persist.OpenMem()
	fmt.Println(db.Close())
	_, err := db.Head(ctx, "orders")
	fmt.Println(errors.Is(err, persist.ErrClosed))
	// Output:
	// <nil>
	// true
}

type account struct {
	Balance int `json:"balance"`
}

var balanceView = persist.Projection[account]{
	Name: "balance", Stream: "acct", Version: 1,
	Step: func(a account, ev persist.Event) (account, error) {
		d, err := persist.Decode[struct {
			Amount int `json:"amount"`
		}](ev)
		a.Balance += d.Amount
		return a, err
	},
}

func ExampleLoad() {
	ctx := context.Background()
	db := persist.OpenMem()
	defer db.Close()
	_, _ = db.Append(ctx, "acct", persist.Any(),
		persist.NewEvent("deposit", []byte(`{"amount": 10}`)), // JSON
		persist.NewEvent("deposit", []byte(`{:amount 5}`)))    // or SX: the same data
	st, err := persist.Load(ctx, db, balanceView)
	fmt.Println(st.Value.Balance, st.Seq, err)

	// A step's error stops the fold, naming the stream and seq.
	_, _ = db.Append(ctx, "acct", persist.Any(), persist.NewEvent("deposit", []byte(`{:amount "ten"}`)))
	_, err = persist.Load(ctx, db, balanceView)
	var se *persist.StepError
	fmt.Println(errors.As(err, &se), se.Stream, se.Seq)
	// Output:
	// 15 2 <nil>
	// true acct 3
}

func ExampleCheckpoint() {
	ctx := context.Background()
	db := persist.OpenMem()
	defer db.Close()
	_, _ = db.Append(ctx, "acct", persist.Any(), persist.NewEvent("deposit", []byte(`{:amount 10}`)))
	st, _ := persist.Load(ctx, db, balanceView)
	_ = persist.Checkpoint(ctx, db, balanceView, st) // a snapshot at seq 1

	_, _ = db.Append(ctx, "acct", persist.Any(), persist.NewEvent("deposit", []byte(`{:amount 5}`)))
	folded := 0
	counting := balanceView
	counting.Step = func(a account, ev persist.Event) (account, error) { folded++; return balanceView.Step(a, ev) }
	st, _ = persist.Load(ctx, db, counting)
	fmt.Println(st.Value.Balance, "folded", folded)
	// Output: 15 folded 1
}

func ExampleResume() {
	ctx := context.Background()
	db := persist.OpenMem()
	defer db.Close()
	_, _ = db.Append(ctx, "acct", persist.Any(), persist.NewEvent("deposit", []byte(`{:amount 10}`)))
	st, _ := persist.Load(ctx, db, balanceView)
	_, _ = db.Append(ctx, "acct", persist.Any(), persist.NewEvent("deposit", []byte(`{:amount 7}`)))
	st, err := persist.Resume(ctx, db, balanceView, st) // only the new event
	fmt.Println(st.Value.Balance, st.Seq, err)
	// Output: 17 2 <nil>
}

func ExampleDecode() {
	type order struct {
		Order int     `json:"order"`
		Total float64 `json:"total"`
	}
	for _, data := range []string{`{"order": 17, "total": 42.5}`, `{:order 17 :total 42.5}`} {
		o, err := persist.Decode[order](persist.Event{Data: []byte(data)})
		fmt.Printf("%+v %v\n", o, err)
	}
	// Output:
	// {Order:17 Total:42.5} <nil>
	// {Order:17 Total:42.5} <nil>
}

func ExampleDecodeData() {
	v, err := persist.DecodeData[map[string][]int]([]byte(`{:sizes [1 2 3]}`))
	fmt.Println(v, err)
	// Output: map[sizes:[1 2 3]] <nil>
}

func ExampleJSONEvent() {
	ev, _ := persist.JSONEvent("placed", map[string]int{"order": 17})
	fmt.Println(ev.Type, string(ev.Data))
	// Output: placed {"order":17}
}

func ExampleNewEvent() {
	ev := persist.NewEvent("placed", []byte(`{:order 17}`))
	fmt.Println(ev.Type, string(ev.Data), ev.ID.String() == "00000000-0000-0000-0000-000000000000")
	// Output: placed {:order 17} true
}

func ExampleWithFileOptions() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "persist-example-")
	defer os.RemoveAll(dir)
	db, err := persist.Open(ctx, dir, persist.WithFileOptions(file.Options{SegmentSize: 1 << 20}))
	fmt.Println(err)
	_ = db.Close()
	_, err = persist.Open(ctx, dir, persist.WithFileOptions(file.Options{SegmentSize: 1}))
	fmt.Println(err)
	// Output:
	// <nil>
	// file: segment size 1 outside 65536..1073741824
}

// Expectations guard appends (on a stream's head) and kv changes (on a
// key's revision) alike.
func ExampleExact() {
	ctx := context.Background()
	db := persist.OpenMem()
	defer db.Close()
	_, _ = db.Append(ctx, "s", persist.NoStream(), persist.NewEvent("a", nil))
	_, err := db.Append(ctx, "s", persist.Exact(1), persist.NewEvent("b", nil))
	fmt.Println(err)
	_, err = db.Append(ctx, "s", persist.Exact(1), persist.NewEvent("c", nil))
	fmt.Println(err)
	_, err = db.Append(ctx, "s", persist.Exists(), persist.NewEvent("d", nil))
	fmt.Println(err)
	// Output:
	// <nil>
	// persist: conflict on stream "s": expected head 1, actual head 2
	// <nil>
}
