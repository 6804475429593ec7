package interp_test

import (
	"context"
	"io"
	"testing"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/interp"
	"rose-ash.com/persist/ops"
)

// headHandler answers persist/head with a small number (boxing it does not
// allocate), so the benchmarks show the cost of the machinery alone.
var headHandler = effect.HandlerFunc(func(p *effect.P, e effect.Effect) (any, error) {
	if h, ok := e.(ops.Head); ok {
		return uint64(len(h.Stream)), nil
	}
	return nil, effect.ErrUnhandled
})

// heads performs n persist/head effects.
func heads(n int) func(*effect.P) (uint64, error) {
	return func(p *effect.P) (uint64, error) {
		var s uint64
		for range n {
			h, err := effect.Perform(p, ops.Head{Stream: "orders"})
			if err != nil {
				return s, err
			}
			s += h
		}
		return s, nil
	}
}

var sink uint64

// The per-effect benchmarks run one program of b.N effects, so ns/op is the
// cost of one effect.

func BenchmarkPerEffect(b *testing.B) {
	bare := func(ctx context.Context, prog func(*effect.P) (uint64, error), hs ...effect.Handler) (uint64, error) {
		return effect.Call(effect.Handle(ctx, hs...), prog)
	}
	startLoop := func(ctx context.Context, prog func(*effect.P) (uint64, error), hs ...effect.Handler) (uint64, error) {
		s := effect.Start(ctx, prog)
		p := effect.Handle(ctx, hs...)
		for !s.Done() {
			v, err := p.Send(s.Effect())
			s = s.Resume(v, err)
		}
		return s.Result()
	}
	for _, bc := range []struct {
		name string
		run  func(context.Context, func(*effect.P) (uint64, error), ...effect.Handler) (uint64, error)
		hs   []effect.Handler
	}{
		{"effect.Call", bare, []effect.Handler{headHandler}},
		{"Run", interp.Run[uint64], []effect.Handler{headHandler}},
		{"effect.Start+Resume", startLoop, []effect.Handler{headHandler}},
		{"RunStepped", interp.RunStepped[uint64], []effect.Handler{headHandler}},
		{"Run+Record", interp.Run[uint64], nil},
		{"Run+Trace", interp.Run[uint64], []effect.Handler{interp.Trace(io.Discard), headHandler}},
		{"Run+Inject", interp.Run[uint64], []effect.Handler{&interp.Inject{At: -1}, headHandler}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			hs := bc.hs
			if hs == nil {
				hs = []effect.Handler{interp.Record(new(interp.Journal)), headHandler}
			}
			b.ReportAllocs()
			b.ResetTimer()
			r, err := bc.run(context.Background(), heads(b.N), hs...)
			if err != nil {
				b.Fatal(err)
			}
			sink = r
		})
	}
}

func BenchmarkReplayPerEffect(b *testing.B) {
	var j interp.Journal
	if _, err := interp.Run(context.Background(), heads(b.N), interp.Record(&j), headHandler); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	r, err := interp.Run(context.Background(), heads(b.N), interp.Replay(&j))
	if err != nil {
		b.Fatal(err)
	}
	sink = r
}

// The per-run benchmarks are the fixed cost of running a one-effect program.
func BenchmarkPerRun(b *testing.B) {
	prog := heads(1)
	b.Run("Run", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := interp.Run(context.Background(), prog, headHandler); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("RunStepped", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := interp.RunStepped(context.Background(), prog, headHandler); err != nil {
				b.Fatal(err)
			}
		}
	})
}
