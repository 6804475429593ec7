package main

import (
	"io"
	"testing"
	"time"

	"github.com/google/uuid"

	"rose-ash.com/persist/ops"
)

// BenchmarkWriteEvent measures printing one event record in each output
// format, for data stored as JSON and as SX.
func BenchmarkWriteEvent(b *testing.B) {
	for _, format := range []string{outSX, outJSON, outTable} {
		for _, data := range []struct{ name, text string }{
			{"json", `{"order": 17, "total": 42.5, "items": ["a", "b", "c"]}`},
			{"sx", `{:order 17 :total 42.5 :items ["a" "b" "c"]}`},
		} {
			b.Run(format+"/"+data.name, func(b *testing.B) {
				w := newWriter(io.Discard, &globals{output: format})
				ev := ops.Event{Stream: "orders", Seq: 17, Pos: 170, Type: "placed", At: time.Unix(1_700_000_000, 0), ID: uuid.New(), Data: []byte(data.text)}
				b.ReportAllocs()
				for b.Loop() {
					if err := w.write(eventRecord(ev)); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.flush(); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}
