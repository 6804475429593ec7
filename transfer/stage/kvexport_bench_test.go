package stage_test

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"testing"

	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/backends/mem"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/transfer"
	"rose-ash.com/persist/transfer/stage"
)

// benchKvStore writes 10,000 keys twice each (so each has one older
// version in its history) and 1,000 events.
func benchKvStore(b *testing.B, h effect.Handler) {
	p := effect.Handle(context.Background(), h)
	for i := 0; i < 10000; i += 100 {
		for round := range 2 {
			var c ops.Commit
			for j := range 100 {
				c.Kv = append(c.Kv, ops.KvChange{Key: fmt.Sprintf("key/%06d", i+j), Value: []byte{byte(round)}})
			}
			if _, err := effect.Perform(p, c); err != nil {
				b.Fatal(err)
			}
		}
	}
	for i := 0; i < 10; i++ {
		evs := make([]ops.EventData, 100)
		for j := range evs {
			evs[j] = ops.EventData{Type: "t", Data: []byte("x")}
		}
		if _, err := effect.Perform(p, ops.Append{Stream: fmt.Sprint("s", i), Events: evs}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExportKv exports a store of 10,000 keys with one older
// version each, on mem and on a file store: what reading the kv history
// adds to an export.
func BenchmarkExportKv(b *testing.B) {
	ctx := context.Background()
	m := mem.New()
	defer m.Close()
	benchKvStore(b, m)
	st, err := stage.File(ctx, filepath.Join(b.TempDir(), "f"), file.Options{})
	if err != nil {
		b.Fatal(err)
	}
	f, err := st.Publish(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	benchKvStore(b, f)
	for _, c := range []struct {
		name string
		h    effect.Handler
	}{{"mem", m}, {"file", f}} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				if _, err := transfer.Export(ctx, c.h, io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
