package server

import (
	"testing"

	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/sx"
)

var benchAppend = ops.Append{Stream: "w17", Expect: ops.Exact(41), Events: []ops.EventData{{Type: "t",
	Data: []byte(`{"order":17,"customer":"c-0042","lines":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}],"note":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`)}}}

func benchDecode(b *testing.B, n Notation) {
	text, err := EncodeOp(benchAppend, n)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeOp(text, n); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeAppendSX(b *testing.B)   { benchDecode(b, SX) }
func BenchmarkDecodeAppendJSON(b *testing.B) { benchDecode(b, JSON) }

func benchEncodeAnswer(b *testing.B, n Notation) {
	res := ops.AppendResult{Stream: "w17", FirstSeq: 42, Head: 42, FirstPos: 1_048_576, LastPos: 1_048_576}
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
}

func BenchmarkEncodeAppendAnswerSX(b *testing.B)   { benchEncodeAnswer(b, SX) }
func BenchmarkEncodeAppendAnswerJSON(b *testing.B) { benchEncodeAnswer(b, JSON) }
