package mem_test

import (
	"context"
	"fmt"
	"testing"

	"rose-ash.com/persist/backends/mem"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

func filled(b *testing.B) *mem.Store {
	s := mem.New()
	for i := range 1000 {
		if _, err := s.Commit(ops.Commit{Kv: []ops.KvChange{{Key: fmt.Sprintf("k%04d", i), Value: make([]byte, 64)}}}); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkKvGet compares a kv-get performed through the effect runtime, in
// place and stepped, with calling the store's method directly.
func BenchmarkKvGet(b *testing.B) {
	s := filled(b)
	b.Run("direct", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := s.KvGet(ops.KvGet{Key: "k0042"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("in-place", func(b *testing.B) {
		p := effect.Handle(context.Background(), s)
		for b.Loop() {
			if _, err := effect.Perform(p, ops.KvGet{Key: "k0042"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stepped", func(b *testing.B) {
		n := b.N
		s2 := effect.Start(context.Background(), func(p *effect.P) (int, error) {
			for range n {
				if _, err := effect.Perform(p, ops.KvGet{Key: "k0042"}); err != nil {
					return 0, err
				}
			}
			return n, nil
		})
		hp := effect.Handle(context.Background(), s)
		b.ResetTimer()
		for !s2.Done() {
			s2 = s2.Resume(hp.Send(s2.Effect()))
		}
		if _, err := s2.Result(); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkAppend measures single-event appends, in place.
func BenchmarkAppend(b *testing.B) {
	data := make([]byte, 200)
	b.Run("direct", func(b *testing.B) {
		s := mem.New()
		for b.Loop() {
			if _, err := s.Commit(ops.Commit{Appends: []ops.Append{{Stream: "s", Events: []ops.EventData{{Type: "t", Data: data}}}}}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("in-place", func(b *testing.B) {
		s := mem.New()
		p := effect.Handle(context.Background(), s)
		for b.Loop() {
			if _, err := effect.Perform(p, ops.Append{Stream: "s", Events: []ops.EventData{{Type: "t", Data: data}}}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
