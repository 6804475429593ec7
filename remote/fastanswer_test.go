package remote

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/sx"
)

// answerOps are the operations whose answers the fast decoder reads, one
// of each kind.
var answerOps = []effect.Effect{ops.Append{}, ops.Commit{}, ops.KvPut{}, ops.KvGet{}}

// genericAnswer is the generic path the fast decoder must match: the
// answer of e (a pipe's {:ok VALUE} when wrapped) read by decodeValue and
// converted by e's answer decoder.
func genericAnswer(text []byte, asJSON bool, e effect.Effect, wrapped bool) (any, error) {
	v, err := decodeValue(text, mediaOf(asJSON))
	if err != nil {
		return nil, err
	}
	if wrapped {
		d, _ := v.(*sx.Dict)
		if d == nil || d.Len() != 1 {
			return nil, fmt.Errorf("not {:ok VALUE}: %s", sx.Print(v))
		}
		var found bool
		if v, found = d.Get(sx.Keyword("ok")); !found {
			return nil, fmt.Errorf("not {:ok VALUE}: %s", sx.Print(v))
		}
	}
	dec, _ := decoderOf(e)
	return dec(v)
}

// genericEvent is the generic path of a follow's event.
func genericEvent(text []byte, asJSON bool) (ops.Event, error) {
	var ev ops.Event
	v, err := decodeValue(text, mediaOf(asJSON))
	if err != nil {
		return ev, err
	}
	err = sx.ToGo(v, &ev)
	return ev, err
}

