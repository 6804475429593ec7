package file

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/mock"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/platform"
)

// A checkpoint whose directory sync fails after its rename is in place
// on the disk, and is kept by the next checkpoint (the newest two are),
// but the state never took its kv runs: the next checkpoint starts from
// the runs before it. The runs that checkpoint names must not be
// removed then, or the kept checkpoint names a missing run: Open cannot
// fall back to it and Verify calls a sound store damaged.
func TestKvTierRemoveKeepsRunsOfCheckpointNotTaken(t *testing.T) {
	rounds := kvTierRounds()
	for k := 0; k < 8; k++ {
		fs := mock.New(1, mock.Options{})
		s := kvTierOpen(t, fs, kvTierOpts)
		p := effect.Handle(context.Background(), s, fs)
		kvTierCommit(t, s, fs, rounds[0])
		require.NoError(t, s.checkpoint(p))
		kvTierCommit(t, s, fs, rounds[1])
		inj := mock.Fail(k, mock.Named(platform.NameSyncDir), mock.Action{Kind: mock.ActEIO})
		fs.Inject(inj)
		lsn := s.st.lsn
		err := s.checkpoint(p)
		exists, _ := fs.ReadFile(filepath.Join(s.logDir, ckptName(lsn)))
		if err == nil || exists == nil || s.pendDrop.Load() != nil {
			_ = s.Close(p)
			if !inj.Fired() {
				t.Fatalf("no sync of the log directory after the checkpoint's rename failed (%d tried)", k)
			}
			continue // not the sync after the checkpoint's rename
		}
		// The checkpoint is in place, its runs are not the state's.
		kvTierCommit(t, s, fs, rounds[2])
		require.NoError(t, s.checkpoint(p))
		id := s.id
		require.NoError(t, s.Close(p))
		for _, f := range fs.Files() {
			if _, ok := parseCkptName(filepath.Base(f.Path)); !ok {
				continue
			}
			b, err := fs.ReadFile(f.Path)
			require.NoError(t, err)
			_, st, err := decodeCheckpoint(b, id)
			require.NoError(t, err)
			for _, r := range st.kvRefs {
				_, err := fs.ReadFile(filepath.Join(filepath.Dir(f.Path), kvRunName(r.gen)))
				require.NoError(t, err, "kept checkpoint %s names kv run %s", filepath.Base(f.Path), kvRunName(r.gen))
			}
		}
		_, err = Verify(effect.Handle(context.Background(), fs.Clone(2)), "/data")
		require.NoError(t, err)
		return
	}
	t.Fatal("no failed sync left the checkpoint in place")
}
