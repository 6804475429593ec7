package persist_test

import (
	"context"
	"testing"

	"rose-ash.com/persist"
	"rose-ash.com/persist/backends/mem"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// Names are variables, not constants, as in a caller's code: an operation
// built of constants is boxed into a static value, for free, which would
// flatter the direct path.
var benchStream, benchKey = "orders", "k"

// The facade against performing the same operation directly on the same
// kind of store, in one run: what the DB adds is the nil-context check
// and the handle of the call.
func BenchmarkFacade(b *testing.B) {
	ctx := context.Background()
	data := []byte(`{"order": 17}`)
	b.Run("append/facade", func(b *testing.B) {
		db := persist.New(mem.New())
		defer db.Close()
		ev := persist.NewEvent("placed", data)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := db.Append(ctx, benchStream, persist.Any(), ev); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("append/direct", func(b *testing.B) {
		store := mem.New()
		defer store.Close()
		ev := ops.EventData{Type: "placed", Data: data}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := effect.Perform(effect.Handle(ctx, store), ops.Append{Stream: benchStream, Events: []ops.EventData{ev}}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("kv-get/facade", func(b *testing.B) {
		db := persist.New(mem.New())
		defer db.Close()
		if _, err := db.KvPut(ctx, benchKey, data, persist.Any()); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := db.KvGet(ctx, benchKey); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("kv-get/direct", func(b *testing.B) {
		store := mem.New()
		defer store.Close()
		if _, err := effect.Perform(effect.Handle(ctx, store), ops.KvPut{Key: benchKey, Value: data}); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := effect.Perform(effect.Handle(ctx, store), ops.KvGet{Key: benchKey}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
