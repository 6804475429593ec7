package remote

import (
	"errors"
	"testing"

	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/sx"
)

// FuzzDecodeAnswer feeds the answer decoders arbitrary bodies: they never
// panic, and an error dict always becomes an error.
func FuzzDecodeAnswer(f *testing.F) {
	for _, seed := range []string{
		`{:first-pos 1 :first-seq 1 :head 1 :last-pos 1 :stream "orders"}`,
		`{:error "conflict" :stream "s" :expected "no-stream" :actual 1 :message "m"}`,
		`{:error "conflict" :key "k" :expected "soon" :actual -1}`,
		`{:error "invalid" :op "persist/append" :field "events[0].type" :reason "empty"}`,
		`{:error "forbidden" :grant "write s" :message "m"}`,
		`{"error":"too-large","limit":"body","max":10}`,
		`nil`, `[{:ok 1} {:error "closed"}]`, `{:entries [{:key "k" :value (bytes "AA==") :revision 2}] :more true}`,
		`(`, `{"events":[{"data":["bytes","/w=="]}]}`,
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	decoders := []func(sx.Value) (any, error){
		answerAs[ops.AppendResult], answerAs[ops.ReadResult], answerAs[*ops.KvEntry], answerAs[ops.KvListResult],
		answerAs[uint64], answerAs[ops.CommitResult], answerAs[struct{}],
	}
	f.Fuzz(func(t *testing.T, body []byte, asJSON bool) {
		v, err := decodeValue(body, mediaOf(asJSON))
		if err != nil {
			return
		}
		for _, dec := range decoders {
			_, _ = dec(v)
		}
		err = decodeError(400, v)
		if err == nil || err.Error() == "" {
			t.Fatalf("decodeError(%s) = %v, want an error with a message", sx.Print(v), err)
		}
		var conflict *ops.Conflict
		if errors.As(err, &conflict) && conflict.Stream == "" && conflict.Key == "" && conflict.Expected.Kind > ops.ExpectExact {
			t.Fatalf("decodeError(%s) made an impossible conflict %+v", sx.Print(v), conflict)
		}
	})
}
