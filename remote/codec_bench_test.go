package remote

import (
	"testing"

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
