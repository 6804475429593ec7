//go:build !race

package file

import (
	"runtime"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The chain step cache keeps its heap within its bound: filled past it,
// so that it evicts as it does at its bound in a store of millions of
// streams, the heap its map, its order and its names hold is at most the
// bound, at bounds across the sizes a map grows through. (The race
// detector changes the heap's sizes: this measures without it.)
func TestStepCacheHeapWithinBound(t *testing.T) {
	for max := 64 << 10; max <= 4<<20; max += max / 3 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		c := &dirSteps{}
		for i := range 3 * max / 100 {
			c.put(dirKey{seg: 1, name: "stream-" + strconv.Itoa(1_000_000+i)}, dirEnt{}, max)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
		assert.LessOrEqual(t, heap, int64(max), "heap of a step cache of bound %d holding %d steps", max, len(c.m))
		runtime.KeepAlive(c)
	}
}
