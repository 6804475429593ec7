package remote

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/google/uuid"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// genericEncode is the generic path the fast encoder must match.
func genericEncode(t testing.TB, e effect.Effect, asJSON bool) []byte {
	t.Helper()
	v, err := opValue(e)
	if err != nil {
		t.Fatal(err)
	}
	b, err := encodeValue(v, asJSON, 0)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkFastEncode holds the fast encoder to the generic one for e: the
// same bytes when it writes e, nothing appended when it gives up.
func checkFastEncode(t testing.TB, e effect.Effect, asJSON bool) (fast bool) {
	t.Helper()
	prefix := []byte("prefix")
	got, ok := appendFastOp(prefix, e, asJSON)
	if !ok {
		if string(got) != "prefix" {
			t.Fatalf("%#v: gave up after appending %q", e, got)
		}
		return false
	}
	want := genericEncode(t, e, asJSON)
	if !bytes.Equal(got[len(prefix):], want) {
		t.Fatalf("%#v (json %v):\nfast    %s\ngeneric %s", e, asJSON, got[len(prefix):], want)
	}
	return true
}

func randomText(r *rand.Rand) string {
	const alphabet = "ab/\"\\ <>&:{}()[]-_.é\n\t\x00\x7f"
	n := r.IntN(8)
	b := make([]byte, 0, n)
	for range n {
		if r.IntN(20) == 0 {
			b = append(b, alphabet[r.IntN(len(alphabet))])
		} else {
			const plain = "abcxyz0123 \"\\-/:"
			b = append(b, plain[r.IntN(len(plain))])
		}
	}
	return string(b)
}

func randomBytes(r *rand.Rand) []byte {
	if r.IntN(4) == 0 {
		return nil
	}
	return []byte(randomText(r))
}

func randomExpect(r *rand.Rand) ops.Expect {
	switch r.IntN(4) {
	case 0:
		return ops.Any()
	case 1:
		return ops.NoStream()
	case 2:
		return ops.Exists()
	}
	return ops.Exact(r.Uint64N(1 << 62))
}

func randomAppend(r *rand.Rand) ops.Append {
	a := ops.Append{Stream: randomText(r), Expect: randomExpect(r)}
	for range r.IntN(4) {
		ev := ops.EventData{Type: randomText(r), Data: randomBytes(r)}
		if r.IntN(2) == 0 {
			ev.ID = uuid.UUID(randomID(r))
		}
		a.Events = append(a.Events, ev)
	}
	return a
}

func randomID(r *rand.Rand) [16]byte {
	var id [16]byte
	for i := range id {
		id[i] = byte(r.Uint32())
	}
	return id
}

func randomOp(r *rand.Rand) effect.Effect {
	switch r.IntN(5) {
	case 0:
		return randomAppend(r)
	case 1:
		var c ops.Commit
		for range r.IntN(3) {
			c.Appends = append(c.Appends, randomAppend(r))
		}
		for range r.IntN(3) {
			c.Kv = append(c.Kv, ops.KvChange{Key: randomText(r), Value: randomBytes(r), Delete: r.IntN(2) == 0, Expect: randomExpect(r)})
		}
		return c
	case 2:
		return ops.KvPut{Key: randomText(r), Value: randomBytes(r), Expect: randomExpect(r)}
	case 3:
		return ops.KvGet{Key: randomText(r)}
	}
	return ops.Read{Stream: randomText(r), From: r.Uint64N(100), Limit: r.IntN(100)}
}

// TestFastEncodeRandom compares the fast encoder with the generic one on
// random operations of every kind it writes, and some it leaves alone,
// and requires that it writes most of them.
func TestFastEncodeRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 9))
	fast, total := 0, 0
	for range 20000 {
		e := randomOp(r)
		for _, asJSON := range []bool{false, true} {
			total++
			if checkFastEncode(t, e, asJSON) {
				fast++
			}
		}
		if _, ok := e.(ops.Read); ok {
			if _, ok := appendFastOp(nil, e, false); ok {
				t.Fatalf("%#v: the fast encoder wrote an operation it does not know", e)
			}
		}
	}
	if fast < total/3 {
		t.Fatalf("the fast encoder wrote %d of %d operations, want most of the plain ones", fast, total)
	}
}

// TestFastEncodeGivesUp names the cases the generic path must write.
func TestFastEncodeGivesUp(t *testing.T) {
	for name, e := range map[string]effect.Effect{
		"newline in a stream":  ops.Append{Stream: "a\nb"},
		"non-ASCII event data": ops.Append{Stream: "s", Events: []ops.EventData{{Type: "t", Data: []byte("é")}}},
		"binary kv value":      ops.KvPut{Key: "k", Value: []byte{0xff, 0}},
		"HTML escape in a key": ops.KvGet{Key: "<k>"},
		"control byte in kv":   ops.Commit{Kv: []ops.KvChange{{Key: "\x01"}}},
		"another operation":    ops.KvDelete{Key: "k"},
	} {
		t.Run(name, func(t *testing.T) {
			for _, asJSON := range []bool{false, true} {
				if checkFastEncode(t, e, asJSON) {
					t.Fatalf("%#v: the fast encoder wrote it", e)
				}
			}
		})
	}
}

// FuzzFastEncode builds operations from arbitrary strings and holds the
// fast encoder to the generic one's bytes.
func FuzzFastEncode(f *testing.F) {
	f.Add("orders", "placed", []byte(`{"n":1}`), "k", uint64(3), uint8(0), true)
	f.Add("a\"b\\c", "", []byte{}, "<&>", uint64(0), uint8(3), false)
	f.Add("é", "\n", []byte{0xff}, "", uint64(1<<63), uint8(2), true)
	f.Fuzz(func(t *testing.T, stream, typ string, data []byte, key string, n uint64, kind uint8, withID bool) {
		expect := ops.Expect{Kind: ops.ExpectKind(kind % 4), N: n}
		if expect.Kind != ops.ExpectExact {
			expect.N = 0
		} else if n == 0 {
			expect = ops.NoStream()
		}
		ev := ops.EventData{Type: typ, Data: data}
		if withID {
			ev.ID = uuid.NewSHA1(uuid.NameSpaceURL, []byte(stream))
		}
		a := ops.Append{Stream: stream, Expect: expect, Events: []ops.EventData{ev, {Type: key}}}
		for _, e := range []effect.Effect{
			a,
			ops.Commit{Appends: []ops.Append{a}, Kv: []ops.KvChange{{Key: key, Value: data, Delete: withID, Expect: expect}}},
			ops.KvPut{Key: key, Value: data, Expect: expect},
			ops.KvGet{Key: key},
		} {
			checkFastEncode(t, e, false)
			checkFastEncode(t, e, true)
		}
	})
}
