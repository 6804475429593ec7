package mock_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"rose-ash.com/persist/backends/mock"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/platform"
)

// write creates path holding data, syncing the file (and its directory)
// when sync is set.
func write(p *effect.P, path, data string, sync bool) {
	fd, err := effect.Perform(p, platform.Open{Path: path, Flag: os.O_CREATE | os.O_RDWR, Perm: 0o644})
	if err != nil {
		panic(err)
	}
	_, _ = effect.Perform(p, platform.WriteAt{FD: fd, Data: []byte(data)})
	if sync {
		_, _ = effect.Perform(p, platform.Fsync{FD: fd})
		_, _ = effect.Perform(p, platform.SyncDir{Path: "/"})
	}
	_, _ = effect.Perform(p, platform.Close{FD: fd})
}

func exists(p *effect.P, path string) bool {
	_, err := effect.Perform(p, platform.Stat{Path: path})
	return err == nil
}

// The mock disk keeps what is synced apart from what is not; a crash keeps
// only the synced state (under the Drop fault).
func ExampleFS_Crash() {
	fs := mock.New(1, mock.Options{})
	p := effect.Handle(context.Background(), fs)
	write(p, "/synced", "kept", true)
	write(p, "/unsynced", "lost", false)
	fmt.Println("before:", exists(p, "/synced"), exists(p, "/unsynced"))

	after, _ := fs.Crash(mock.Fault{Kind: mock.Drop}, 2)
	q := effect.Handle(context.Background(), after)
	fmt.Println("after:", exists(q, "/synced"), exists(q, "/unsynced"))
	// Output:
	// before: true true
	// after: true false
}

// An injector fails the k-th effect that matches: here the first fsync,
// with EIO.
func ExampleFail() {
	fs := mock.New(1, mock.Options{})
	inj := mock.Fail(0, mock.Syncs(), mock.Action{Kind: mock.ActEIO})
	fs.Inject(inj)
	p := effect.Handle(context.Background(), fs)
	fd, _ := effect.Perform(p, platform.Open{Path: "/f", Flag: os.O_CREATE | os.O_RDWR, Perm: 0o644})
	_, err := effect.Perform(p, platform.Fsync{FD: fd})
	var ie *mock.InjectedError
	fmt.Println(errors.As(err, &ie))
	fmt.Println(inj)
	// Output:
	// true
	// (fail :k 0 :when (op "io/fsync" "io/fdatasync") :do eio)
}
