package persist_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"rose-ash.com/persist"
)

type Order struct {
	ID    int     `json:"id"`
	Total float64 `json:"total"`
}

type Revenue struct {
	Orders int     `json:"orders"`
	Total  float64 `json:"total"`
}

// The program a newcomer wrote (open, append with retry, read, a projection
// with a snapshot, a follower, kv compare-and-set), with the persist
// package alone.
func Example_newcomer() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "persist-newcomer-")
	defer os.RemoveAll(dir)
	db, err := persist.Open(ctx, dir)
	if err != nil {
		panic(err)
	}
	defer db.Close()

	for id := 1; id <= 3; id++ {
		_, err := db.AppendRetry(ctx, "orders", 5, func(head uint64) ([]persist.EventData, error) {
			ev, err := persist.JSONEvent("placed", Order{ID: id, Total: 10 * float64(id)})
			return []persist.EventData{ev}, err
		})
		if err != nil {
			panic(err)
		}
	}
	for ev, err := range db.Read(ctx, "orders", 1) {
		if err != nil {
			panic(err)
		}
		o, _ := persist.Decode[Order](ev)
		fmt.Println(ev.Seq, ev.Type, o.ID, o.Total)
	}

	revenue := persist.Projection[Revenue]{Name: "revenue", Stream: "orders", Version: 1,
		Step: func(r Revenue, ev persist.Event) (Revenue, error) {
			o, err := persist.Decode[Order](ev)
			return Revenue{r.Orders + 1, r.Total + o.Total}, err
		}}
	st, err := persist.Load(ctx, db, revenue)
	if err == nil {
		err = persist.Checkpoint(ctx, db, revenue, st)
	}
	fmt.Println("revenue", st.Value.Total, "at seq", st.Seq, err)

	err = db.Follow(ctx, persist.FollowOptions{Name: "mailer", Stream: "orders", Idle: 10 * time.Millisecond,
		Handle: func(ctx context.Context, ev persist.Event) error {
			_, err := db.KvUpdate(ctx, "mails-sent", 5, func(old []byte, found bool) ([]byte, error) {
				n, _ := strconv.Atoi(string(old))
				return []byte(strconv.Itoa(n + 1)), nil
			})
			return err
		}})
	sent, _, _ := db.KvGet(ctx, "mails-sent")
	fmt.Println("mails sent", string(sent.Value), err)
	// Output:
	// 1 placed 1 10
	// 2 placed 2 20
	// 3 placed 3 30
	// revenue 60 at seq 3 <nil>
	// mails sent 3 <nil>
}
