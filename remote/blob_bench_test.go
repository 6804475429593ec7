package remote_test

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/blobtest"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/remote"
	"rose-ash.com/persist/server"
)

// BenchmarkServedBlobs measures, in one run, blob put and get through a
// server (the client streaming over h2c on loopback into a blob directory)
// against a plain durable copy of the same bytes into a file (write,
// fsync, rename, directory fsync) and a plain read of it, for 1 KiB,
// 1 MiB and 100 MiB. Run it with -benchtime 3x -count 3 and compare the
// lines of each size, which alternate.
func BenchmarkServedBlobs(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"1KiB", 1 << 10}, {"1MiB", 1 << 20}, {"100MiB", 100 << 20}} {
		data := blobtest.Data(size.n, 1)
		c := ops.BlobCID(data)
		s, _ := blobServer(b, 0, server.Options{}, remote.Options{HTTP2: true})
		dir := b.TempDir()
		plain := filepath.Join(dir, "plain")
		run := func(name string, fn func(b *testing.B)) {
			b.Run(name+"/"+size.name, func(b *testing.B) {
				b.SetBytes(int64(size.n))
				for b.Loop() {
					fn(b)
				}
			})
		}
		ctx := context.Background()
		run("put-served", func(b *testing.B) {
			if _, err := s.Handle(effect.Handle(ctx), ops.BlobPut{Body: bytes.NewReader(data)}); err != nil {
				b.Fatal(err)
			}
		})
		run("put-file-copy", func(b *testing.B) { blobtest.PlainCopy(b, plain, data) })
		run("get-served", func(b *testing.B) {
			if _, err := s.Handle(effect.Handle(ctx), ops.BlobGet{CID: c, To: io.Discard}); err != nil {
				b.Fatal(err)
			}
		})
		run("get-file-read", func(b *testing.B) { blobtest.PlainRead(b, plain) })
		require.NoError(b, s.Close())
	}
}
