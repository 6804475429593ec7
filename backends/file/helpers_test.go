package file

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

type env struct {
	t   testing.TB
	dir string
	os  *platform.OS
	hs  []effect.Handler // handlers between the store and the OS
	s   *Store
}

func (e *env) p() *effect.P {
	return effect.Handle(context.Background(), append(append([]effect.Handler{}, e.hs...), e.os)...)
}

// sp is a handle whose effects reach the store first.
func (e *env) sp() *effect.P {
	return effect.Handle(context.Background(), append(append([]effect.Handler{e.s}, e.hs...), e.os)...)
}

func newEnv(t testing.TB, opts Options, hs ...effect.Handler) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir() + "/data", os: &platform.OS{}, hs: hs}
	e.open(opts)
	t.Cleanup(func() {
		if e.s != nil {
			_ = e.s.Close(e.p())
		}
	})
	return e
}

func (e *env) open(opts Options) {
	e.t.Helper()
	s, err := Open(e.p(), e.dir, opts)
	require.NoError(e.t, err)
	e.s = s
}

func (e *env) reopen(opts Options) {
	e.t.Helper()
	require.NoError(e.t, e.s.Close(e.p()))
	e.s = nil
	e.open(opts)
}

func (e *env) close() {
	e.t.Helper()
	require.NoError(e.t, e.s.Close(e.p()))
	e.s = nil
}

func perform[R any](e *env, op effect.Op[R]) (R, error) {
	return effect.Perform(e.sp(), op)
}

func must[R any](t testing.TB, e *env, op effect.Op[R]) R {
	t.Helper()
	r, err := perform(e, op)
	require.NoError(t, err)
	return r
}

func evs(datas ...string) []ops.EventData {
	out := make([]ops.EventData, len(datas))
	for i, d := range datas {
		out[i] = ops.EventData{Type: "t", Data: []byte(d)}
	}
	return out
}
