package file

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/platform"
)

func TestLockHolderNamesThePid(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := effect.Handle(ctx, &platform.OS{})
	pid, err := LockHolder(p, dir)
	require.NoError(t, err)
	assert.Zero(t, pid, "no store, no holder")

	db, err := OpenDir(ctx, dir, Options{})
	require.NoError(t, err)
	pid, err = LockHolder(p, dir)
	require.NoError(t, err)
	assert.Equal(t, os.Getpid(), pid)

	_, err = OpenDir(ctx, dir, Options{})
	require.ErrorIs(t, err, platform.ErrLocked, "the pid is advice; the lock still refuses")
	require.NoError(t, db.Close())
	pid, err = LockHolder(p, dir)
	require.NoError(t, err)
	assert.Zero(t, pid, "Close empties LOCK")

	// A store opened without HolderPID records nothing.
	s, err := Open(p, dir, Options{HolderPID: -1})
	require.NoError(t, err)
	pid, err = LockHolder(p, dir)
	require.NoError(t, err)
	assert.Zero(t, pid)
	require.NoError(t, s.Close(p))
}
