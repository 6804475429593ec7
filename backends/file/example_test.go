package file_test

import (
	"context"
	"fmt"
	"os"

	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/backends/mock"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// On the real operating system: open a data directory, append, close,
// reopen, and find what was acknowledged.
func ExampleOpenDir() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "file-example-")
	defer os.RemoveAll(dir)

	db, err := file.OpenDir(ctx, dir, file.Options{})
	if err != nil {
		panic(err)
	}
	p := effect.Handle(ctx, db)
	_, err = effect.Perform(p, ops.Append{Stream: "orders", Events: []ops.EventData{{Type: "placed", Data: []byte(`{:order 17}`)}}})
	fmt.Println(err)
	_ = db.Close()

	db, _ = file.OpenDir(ctx, dir, file.Options{})
	defer db.Close()
	page, _ := effect.Perform(effect.Handle(ctx, db), ops.Read{Stream: "orders"})
	fmt.Println(len(page.Events), string(page.Events[0].Data), db.Stats().Events)
	// Output:
	// <nil>
	// 1 {:order 17} 1
}

// The store performs all its IO as platform effects, so it runs on the
// mock disk too: an acknowledged append survives a crash that loses every
// unsynced write.
func ExampleOpen() {
	ctx := context.Background()
	disk := mock.New(1, mock.Options{})
	s, err := file.Open(effect.Handle(ctx, disk), "/data", file.Options{})
	if err != nil {
		panic(err)
	}
	// The store answers operations; the disk, further out, answers its IO.
	p := effect.Handle(ctx, s, disk)
	res, err := effect.Perform(p, ops.Append{Stream: "orders", Events: []ops.EventData{{Type: "placed"}}})
	fmt.Println(res.Head, err)

	after, _ := disk.Crash(mock.Fault{Kind: mock.Drop}, 2) // power cut
	s, err = file.Open(effect.Handle(ctx, after), "/data", file.Options{})
	if err != nil {
		panic(err)
	}
	head, _ := effect.Perform(effect.Handle(ctx, s, after), ops.Head{Stream: "orders"})
	fmt.Println("after the crash:", head)
	// Output:
	// 1 <nil>
	// after the crash: 1
}
