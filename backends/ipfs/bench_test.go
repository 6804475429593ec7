package ipfs_test

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	uio "github.com/ipfs/boxo/ipld/unixfs/io"

	"rose-ash.com/persist/backends/blobdir"
	"rose-ash.com/persist/backends/blobtest"
	"rose-ash.com/persist/backends/ipfs"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// BenchmarkBlobs measures, in one run, blob put and get throughput of both
// blob stores against their baselines, for 1 KiB, 1 MiB and 100 MiB:
//
//   - blobdir (a directory on the real filesystem) against a plain copy of
//     the same bytes into a file (write, fsync, rename, directory fsync:
//     what a durable copy costs) and a plain read of it;
//   - ipfs (over HTTP to the boxo node of these tests) against a direct add
//     with boxo's importer and a cat with boxo's DAG reader on that node.
//
// Run it with: go test ./backends/ipfs -run '^$' -bench Blobs -benchtime 3x
func BenchmarkBlobs(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"1KiB", 1 << 10}, {"1MiB", 1 << 20}, {"100MiB", 100 << 20}} {
		data := blobtest.Data(size.n, 1)
		c := ops.BlobCID(data)
		ctx := context.Background()
		dir := b.TempDir()
		bd, err := blobdir.OpenDir(ctx, filepath.Join(dir, "blobs"), blobdir.Options{})
		require.NoError(b, err)
		n := newNode(b)
		st, err := ipfs.New(ipfs.Options{API: n.srv.URL, Gateway: n.srv.URL})
		require.NoError(b, err)

		run := func(name string, fn func(b *testing.B)) {
			b.Run(name+"/"+size.name, func(b *testing.B) {
				b.SetBytes(int64(size.n))
				for b.Loop() {
					fn(b)
				}
			})
		}
		put := func(h effect.Handler) func(b *testing.B) {
			return func(b *testing.B) {
				if _, err := h.Handle(effect.Handle(ctx), ops.BlobPut{Body: bytes.NewReader(data)}); err != nil {
					b.Fatal(err)
				}
			}
		}
		get := func(h effect.Handler) func(b *testing.B) {
			return func(b *testing.B) {
				if _, err := h.Handle(effect.Handle(ctx), ops.BlobGet{CID: c, To: io.Discard}); err != nil {
					b.Fatal(err)
				}
			}
		}
		plain := filepath.Join(dir, "plain")
		run("put-blobdir", put(bd))
		run("put-file-copy", func(b *testing.B) { blobtest.PlainCopy(b, plain, data) })
		run("get-blobdir", get(bd))
		run("get-file-read", func(b *testing.B) { blobtest.PlainRead(b, plain) })
		run("put-ipfs", put(st))
		run("put-boxo-add", func(b *testing.B) {
			if _, err := n.importBlob(bytes.NewReader(data), ops.BlobChunkBytes); err != nil {
				b.Fatal(err)
			}
		})
		run("get-ipfs", get(st))
		run("get-boxo-cat", func(b *testing.B) {
			nd, err := n.dag.Get(ctx, c)
			require.NoError(b, err)
			r, err := uio.NewDagReader(ctx, nd, n.dag)
			require.NoError(b, err)
			_, err = io.Copy(io.Discard, r)
			require.NoError(b, err)
		})
	}
}
