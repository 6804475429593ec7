package file

import (
	"bytes"
	"sync"
	"testing"
)

// Warms race puts, serves and, midway, the release of the ring and its
// table: no warm, put or serve touches their memory after it is given
// back, and every serve gives the bytes put under its key.
func TestRecCacheWarmRacesPutAndRelease(t *testing.T) {
	var c recCache
	c.setupSize(8<<10, 0)
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Go(func() {
			ls := make([]loc, 16)
			for i := range 4000 {
				l := loc{seg: uint32(g), off: uint32(i % 700)}
				for k := range ls {
					ls[k] = loc{seg: uint32(g), off: uint32((i + k*7) % 700)}
				}
				c.warm(ls)
				if b, ok := c.peek(l); ok {
					if !bytes.Equal(b, recOf(l, len(b))) {
						t.Errorf("%v served wrong bytes", l)
						return
					}
				} else {
					c.put(l, recOf(l, 10+i%200))
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 300 {
			if i == 150 {
				c.release()
			}
			checkCache(t, &c)
		}
	})
	wg.Wait()
	checkCache(t, &c)
	c.release()
}
