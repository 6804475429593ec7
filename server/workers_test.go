package server

import (
	"sync"
	"testing"
	"time"
)

// TestWorkersRunAllAtOnce runs, twice, a round of functions that each wait
// for all the others to start: the round finishes only if every function
// runs at once, on a worker of the first round or a new one.
func TestWorkersRunAllAtOnce(t *testing.T) {
	w := newWorkers()
	const n = 50
	for round := range 2 {
		var started, done sync.WaitGroup
		started.Add(n)
		done.Add(n)
		all := make(chan struct{})
		go func() { started.Wait(); close(all) }()
		for range n {
			w.run(func() {
				defer done.Done()
				started.Done()
				<-all
			})
		}
		finished := make(chan struct{})
		go func() { done.Wait(); close(finished) }()
		select {
		case <-finished:
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: not every function ran at once", round)
		}
	}
}
