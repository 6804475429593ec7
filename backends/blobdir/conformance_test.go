package blobdir_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/blobdir"
	"rose-ash.com/persist/backends/blobtest"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

func factory(t *testing.T, maxBytes int64) blobtest.Store {
	dir := t.TempDir()
	db, err := blobdir.OpenDir(context.Background(), dir, blobdir.Options{MaxBytes: maxBytes})
	require.NoError(t, err)
	return blobtest.Store{BlobStore: db, Damage: func(c cid.Cid) bool {
		path := db.Store().Path(c)
		b, err := os.ReadFile(path)
		if err != nil || len(b) == 0 {
			return false
		}
		off := 10 % len(b)
		if len(b) > ops.BlobChunkBytes {
			off = ops.BlobChunkBytes + 10
		}
		b[off] ^= 0x40
		return os.WriteFile(path, b, 0o644) == nil
	}}
}

// TestConformance runs the blob suite on a directory of the real
// filesystem.
func TestConformance(t *testing.T) { blobtest.Run(t, factory) }

// The files are where the package doc says: blobs/XY/CID, XY the
// next-to-last two characters of the CID, holding exactly the bytes, and
// nothing is left under tmp.
func TestLayout(t *testing.T) {
	dir := t.TempDir()
	db, err := blobdir.OpenDir(context.Background(), dir, blobdir.Options{})
	require.NoError(t, err)
	b := blobtest.Data(1000, 1)
	ref := blobtest.Put(t, effect.Handle(context.Background(), db), b, "")
	name := ref.CID.String()
	path := filepath.Join(dir, "blobs", name[len(name)-3:len(name)-1], name)
	require.Equal(t, path, db.Store().Path(ref.CID))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, b, got)
	ents, err := os.ReadDir(filepath.Join(dir, "tmp"))
	require.NoError(t, err)
	require.Empty(t, ents)
}
