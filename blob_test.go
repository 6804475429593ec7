package persist_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// A blob goes into the blob store, its reference into an event, and the
// reference read back fetches the bytes; a program on the DB performs the
// blob operations through the store's handler given as middleware.
func TestBlobs(t *testing.T) {
	ctx := context.Background()
	blobs, err := persist.OpenBlobDir(ctx, t.TempDir(), 0)
	require.NoError(t, err)
	defer blobs.Close()
	db := persist.OpenMem(persist.WithMiddleware(blobs.Handler()))
	defer db.Close()

	image := bytes.Repeat([]byte("png!"), 100000)
	ref, err := blobs.Put(ctx, bytes.NewReader(image), "image/png")
	require.NoError(t, err)
	assert.Equal(t, ops.BlobCID(image), ref.CID)
	data, err := json.Marshal(map[string]any{"image": ref})
	require.NoError(t, err)
	_, err = db.Append(ctx, "posts", persist.NoStream(), persist.NewEvent("posted", data))
	require.NoError(t, err)

	for ev, err := range db.Read(ctx, "posts", 1) {
		require.NoError(t, err)
		var post struct{ Image persist.BlobRef }
		require.NoError(t, json.Unmarshal(ev.Data, &post))
		var out bytes.Buffer
		got, err := blobs.Get(ctx, post.Image.CID, &out)
		require.NoError(t, err)
		assert.Equal(t, int64(len(image)), got.Size)
		assert.True(t, bytes.Equal(image, out.Bytes()))
	}
	st, err := blobs.Stat(ctx, ref.CID)
	require.NoError(t, err)
	assert.Equal(t, ref.Size, st.Size)
	has, err := blobs.Has(ctx, ref.CID)
	require.NoError(t, err)
	assert.True(t, has)

	err = db.Run(ctx, func(p *effect.P) error {
		ref, err := effect.Perform(p, ops.BlobPut{Body: strings.NewReader("from a program")})
		if err != nil {
			return err
		}
		_, err = effect.Perform(p, ops.KvPut{Key: "note", Value: []byte(`"` + ref.CID.String() + `"`)})
		return err
	})
	require.NoError(t, err)
	c, err := persist.ParseCID(ops.BlobCID([]byte("from a program")).String())
	require.NoError(t, err)
	has, err = blobs.Has(ctx, c)
	require.NoError(t, err)
	assert.True(t, has)

	_, err = persist.ParseCID("not-a-cid")
	assert.ErrorIs(t, err, ops.ErrBadCID)
	_, err = blobs.Put(nil, strings.NewReader("x"), "") //nolint:staticcheck // a nil context is refused, as everywhere
	var inv *persist.InvalidError
	assert.ErrorAs(t, err, &inv)
}
