package programs_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/interp"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/programs"
)

func put(t *testing.T, s effect.Handler, key, value string) {
	t.Helper()
	require.NoError(t, putErr(s, key, value))
}

func putErr(s effect.Handler, key, value string) error {
	_, err := interp.Run(context.Background(), func(p *effect.P) (ops.KvResult, error) {
		return effect.Perform(p, ops.KvPut{Key: key, Value: []byte(value)})
	}, s)
	return err
}

// A watch catches up, waits, is woken by a put from another goroutine,
// and resumes where it stopped without loss.
func TestWatchResumes(t *testing.T) {
	s := newStore(t)
	put(t, s, "w/a", "1")
	put(t, s, "x", "1")
	var got []string
	handle := func(_ *effect.P, v ops.KvVersion) error {
		got = append(got, v.Key+"="+string(v.Value))
		if string(v.Value) == "stop" {
			return errors.New("stop")
		}
		return nil
	}
	go func() {
		time.Sleep(30 * time.Millisecond)
		for _, kv := range [][2]string{{"w/b", "2"}, {"w/c", "stop"}, {"w/d", "4"}} {
			assert.NoError(t, putErr(s, kv[0], kv[1]))
		}
	}()
	next, err := interp.Run(context.Background(), func(p *effect.P) (uint64, error) {
		return programs.Watch(p, programs.WatchOptions{Prefix: "w/", Handle: handle})
	}, s)
	require.Error(t, err)
	assert.Equal(t, uint64(4), next, "the revision of the change that failed")
	assert.Equal(t, []string{"w/a=1", "w/b=2", "w/c=stop"}, got)
	got = nil
	next, err = interp.Run(context.Background(), func(p *effect.P) (uint64, error) {
		return programs.Watch(p, programs.WatchOptions{Prefix: "w/", From: 5, Idle: 20 * time.Millisecond, Handle: handle})
	}, s)
	require.NoError(t, err)
	assert.Equal(t, []string{"w/d=4"}, got)
	assert.Equal(t, uint64(6), next)
}

func TestWatchCompacted(t *testing.T) {
	s := newStore(t)
	for range ops.DefaultKvHistory + 2 {
		put(t, s, "k", "v")
	}
	_, err := interp.Run(context.Background(), func(p *effect.P) (uint64, error) {
		return programs.Watch(p, programs.WatchOptions{From: 1, Handle: func(*effect.P, ops.KvVersion) error { return nil }})
	}, s)
	assert.ErrorIs(t, err, ops.ErrCompacted)
}
