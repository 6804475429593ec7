package programs_test

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/programs"
)

// writer is the naive command: read the head, append expecting it.
func writer(name string) func(p *effect.P) (ops.AppendResult, error) {
	return func(p *effect.P) (ops.AppendResult, error) {
		head, err := programs.Head(p, "acct")
		if err != nil {
			return ops.AppendResult{}, err
		}
		return programs.Append(p, "acct", ops.Exact(head), programs.Event("by-"+name, nil))
	}
}

// TestTwoWriterRace interleaves two stepped writers so that both read head 0
// before either appends: the first to append wins, the second gets a
// conflict value naming what it expected and what it found.
func TestTwoWriterRace(t *testing.T) {
	store := newStore(t)
	hp := handle(t, store)
	a := effect.Start(t.Context(), writer("a"))
	b := effect.Start(t.Context(), writer("b"))
	require.Equal(t, ops.NameHead, a.Effect().EffectName())
	require.Equal(t, ops.NameHead, b.Effect().EffectName())
	a = answer(hp, a) // a reads head 0
	b = answer(hp, b) // b reads head 0
	require.Equal(t, ops.Append{Stream: "acct", Expect: ops.NoStream(), Events: []ops.EventData{{Type: "by-a"}}}, a.Effect())
	require.Equal(t, ops.NameAppend, b.Effect().EffectName())
	a = answer(hp, a)
	b = answer(hp, b)
	require.True(t, a.Done() && b.Done())

	resA, errA := a.Result()
	require.NoError(t, errA)
	assert.Equal(t, uint64(1), resA.Head)
	_, errB := b.Result()
	var c *ops.Conflict
	require.ErrorAs(t, errB, &c)
	assert.Equal(t, &ops.Conflict{Stream: "acct", Expected: ops.NoStream(), Actual: 1}, c)

	evs, err := programs.ReadStream(hp, "acct")
	require.NoError(t, err)
	require.Len(t, evs, 1)
	assert.Equal(t, "by-a", evs[0].Type)
}

// retrier is the same command through AppendRetry; it notes the heads its
// decide was called with.
func retrier(name string, heads *[]uint64) func(p *effect.P) (ops.AppendResult, error) {
	return func(p *effect.P) (ops.AppendResult, error) {
		return programs.AppendRetry(p, "acct", 3, func(_ *effect.P, head uint64) ([]ops.EventData, error) {
			*heads = append(*heads, head)
			return []ops.EventData{programs.Event("by-"+name, []byte(strconv.FormatUint(head, 10)))}, nil
		})
	}
}

// TestTwoWriterRaceRetried is the same interleaving with AppendRetry: the
// loser decides again on the new head and both land.
func TestTwoWriterRaceRetried(t *testing.T) {
	store := newStore(t)
	hp := handle(t, store)
	var headsA, headsB []uint64
	a := effect.Start(t.Context(), retrier("a", &headsA))
	b := effect.Start(t.Context(), retrier("b", &headsB))
	a = answer(hp, a) // head 0
	b = answer(hp, b) // head 0
	require.Equal(t, ops.NameAppend, a.Effect().EffectName())
	require.Equal(t, ops.NameAppend, b.Effect().EffectName())
	a = answer(hp, a) // a lands at 1
	b = answer(hp, b) // b conflicts, decides again at head 1, appends again
	require.True(t, a.Done())
	require.Equal(t, ops.Append{Stream: "acct", Expect: ops.Exact(1), Events: []ops.EventData{{Type: "by-b", Data: []byte("1")}}}, b.Effect())
	b = answer(hp, b)
	require.True(t, b.Done())

	resA, err := a.Result()
	require.NoError(t, err)
	resB, err := b.Result()
	require.NoError(t, err)
	assert.Equal(t, uint64(1), resA.Head)
	assert.Equal(t, uint64(2), resB.Head)
	assert.Equal(t, []uint64{0}, headsA)
	assert.Equal(t, []uint64{0, 1}, headsB)

	evs, err := programs.ReadStream(hp, "acct")
	require.NoError(t, err)
	require.Len(t, evs, 2)
	assert.Equal(t, []string{"by-a", "by-b"}, []string{evs[0].Type, evs[1].Type})
}

