package server

import "time"

// workerIdle is how long a worker waits for more work before it ends.
const workerIdle = 5 * time.Second

// workers run the operations of batches on goroutines that outlive one
// operation. A goroutine started per operation begins with a small stack
// and grows it, copying, on its way down into the store, for every
// operation of every batch; a worker has grown it once. A worker ends
// after workerIdle without work, so an idle server keeps none.
type workers struct {
	work chan func() // unbuffered: a send succeeds only to a waiting worker
}

func newWorkers() *workers { return &workers{work: make(chan func())} }

// run runs f on a waiting worker, or on a new one when none waits, so
// that every f runs at once, as a goroutine of its own would.
func (w *workers) run(f func()) {
	select {
	case w.work <- f:
	default:
		go w.loop(f)
	}
}

func (w *workers) loop(f func()) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		f()
		idle.Reset(workerIdle)
		select {
		case f = <-w.work:
		case <-idle.C:
			return
		}
	}
}
