package file

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// remap serves a virtual root by rewriting the paths of platform effects
// onto a real directory: a store that touched the filesystem other than
// through effects would find nothing at its virtual paths.
type remap struct {
	virtual, real string
	seen          map[string]int
}

func (r *remap) fix(path string) string {
	if rest, ok := strings.CutPrefix(path, r.virtual); ok {
		return r.real + rest
	}
	return path
}

func (r *remap) Handle(p *effect.P, e effect.Effect) (any, error) {
	r.seen[e.EffectName()]++
	switch op := e.(type) {
	case platform.Open:
		op.Path = r.fix(op.Path)
		return p.Send(op)
	case platform.Rename:
		op.From, op.To = r.fix(op.From), r.fix(op.To)
		return p.Send(op)
	case platform.Remove:
		op.Path = r.fix(op.Path)
		return p.Send(op)
	case platform.List:
		op.Dir = r.fix(op.Dir)
		return p.Send(op)
	case platform.Mkdir:
		op.Path = r.fix(op.Path)
		return p.Send(op)
	case platform.SyncDir:
		op.Path = r.fix(op.Path)
		return p.Send(op)
	case platform.Stat:
		op.Path = r.fix(op.Path)
		return p.Send(op)
	case platform.Lock:
		op.Path = r.fix(op.Path)
		return p.Send(op)
	}
	return nil, effect.ErrUnhandled
}

func TestAllIOIsEffects(t *testing.T) {
	real := t.TempDir()
	rm := &remap{virtual: "/nonexistent-root", real: real, seen: map[string]int{}}
	h := &platform.OS{}
	p := effect.Handle(context.Background(), rm, h)
	dir := "/nonexistent-root/data"
	s, err := Open(p, dir, Options{SegmentSize: minSegmentSize})
	require.NoError(t, err)
	sp := effect.Handle(context.Background(), s, rm, h)
	for i := range 200 {
		_, err := effect.Perform(sp, ops.Append{Stream: "s", Events: evs(strings.Repeat("x", 500+i))})
		require.NoError(t, err)
	}
	_, err = effect.Perform(sp, ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "n", Value: []byte("v")}})
	require.NoError(t, err)
	rr, err := effect.Perform(sp, ops.Read{Stream: "s", From: 150})
	require.NoError(t, err)
	assert.Len(t, rr.Events, 51)
	sn, err := effect.Perform(sp, ops.SnapshotRead{Name: "n"})
	require.NoError(t, err)
	assert.True(t, sn.Found)
	require.NoError(t, s.Close(p))

	s, err = Open(p, dir, Options{SegmentSize: minSegmentSize})
	require.NoError(t, err)
	assert.Equal(t, uint64(200), s.Stats().Events)
	require.NoError(t, s.Close(p))
	_, err = Verify(p, dir)
	require.NoError(t, err)
	assert.Zero(t, h.OpenFiles())

	for _, name := range []string{
		platform.NameOpen, platform.NameWriteAt, platform.NameReadAt, platform.NameFdatasync, platform.NameFsync,
		platform.NameTruncate, platform.NameRename, platform.NameList, platform.NameMkdir, platform.NameSyncDir,
		platform.NameStat, platform.NameClose, platform.NameLock, platform.NameFallocate, platform.NameClock, platform.NameRandom,
	} {
		assert.Positive(t, rm.seen[name], name)
	}
}
