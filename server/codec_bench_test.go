package server

import (
	"testing"

	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/sx"
)

// The decoders and encoders of the common operations side by side: the
// generic path (the SX tree and reflection) and the fast one. Compare
// them in one run, as ratios:
//
//	go test -run '^$' -bench 'Decode|Encode' -benchmem ./server

var benchAppend = ops.Append{Stream: "w17", Expect: ops.Exact(41), Events: []ops.EventData{{Type: "t",
	Data: []byte(`{"order":17,"customer":"c-0042","lines":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}],"note":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`)}}}

func benchDecode(b *testing.B, n Notation) {
	text, err := EncodeOp(benchAppend, n)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		dec  func([]byte, Notation) (any, error)
	}{
		{"generic", func(t []byte, n Notation) (any, error) { return decodeGeneric(t, n) }},
		{"fast", func(t []byte, n Notation) (any, error) { return DecodeOp(t, n) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.dec(text, n); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecodeAppendSX(b *testing.B)   { benchDecode(b, SX) }
func BenchmarkDecodeAppendJSON(b *testing.B) { benchDecode(b, JSON) }

func benchEncodeAnswer(b *testing.B, n Notation) {
	res := ops.AppendResult{Stream: "w17", FirstSeq: 42, Head: 42, FirstPos: 1_048_576, LastPos: 1_048_576}
	b.Run("generic", func(b *testing.B) {
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			v, err := sx.FromGo(res)
			if err != nil {
				b.Fatal(err)
			}
			buf, err = appendPipeFrame(buf[:0], int64(7), sx.NewDict(sx.Keyword("ok"), v), n)
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fast", func(b *testing.B) {
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			var ok bool
			if buf, ok = appendFastFrame(buf[:0], 7, res, n); !ok {
				b.Fatal("not fast")
			}
		}
	})
}

func BenchmarkEncodeAppendAnswerSX(b *testing.B)   { benchEncodeAnswer(b, SX) }
func BenchmarkEncodeAppendAnswerJSON(b *testing.B) { benchEncodeAnswer(b, JSON) }
