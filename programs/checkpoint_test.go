package programs_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/interp"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/programs"
)

func sumProjection() programs.Projection[int] {
	return programs.Projection[int]{Name: "sum", Stream: "n", Version: 1, Step: func(s int, ev ops.Event) (int, error) {
		n, err := strconv.Atoi(string(ev.Data))
		return s + n, err
	}}
}

func appendNumbers(t *testing.T, s effect.Handler, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		_, err := interp.Run(context.Background(), func(p *effect.P) (ops.AppendResult, error) {
			return effect.Perform(p, ops.Append{Stream: "n", Events: []ops.EventData{{Type: "n", Data: []byte(strconv.Itoa(i))}}})
		}, s)
		require.NoError(t, err)
	}
}

func generations(t *testing.T, s effect.Handler) []uint64 {
	t.Helper()
	r, err := interp.Run(context.Background(), func(p *effect.P) (ops.SnapshotGenerationsResult, error) {
		return effect.Perform(p, ops.SnapshotGenerations{Name: "sum"})
	}, s)
	require.NoError(t, err)
	var seqs []uint64
	for _, g := range r.Generations {
		seqs = append(seqs, g.Seq)
	}
	return seqs
}

// The store's clock ticks a second per reading; every append reads it once
// and the policy once per 64 events folded.
func TestProjectCheckpointedInterval(t *testing.T) {
	s := newStore(t)
	appendNumbers(t, s, 1, 300)
	proj := sumProjection()
	st, err := interp.Run(context.Background(), func(p *effect.P) (programs.State[int], error) {
		return programs.ProjectCheckpointed(p, proj, programs.CheckpointPolicy{Interval: time.Second, Keep: 10})
	}, s)
	require.NoError(t, err)
	assert.Equal(t, programs.State[int]{Value: 300 * 301 / 2, Seq: 300}, st)
	assert.Equal(t, []uint64{300, 256, 192, 128, 64}, generations(t, s), "a checkpoint at each clock reading past the interval, and the end")
}

func TestProjectCheckpointedResumes(t *testing.T) {
	s := newStore(t)
	appendNumbers(t, s, 1, 7)
	proj := sumProjection()
	folded := 0
	counting := proj
	counting.Step = func(v int, ev ops.Event) (int, error) { folded++; return proj.Step(v, ev) }
	run := func() programs.State[int] {
		st, err := interp.Run(context.Background(), func(p *effect.P) (programs.State[int], error) {
			return programs.ProjectCheckpointed(p, counting, programs.CheckpointPolicy{Every: 3})
		}, s)
		require.NoError(t, err)
		return st
	}
	assert.Equal(t, programs.State[int]{Value: 28, Seq: 7}, run())
	assert.Equal(t, 7, folded)
	assert.Equal(t, []uint64{7}, generations(t, s), "Keep 0 keeps one generation")
	appendNumbers(t, s, 8, 9)
	folded = 0
	assert.Equal(t, programs.State[int]{Value: 45, Seq: 9}, run())
	assert.Equal(t, 2, folded, "only the tail after the last checkpoint is folded")
	folded = 0
	run()
	assert.Equal(t, 0, folded, "nothing new: nothing folded")
	assert.Equal(t, []uint64{9}, generations(t, s), "and no checkpoint written")
}

func TestProjectCheckpointedInvalid(t *testing.T) {
	s := newStore(t)
	for field, pol := range map[string]programs.CheckpointPolicy{
		"every":    {Every: -1},
		"interval": {Interval: -time.Second},
		"keep":     {Keep: ops.MaxSnapshotGenerations + 1},
	} {
		_, err := interp.Run(context.Background(), func(p *effect.P) (programs.State[int], error) {
			return programs.ProjectCheckpointed(p, sumProjection(), pol)
		}, s)
		var ie *ops.InvalidError
		require.ErrorAs(t, err, &ie, field)
		assert.Equal(t, field, ie.Field)
	}
}
