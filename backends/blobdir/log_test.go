package blobdir_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/blobdir"
	"rose-ash.com/persist/backends/blobtest"
	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// A program that stores an image and records it in an event and a kv
// value puts the bytes through the blob store, a separate handler stacked
// beside the storage backend, and appends only the reference: no piece of
// the blob is anywhere in the store's files, the reference is, and the
// event's reference fetches the bytes back.
func TestNoBlobByteInTheLog(t *testing.T) {
	ctx := context.Background()
	logDir, blobDir := t.TempDir(), t.TempDir()
	store, err := file.OpenDir(ctx, logDir, file.Options{})
	require.NoError(t, err)
	blobs, err := blobdir.OpenDir(ctx, blobDir, blobdir.Options{})
	require.NoError(t, err)
	image := blobtest.Data(ops.BlobChunkBytes+4096, 42)

	p := effect.Handle(ctx, blobs, store)
	ref, err := effect.Perform(p, ops.BlobPut{Body: bytes.NewReader(image), MediaType: "image/png"})
	require.NoError(t, err)
	data, err := json.Marshal(map[string]any{"avatar": ref})
	require.NoError(t, err)
	_, err = effect.Perform(p, ops.Append{Stream: "user-1", Events: []ops.EventData{{Type: "avatar-set", Data: data}}})
	require.NoError(t, err)
	_, err = effect.Perform(p, ops.KvPut{Key: "avatar/user-1", Value: data})
	require.NoError(t, err)
	require.NoError(t, store.Close())

	var files [][]byte
	require.NoError(t, filepath.WalkDir(logDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		files = append(files, b)
		return err
	}))
	require.NotEmpty(t, files)
	all := bytes.Join(files, nil)
	assert.True(t, bytes.Contains(all, []byte(ref.CID.String())), "the reference is in the log")
	for off := 0; off+16 <= len(image); off += 16 {
		if bytes.Contains(all, image[off:off+16]) {
			t.Fatalf("the 16 bytes of the blob at %d are in the store's files", off)
		}
	}

	store, err = file.OpenDir(ctx, logDir, file.Options{})
	require.NoError(t, err)
	defer store.Close()
	p = effect.Handle(ctx, blobs, store)
	page, err := effect.Perform(p, ops.Read{Stream: "user-1"})
	require.NoError(t, err)
	require.Len(t, page.Events, 1)
	var ev struct{ Avatar ops.BlobRef }
	require.NoError(t, json.Unmarshal(page.Events[0].Data, &ev))
	assert.Equal(t, ref, ev.Avatar)
	var out bytes.Buffer
	_, err = effect.Perform(p, ops.BlobGet{CID: ev.Avatar.CID, To: &out})
	require.NoError(t, err)
	assert.True(t, bytes.Equal(image, out.Bytes()))
}
