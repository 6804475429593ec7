package mem_test

import (
	"fmt"
	"testing"

	"rose-ash.com/persist/backends/mem"
	"rose-ash.com/persist/ops"
)

// logOf is a store of 10,000 one-event commits over streams s0..s9.
func logOf(b *testing.B) *mem.Store {
	s := mem.New()
	for i := range 10000 {
		if _, err := s.Commit(ops.Commit{Appends: []ops.Append{{Stream: fmt.Sprintf("s%d", i%10), Events: []ops.EventData{{Type: "t", Data: make([]byte, 100)}}}}}); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkReadAllRetention reads the whole global log a page of 1,000 at
// a time: with no stream metadata (the plain path), with metadata that
// hides nothing (the filtering path, every event checked), and with
// half the streams truncated to their last 100 events (pages skip).
func BenchmarkReadAllRetention(b *testing.B) {
	for _, c := range []struct {
		name string
		meta ops.StreamMeta
		n    int // streams given it
	}{
		{"plain", ops.StreamMeta{}, 0},
		{"limits-hide-nothing", ops.StreamMeta{MaxCount: 5000}, 5},
		{"half-hidden", ops.StreamMeta{MaxCount: 100}, 5},
	} {
		b.Run(c.name, func(b *testing.B) {
			s := logOf(b)
			for i := range c.n {
				if _, err := s.StreamMetaWrite(ops.StreamMetaWrite{Stream: fmt.Sprintf("s%d", i), Meta: c.meta}); err != nil {
					b.Fatal(err)
				}
			}
			var pg ops.Page
			for b.Loop() {
				for from := uint64(1); ; {
					r, err := s.ReadAll(ops.ReadAll{From: from, Page: &pg})
					if err != nil {
						b.Fatal(err)
					}
					if r.Next > r.Head {
						break
					}
					from = r.Next
				}
			}
		})
	}
}

// BenchmarkKvPutHistory puts one key over and over with the default
// history depth and with a depth of 1 (no history beyond the current
// value): the cost of keeping versions for kv-history and kv-watch.
func BenchmarkKvPutHistory(b *testing.B) {
	value := make([]byte, 64)
	for _, depth := range []int{1, ops.DefaultKvHistory} {
		b.Run(fmt.Sprintf("depth-%d", depth), func(b *testing.B) {
			s := mem.New(mem.WithKvHistory(depth))
			for i := 0; b.Loop(); i++ {
				if _, err := s.Commit(ops.Commit{Kv: []ops.KvChange{{Key: fmt.Sprintf("k%d", i%100), Value: value}}}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
