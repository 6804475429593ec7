package effect_test

import (
	"context"
	"testing"

	"rose-ash.com/persist/effect"
)

// The benchmarks below compare three ways of getting the same answer: a
// direct call of the handler function, an in-place Perform through one
// handler, and a stepped program whose host answers each effect and resumes.
// Each reports ns per effect. Answers stay below 256 so that boxing them in an
// interface does not allocate and the figures show the runtime's own cost.

//go:noinline
func doubleDirect(n int) (int, error) { return n * 2, nil }

// sink keeps results alive so the compiler cannot drop the work.
var sink int

func BenchmarkDirectCall(b *testing.B) {
	b.ReportAllocs()
	s := 0
	for i := 0; b.Loop(); i++ {
		v, err := doubleDirect(i & 0x7f)
		if err != nil {
			b.Fatal(err)
		}
		s += v
	}
	sink = s
}

// BenchmarkHandlerMethod calls the handler through the Handler interface, as
// Send does, without the runtime around it.
func BenchmarkHandlerMethod(b *testing.B) {
	b.ReportAllocs()
	var h effect.Handler = doubler
	s := 0
	for i := 0; b.Loop(); i++ {
		v, err := h.Handle(nil, double{N: i & 0x7f})
		if err != nil {
			b.Fatal(err)
		}
		s += v.(int)
	}
	sink = s
}

func BenchmarkPerformInPlace(b *testing.B) {
	for _, bc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{"background", func() (context.Context, context.CancelFunc) { return context.Background(), func() {} }},
		{"cancelable", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx, cancel := bc.ctx()
			defer cancel()
			p := effect.Handle(ctx, doubler)
			b.ReportAllocs()
			s := 0
			for i := 0; b.Loop(); i++ {
				v, err := effect.Perform(p, double{N: i & 0x7f})
				if err != nil {
					b.Fatal(err)
				}
				s += v
			}
			sink = s
		})
	}
}

// BenchmarkPerformInPlaceDepth measures how an effect answered by the
// outermost of several handlers pays for the ones it passes.
func BenchmarkPerformInPlaceDepth4(b *testing.B) {
	pass := effect.HandlerFunc(func(*effect.P, effect.Effect) (any, error) { return nil, effect.ErrUnhandled })
	p := effect.Handle(context.Background(), pass, pass, pass, doubler)
	b.ReportAllocs()
	s := 0
	for i := 0; b.Loop(); i++ {
		v, err := effect.Perform(p, double{N: i & 0x7f})
		if err != nil {
			b.Fatal(err)
		}
		s += v
	}
	sink = s
}

// loopProg performs n effects and sums their answers.
func loopProg(n int) func(*effect.P) (int, error) {
	return func(p *effect.P) (int, error) {
		s := 0
		for i := range n {
			v, err := effect.Perform(p, double{N: i & 0x7f})
			if err != nil {
				return s, err
			}
			s += v
		}
		return s, nil
	}
}

// BenchmarkStepped runs one stepped program of b.N effects: each op is one
// suspension, one answer from the host and one Resume.
func BenchmarkStepped(b *testing.B) {
	b.ReportAllocs()
	s := effect.Start(context.Background(), loopProg(b.N))
	for !s.Done() {
		v, err := doubler.Handle(nil, s.Effect())
		s = s.Resume(v, err)
	}
	r, err := s.Result()
	if err != nil {
		b.Fatal(err)
	}
	sink = r
}

// BenchmarkInPlaceProgram is the in-place twin of BenchmarkStepped: one
// program of b.N effects run with Call.
func BenchmarkInPlaceProgram(b *testing.B) {
	b.ReportAllocs()
	r, err := effect.Call(effect.Handle(context.Background(), doubler), loopProg(b.N))
	if err != nil {
		b.Fatal(err)
	}
	sink = r
}

// BenchmarkStartFinish is the fixed cost of a stepped program: Start, one
// effect, Resume to the end.
func BenchmarkStartFinish(b *testing.B) {
	b.ReportAllocs()
	prog := loopProg(1)
	for b.Loop() {
		s := effect.Start(context.Background(), prog)
		s = s.Resume(2, nil)
		if !s.Done() {
			b.Fatal("program did not finish")
		}
	}
}

// BenchmarkStartAbort is Start to the first effect, then Abort.
func BenchmarkStartAbort(b *testing.B) {
	b.ReportAllocs()
	prog := loopProg(1)
	for b.Loop() {
		s := effect.Start(context.Background(), prog)
		_ = s.Abort()
	}
}

// BenchmarkCallInPlace is the fixed cost of an in-place run of a one-effect
// program: Handle and Call.
func BenchmarkCallInPlace(b *testing.B) {
	b.ReportAllocs()
	prog := loopProg(1)
	for b.Loop() {
		if _, err := effect.Call(effect.Handle(context.Background(), doubler), prog); err != nil {
			b.Fatal(err)
		}
	}
}
