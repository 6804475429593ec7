package remote

import (
	"testing"
	"time"

	"rose-ash.com/persist/ops"
)

// The encoders of the common operations side by side: the generic path
// (sx.FromGoForm, then printing) and the fast one, appending to a reused
// buffer as the pipe does. Compare them in one run, as ratios:
//
//	go test -run '^$' -bench Encode -benchmem ./remote

var benchAppendOp = ops.Append{Stream: "w17", Expect: ops.Exact(41), Events: []ops.EventData{{Type: "t",
	Data: []byte(`{"order":17,"customer":"c-0042","lines":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}],"note":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`)}}}

func benchEncode(b *testing.B, asJSON bool) {
	b.Run("generic", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, err := opValue(benchAppendOp)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := encodeValue(v, asJSON, sizeHint(benchAppendOp)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fast", func(b *testing.B) {
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			var ok bool
			if buf, ok = appendFastOp(buf[:0], benchAppendOp, asJSON); !ok {
				b.Fatal("not fast")
			}
		}
	})
}

func BenchmarkEncodeAppendSX(b *testing.B)   { benchEncode(b, false) }
func BenchmarkEncodeAppendJSON(b *testing.B) { benchEncode(b, true) }

// The decoders of an append's pipe answer and of a follow's event side by
// side: the generic path (decodeValue, then sx.ToGo) and the fast one.
//
//	go test -run '^$' -bench Decode -benchmem ./remote

func benchDecode(b *testing.B, text []byte, generic func() error, fast func() bool) {
	b.Helper()
	b.Run("generic", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			if err := generic(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			if !fast() {
				b.Fatal("not fast")
			}
		}
	})
}

func benchDecodeAnswer(b *testing.B, asJSON bool) {
	text := printed(b, ops.AppendResult{Stream: "w17", FirstSeq: 42, Head: 42, FirstPos: 90017, LastPos: 90017}, asJSON, true)
	benchDecode(b, text,
		func() error { _, err := genericAnswer(text, asJSON, ops.Append{}, true); return err },
		func() bool { _, ok := fastAnswer(text, asJSON, ops.Append{}, true); return ok })
}

func benchDecodeEvent(b *testing.B, asJSON bool) {
	ev := ops.Event{ID: [16]byte{0x01, 0x93, 0x7a, 0x10, 0x22, 0x33, 0x70, 0x44, 0x85, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb},
		Stream: "s", Seq: 42, Pos: 90017, Type: "t", At: time.Unix(1_764_000_000, 123_456_789).UTC(), Data: benchAppendOp.Events[0].Data}
	text := printed(b, ev, asJSON, false)
	benchDecode(b, text,
		func() error { _, err := genericEvent(text, asJSON); return err },
		func() bool { _, ok := fastEvent(text, asJSON); return ok })
}

func BenchmarkDecodeAppendAnswerSX(b *testing.B)   { benchDecodeAnswer(b, false) }
func BenchmarkDecodeAppendAnswerJSON(b *testing.B) { benchDecodeAnswer(b, true) }
func BenchmarkDecodeEventSX(b *testing.B)          { benchDecodeEvent(b, false) }
func BenchmarkDecodeEventJSON(b *testing.B)        { benchDecodeEvent(b, true) }