// TestTwoWriterRaceGoroutines runs the race on real goroutines: a barrier
// in decide makes both writers decide on head 0 before either appends.
func TestTwoWriterRaceGoroutines(t *testing.T) {
	store := newStore(t)
	var barrier sync.WaitGroup
	barrier.Add(2)
	heads := make([][]uint64, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			_, errs[i] = programs.AppendRetry(handle(t, store), "acct", 5, func(_ *effect.P, head uint64) ([]ops.EventData, error) {
				if len(heads[i]) == 0 {
					barrier.Done()
					barrier.Wait()
				}
				heads[i] = append(heads[i], head)
				return []ops.EventData{programs.Event(fmt.Sprintf("w%d", i), nil)}, nil
			})
		})
	}
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	assert.ElementsMatch(t, [][]uint64{{0}, {0, 1}}, heads, "one writer won at once, the other retried on head 1")
	evs, err := programs.ReadStream(handle(t, store), "acct")
	require.NoError(t, err)
	require.Len(t, evs, 2)
	assert.ElementsMatch(t, []string{"w0", "w1"}, []string{evs[0].Type, evs[1].Type})
}

// TestAppendRetryMany checks that concurrent retrying writers never lose or
// misplace an event: each event records the head it was decided on, which
// must be its seq - 1.
func TestAppendRetryMany(t *testing.T) {
	const writers, each = 6, 15
	store := newStore(t)
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for range writers {
		wg.Go(func() {
			p := handle(t, store)
			for range each {
				_, err := programs.AppendRetry(p, "ctr", 1000, func(_ *effect.P, head uint64) ([]ops.EventData, error) {
					return []ops.EventData{programs.Event("inc", []byte(strconv.FormatUint(head, 10)))}, nil
				})
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	evs, err := programs.ReadStream(handle(t, store), "ctr")
	require.NoError(t, err)
	require.Len(t, evs, writers*each)
	for _, ev := range evs {
		assert.Equal(t, strconv.FormatUint(ev.Seq-1, 10), string(ev.Data))
	}
}

func TestAppendRetryExhausted(t *testing.T) {
	_, err := both(t, nil, func(p *effect.P) (ops.AppendResult, error) {
		// decide itself lets a competing writer in every time.
		return programs.AppendRetry(p, "s", 3, func(p *effect.P, head uint64) ([]ops.EventData, error) {
			if _, err := programs.Append(p, "s", ops.Any(), programs.Event("rival", nil)); err != nil {
				return nil, err
			}
			return []ops.EventData{programs.Event("mine", nil)}, nil
		})
	})
	require.ErrorIs(t, err, programs.ErrRetriesExhausted)
	var c *ops.Conflict
	require.ErrorAs(t, err, &c)
	assert.Equal(t, ops.Exact(2), c.Expected, "the last attempt expected the head after two rivals")
	assert.Equal(t, uint64(3), c.Actual)
	assert.Contains(t, err.Error(), "after 3 attempts")

	store := newStore(t)
	p := handle(t, store)
	decides := 0
	_, err = programs.AppendRetry(p, "s", 0, func(p *effect.P, head uint64) ([]ops.EventData, error) {
		decides++
		_, err := programs.Append(p, "s", ops.Any(), programs.Event("rival", nil))
		return []ops.EventData{programs.Event("mine", nil)}, err
	})
	require.ErrorIs(t, err, programs.ErrRetriesExhausted)
	assert.Equal(t, 1, decides, "attempts 0 counts as one")
	evs, err := programs.ReadStream(p, "s")
	require.NoError(t, err)
	require.Len(t, evs, 1)
	assert.Equal(t, "rival", evs[0].Type)
}

func TestAppendRetryNothingToAppend(t *testing.T) {
	res, err := both(t, func(p *effect.P) { mustAppend(t, p, "s", "a") }, func(p *effect.P) (ops.AppendResult, error) {
		return programs.AppendRetry(p, "s", 3, func(_ *effect.P, head uint64) ([]ops.EventData, error) {
			if head != 1 {
				return nil, fmt.Errorf("head %d", head)
			}
			return nil, nil
		})
	})
	require.NoError(t, err)
	assert.Equal(t, ops.AppendResult{}, res)
}

func TestAppendRetryErrors(t *testing.T) {
	store := newStore(t)
	p := handle(t, store)
	refused := errors.New("insufficient funds")
	_, err := programs.AppendRetry(p, "s", 3, func(*effect.P, uint64) ([]ops.EventData, error) { return nil, refused })
	assert.Equal(t, refused, err, "decide's error comes back as it is")

	decides := 0
	_, err = programs.AppendRetry(p, "s", 3, func(*effect.P, uint64) ([]ops.EventData, error) {
		decides++
		return []ops.EventData{programs.Event("", nil)}, nil
	})
	var inv *ops.InvalidError
	require.ErrorAs(t, err, &inv)
	assert.Equal(t, 1, decides, "an invalid append is not retried")

	_, err = programs.AppendRetry(p, "", 3, func(*effect.P, uint64) ([]ops.EventData, error) {
		t.Fatal("decide called for an invalid stream")
		return nil, nil
	})
	require.ErrorAs(t, err, &inv)

	h, err := programs.Head(p, "s")
	require.NoError(t, err)
	assert.Zero(t, h)
}