// checkFastAnswer holds the fast decoder to the generic one for text:
// when it reads text, the generic decoder reads the same value.
func checkFastAnswer(t testing.TB, text []byte, asJSON bool, e effect.Effect, wrapped bool) (fast bool) {
	t.Helper()
	got, ok := fastAnswer(text, asJSON, e, wrapped)
	if !ok {
		return false
	}
	want, err := genericAnswer(text, asJSON, e, wrapped)
	if err != nil {
		t.Fatalf("%s answer %q (json %v, wrapped %v): fast read %#v, generic refused it: %v", e.EffectName(), text, asJSON, wrapped, got, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s answer %q (json %v, wrapped %v):\nfast    %#v\ngeneric %#v", e.EffectName(), text, asJSON, wrapped, got, want)
	}
	return true
}

func checkFastEvent(t testing.TB, text []byte, asJSON bool) (fast bool) {
	t.Helper()
	got, ok := fastEvent(text, asJSON)
	if !ok {
		return false
	}
	want, err := genericEvent(text, asJSON)
	if err != nil {
		t.Fatalf("event %q (json %v): fast read %#v, generic refused it: %v", text, asJSON, got, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("event %q (json %v):\nfast    %#v\ngeneric %#v", text, asJSON, got, want)
	}
	return true
}

// printed is v as the server's generic path writes it; nil when it
// refuses v (JSON takes no string that is not UTF-8).
func printed(t testing.TB, v any, asJSON, wrapped bool) []byte {
	t.Helper()
	val, err := sx.FromGo(v)
	if err != nil {
		t.Fatal(err)
	}
	if wrapped {
		val = sx.NewDict(sx.Keyword("ok"), val)
	}
	b, err := encodeValue(val, asJSON, 0)
	if err != nil {
		return nil
	}
	return b
}

func randomUint(r *rand.Rand) uint64 {
	switch r.IntN(8) {
	case 0:
		return 0
	case 1:
		return math.MaxInt64 - r.Uint64N(3)
	case 2:
		return r.Uint64N(1e18)
	}
	return r.Uint64N(1000)
}

func randomAppendResult(r *rand.Rand) ops.AppendResult {
	return ops.AppendResult{Stream: randomText(r), FirstSeq: randomUint(r), Head: randomUint(r), FirstPos: randomUint(r), LastPos: randomUint(r)}
}

func randomKvResult(r *rand.Rand) ops.KvResult {
	return ops.KvResult{Key: randomText(r), Revision: randomUint(r), Existed: r.IntN(2) == 0}
}

// randomAnswer is an operation of answerOps and an answer of it.
func randomAnswer(r *rand.Rand) (effect.Effect, any) {
	switch r.IntN(4) {
	case 0:
		return ops.Append{}, randomAppendResult(r)
	case 1:
		var c ops.CommitResult
		for range r.IntN(3) {
			c.Appends = append(c.Appends, randomAppendResult(r))
		}
		for range r.IntN(3) {
			c.Kv = append(c.Kv, randomKvResult(r))
		}
		c.Revision = randomUint(r)
		return ops.Commit{}, c
	case 2:
		return ops.KvPut{}, randomKvResult(r)
	}
	if r.IntN(4) == 0 {
		return ops.KvGet{}, (*ops.KvEntry)(nil)
	}
	return ops.KvGet{}, &ops.KvEntry{Key: randomText(r), Value: randomBytes(r), Revision: randomUint(r)}
}

func randomEvent(r *rand.Rand) ops.Event {
	ev := ops.Event{Stream: randomText(r), Seq: randomUint(r), Pos: randomUint(r), Type: randomText(r), Data: randomBytes(r)}
	if r.IntN(4) != 0 {
		ev.ID = uuid.UUID(randomID(r))
	}
	if r.IntN(4) != 0 {
		ev.At = time.Unix(r.Int64N(1<<34), r.Int64N(1e9)).UTC()
	}
	return ev
}

// TestFastAnswerRandom reads the answers and events the generic path
// writes, of random values, with both decoders: the fast one reads every
// answer it does not give up on as the generic one does, and it reads
// most of them.
func TestFastAnswerRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	fast, total := 0, 0
	for range 4000 {
		asJSON, wrapped := r.IntN(2) == 0, r.IntN(2) == 0
		e, v := randomAnswer(r)
		if checkFastAnswer(t, printed(t, v, asJSON, wrapped), asJSON, e, wrapped) {
			fast++
		}
		ev := randomEvent(r)
		if checkFastEvent(t, printed(t, ev, asJSON, false), asJSON) {
			fast++
		}
		total += 2
	}
	// Most random texts are printable ASCII: the fast path must take most.
	if fast < total/3 {
		t.Fatalf("the fast decoder read %d of %d answers", fast, total)
	}
}

// TestFastAnswerReads holds the fast decoder to reading the answers the
// server writes for the common operations, and to giving up on the rest.
func TestFastAnswerReads(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		for _, tc := range []struct {
			op   effect.Effect
			v    any
			fast bool
		}{
			{ops.Append{}, ops.AppendResult{Stream: `o"r\ders`, FirstSeq: 1, Head: 2, FirstPos: 3, LastPos: 4}, true},
			{ops.Commit{}, ops.CommitResult{Appends: []ops.AppendResult{{Stream: "a", Head: 1}}, Kv: []ops.KvResult{{Key: "k", Revision: 2}}, Revision: 2}, true},
			{ops.Commit{}, ops.CommitResult{}, true},
			{ops.KvPut{}, ops.KvResult{Key: "k", Revision: 3, Existed: true}, true},
			{ops.KvGet{}, &ops.KvEntry{Key: "k", Value: []byte(`{"a":1}`), Revision: 9}, true},
			{ops.KvGet{}, (*ops.KvEntry)(nil), true},
			// Not printable ASCII: bytes print as (bytes ...), a string
			// with its escapes.
			{ops.KvGet{}, &ops.KvEntry{Key: "k", Value: []byte{0, 0xff}, Revision: 9}, false},
			{ops.Append{}, ops.AppendResult{Stream: "é"}, false},
			// Another kind of answer.
			{ops.Read{}, ops.ReadResult{Head: 1}, false},
		} {
			for _, wrapped := range []bool{false, true} {
				text := printed(t, tc.v, asJSON, wrapped)
				if got := checkFastAnswer(t, text, asJSON, tc.op, wrapped); got != tc.fast {
					t.Errorf("%s answer %s: fast %v, want %v", tc.op.EffectName(), text, got, tc.fast)
				}
			}
		}
		ev := ops.Event{ID: uuid.UUID(randomID(rand.New(rand.NewPCG(1, 2)))), Stream: "s", Seq: 3, Pos: 9, Type: "t", At: time.Unix(1e9, 5).UTC(), Data: []byte(`{"a":"b\"c"}`)}
		if !checkFastEvent(t, printed(t, ev, asJSON, false), asJSON) {
			t.Errorf("event %s: the fast decoder gave up", printed(t, ev, asJSON, false))
		}
		if checkFastEvent(t, printed(t, ops.Event{Data: []byte{0xff}}, asJSON, false), asJSON) {
			t.Errorf("an event with bytes outside ASCII: the fast decoder read it")
		}
	}
	for _, text := range []string{
		`{:error "conflict" :stream "s" :expected "no-stream" :actual 1}`,
		`{:ok {:head 1} :extra 2}`, `{:ok {:head -1}}`, `{:ok {:head 1 :head 2}}`,
		`{:ok {:head 1}} x`, `{:ok {:head 0001}}`, `{:ok {:head 1234567890123456789}}`,
		`{:ok {:stream "a" ; comment` + "\n" + `}}`,
	} {
		if _, ok := fastAnswer([]byte(text), false, ops.Append{}, true); ok {
			t.Errorf("%s: the fast decoder read it", text)
		}
	}
}

// FuzzFastAnswer holds the fast decoder to the generic one on arbitrary
// text: whatever it reads, the generic decoder reads alike.
func FuzzFastAnswer(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 5))
	for range 40 {
		asJSON, wrapped := r.IntN(2) == 0, r.IntN(2) == 0
		e, v := randomAnswer(r)
		k := 0
		for i, op := range answerOps {
			if reflect.TypeOf(op) == reflect.TypeOf(e) {
				k = i
			}
		}
		f.Add(printed(f, v, asJSON, wrapped), asJSON, uint8(k), wrapped)
		f.Add(printed(f, randomEvent(r), asJSON, false), asJSON, uint8(len(answerOps)), false)
	}
	f.Fuzz(func(t *testing.T, text []byte, asJSON bool, kind uint8, wrapped bool) {
		if int(kind) >= len(answerOps) {
			checkFastEvent(t, text, asJSON)
			return
		}
		checkFastAnswer(t, text, asJSON, answerOps[kind], wrapped)
	})
}
