package effect_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
)

type double struct {
	effect.Returns[int]
	N int
}

func (double) EffectName() string { return "test/double" }

type twice struct {
	effect.Returns[int]
	N int
}

func (twice) EffectName() string { return "test/twice" }

var doubler = effect.HandlerFunc(func(p *effect.P, e effect.Effect) (any, error) {
	if d, ok := e.(double); ok {
		return d.N * 2, nil
	}
	return nil, effect.ErrUnhandled
})

// twicer answers twice by performing double outward.
var twicer = effect.HandlerFunc(func(p *effect.P, e effect.Effect) (any, error) {
	if t, ok := e.(twice); ok {
		return effect.Perform(p, double{N: t.N})
	}
	return nil, effect.ErrUnhandled
})

func prog(p *effect.P) (int, error) {
	a, err := effect.Perform(p, double{N: 3})
	if err != nil {
		return 0, err
	}
	b, err := effect.Perform(p, twice{N: a})
	return a + b, err
}

func TestInPlace(t *testing.T) {
	p := effect.Handle(context.Background(), twicer, doubler)
	got, err := effect.Call(p, prog)
	require.NoError(t, err)
	assert.Equal(t, 18, got)
}

func TestUnhandledNamesEffect(t *testing.T) {
	p := effect.Handle(context.Background(), twicer)
	_, err := effect.Call(p, prog)
	require.ErrorIs(t, err, effect.ErrUnhandled)
	assert.Contains(t, err.Error(), "test/double")
}

func TestStepped(t *testing.T) {
	s := effect.Start(context.Background(), prog, twicer)
	var seen []string
	for !s.Done() {
		seen = append(seen, s.Effect().EffectName())
		v, err := doubler.Handle(nil, s.Effect())
		s = s.Resume(v, err)
	}
	got, err := s.Result()
	require.NoError(t, err)
	assert.Equal(t, 18, got)
	assert.Equal(t, []string{"test/double", "test/double"}, seen)
}

func TestResumeTwicePanics(t *testing.T) {
	s := effect.Start(context.Background(), prog)
	s.Resume(1, nil)
	assert.PanicsWithValue(t, "effect: Resume of a suspension that was already resumed or aborted", func() { s.Resume(1, nil) })
}

func TestAbortRunsDefers(t *testing.T) {
	deferred := false
	var performErr error
	s := effect.Start(context.Background(), func(p *effect.P) (int, error) {
		defer func() { deferred = true }()
		_, performErr = effect.Perform(p, double{N: 1})
		return 0, performErr
	})
	err := s.Abort()
	assert.True(t, deferred)
	assert.ErrorIs(t, performErr, effect.ErrAborted)
	assert.ErrorIs(t, err, effect.ErrAborted)
	assert.True(t, s.Aborted())
}

func TestPanicBecomesError(t *testing.T) {
	boom := effect.HandlerFunc(func(*effect.P, effect.Effect) (any, error) { panic("boom") })
	_, err := effect.Call(effect.Handle(context.Background(), boom), prog)
	var pe *effect.PanicError
	require.True(t, errors.As(err, &pe))
	assert.Equal(t, "boom", pe.Value)
	assert.NotEmpty(t, pe.Stack)

	s := effect.Start(context.Background(), func(p *effect.P) (int, error) { panic("in program") })
	require.True(t, s.Done())
	_, err = s.Result()
	require.True(t, errors.As(err, &pe))
}

func TestCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := effect.Start(ctx, prog)
	cancel()
	s = s.Resume(6, nil)
	require.True(t, s.Done())
	_, err := s.Result()
	assert.ErrorIs(t, err, context.Canceled)
}

func TestZeroSuspensionPanicsClearly(t *testing.T) {
	var s effect.Suspension[int]
	assert.PanicsWithValue(t, "effect: Done of a zero Suspension", func() { s.Done() })
	assert.PanicsWithValue(t, "effect: Effect of a zero Suspension", func() { s.Effect() })
	assert.PanicsWithValue(t, "effect: Result of a zero Suspension", func() { _, _ = s.Result() })
	assert.PanicsWithValue(t, "effect: Resume of a zero Suspension", func() { s.Resume(nil, nil) })
}
