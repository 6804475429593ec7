package backendtest

import (
	"bytes"
	"errors"
	"strings"
	"sync"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// bad is an invalid operation and the field its *ops.InvalidError must name.
type bad struct {
	what  string
	op    effect.Effect
	field string
}

// badStreamOps returns, for a bad stream name, the operations that take
// one, each with the field it must be reported as; badKeyOps and
// badSnapshotOps do the same for keys and snapshot names.
func badStreamOps(name string) []bad {
	out := []bad{
		{"append", ops.Append{Stream: name, Events: []ops.EventData{ev("t", "x")}}, "stream"},
		{"read", ops.Read{Stream: name}, "stream"},
		{"head", ops.Head{Stream: name}, "stream"},
		{"commit", ops.Commit{Appends: []ops.Append{
			{Stream: "fine", Events: []ops.EventData{ev("t", "x")}},
			{Stream: name, Events: []ops.EventData{ev("t", "x")}},
		}}, "appends[1].stream"},
	}
	if name != "" { // a wait on no stream waits on the global log
		out = append(out, bad{"wait", ops.Wait{Stream: name, Timeout: shortWait}, "stream"})
	}
	return out
}

func badKeyOps(key string) []bad {
	return []bad{
		{"kv-put", ops.KvPut{Key: key, Value: []byte("v")}, "key"},
		{"kv-get", ops.KvGet{Key: key}, "key"},
		{"kv-delete", ops.KvDelete{Key: key}, "key"},
		{"commit", ops.Commit{Kv: []ops.KvChange{{Key: "fine", Value: []byte("v")}, {Key: key, Value: []byte("v")}}}, "kv[1].key"},
	}
}

func badSnapshotOps(name string) []bad {
	return []bad{
		{"snapshot-read", ops.SnapshotRead{Name: name}, "name"},
		{"snapshot-write", ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: name, Version: 1, Value: []byte("v")}}, "snapshot.name"},
	}
}

func badTypeOps(typ string) []bad {
	return []bad{
		{"append", ops.Append{Stream: "s", Events: []ops.EventData{ev("t", "x"), {Type: typ}}}, "events[1].type"},
		{"commit", ops.Commit{Appends: []ops.Append{{Stream: "s", Events: []ops.EventData{{Type: typ}}}}}, "appends[0].events[0].type"},
	}
}

func join(lists ...[]bad) []bad {
	var out []bad
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

var (
	tooLongName = strings.Repeat("n", ops.MaxNameBytes+1)
	tooLongKey  = strings.Repeat("k", ops.MaxKeyBytes+1)
	tooLongType = strings.Repeat("t", ops.MaxTypeBytes+1)
	badUTF8     = "caf\xe9"
	withNUL     = "a\x00b"
	// Data is printed in traces: plain letters print fastest. Made on
	// first use, so that a test binary linking this package does not hold
	// 1 MiB of heap from its start (the memory figures of the file
	// backend's scale benchmark are taken in one).
	bigData   = sync.OnceValue(func() []byte { return bytes.Repeat([]byte("x"), ops.MaxDataBytes+1) })
	badExpect = ops.Expect{Kind: ops.ExpectExact + 7, N: 1}
)

// invalidCase is a case that performs each of the bad operations and checks
// that each is an *ops.InvalidError naming its field and writes nothing.
func invalidCase(name, doc string, bads func() []bad) Case {
	return Case{Name: name, Doc: doc, Run: func(e *Env) {
		mustAppend(e, "base", ops.Any(), ev("t", "base"))
		mustPut(e, "base", "base")
		if _, err := perform(e, ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "base", Version: 1, Value: []byte("base")}}); err != nil {
			e.Fatalf("precondition: snapshot-write: %v", err)
		}
		before := observe(e, "base")
		for _, b := range bads() {
			_, err := Do(e, func(p *effect.P) (any, error) { return p.Send(b.op) })
			if e.Invalid(err, b.field, "%s", b.what) {
				var ie *ops.InvalidError
				errors.As(err, &ie)
				e.Equal(b.op.EffectName(), ie.Op, "%s: InvalidError.Op", b.what)
			}
		}
		unchanged(e, before, "after the invalid operations", "base")
	}}
}

func init() {
	register("limits",
		invalidCase("stream-empty", "an empty stream name is invalid", func() []bad { return badStreamOps("") }),
		invalidCase("stream-too-long", "a stream name over MaxNameBytes is invalid", func() []bad {
			return join(badStreamOps(tooLongName), []bad{
				{"streams prefix", ops.Streams{Prefix: tooLongName}, "prefix"},
				{"streams after", ops.Streams{After: tooLongName}, "after"},
			})
		}),
		invalidCase("stream-invalid-utf8", "a stream name that is not UTF-8 is invalid", func() []bad {
			return join(badStreamOps(badUTF8), []bad{{"streams prefix", ops.Streams{Prefix: badUTF8}, "prefix"}})
		}),
		invalidCase("stream-nul", "a stream name with a NUL byte is invalid", func() []bad { return badStreamOps(withNUL) }),
		invalidCase("key-empty", "an empty key is invalid", func() []bad { return badKeyOps("") }),
		invalidCase("key-too-long", "a key over MaxKeyBytes is invalid", func() []bad {
			return join(badKeyOps(tooLongKey), []bad{
				{"kv-list prefix", ops.KvList{Prefix: tooLongKey}, "prefix"},
				{"kv-list after", ops.KvList{After: tooLongKey}, "after"},
			})
		}),
		invalidCase("key-invalid-utf8", "a key that is not UTF-8 is invalid", func() []bad {
			return join(badKeyOps(badUTF8), []bad{{"kv-list prefix", ops.KvList{Prefix: badUTF8}, "prefix"}})
		}),
		invalidCase("key-nul", "a key with a NUL byte is invalid", func() []bad { return badKeyOps(withNUL) }),
		invalidCase("snapshot-name", "an empty, over-long, non-UTF-8 or NUL snapshot name is invalid", func() []bad {
			return join(badSnapshotOps(""), badSnapshotOps(tooLongName), badSnapshotOps(badUTF8), badSnapshotOps(withNUL))
		}),
		invalidCase("event-type", "an empty, over-long, non-UTF-8 or NUL event type is invalid", func() []bad {
			return join(badTypeOps(""), badTypeOps(tooLongType), badTypeOps(badUTF8), badTypeOps(withNUL))
		}),
		invalidCase("data-too-big", "event data over MaxDataBytes is invalid", func() []bad {
			return []bad{
				{"append", ops.Append{Stream: "s", Events: []ops.EventData{{Type: "t", Data: bigData()}}}, "events[0].data"},
				{"commit", ops.Commit{Appends: []ops.Append{{Stream: "s", Events: []ops.EventData{ev("t", ""), {Type: "t", Data: bigData()}}}}}, "appends[0].events[1].data"},
			}
		}),
		invalidCase("value-too-big", "a kv value over MaxDataBytes is invalid", func() []bad {
			return []bad{
				{"kv-put", ops.KvPut{Key: "k", Value: bigData()}, "value"},
				{"commit", ops.Commit{Kv: []ops.KvChange{{Key: "k", Value: bigData()}}}, "kv[0].value"},
			}
		}),
		invalidCase("expect-kind", "an unknown expectation kind is invalid, not a conflict", func() []bad {
			return []bad{
				{"append", ops.Append{Stream: "s", Expect: badExpect, Events: []ops.EventData{ev("t", "")}}, "expect"},
				{"kv-put", ops.KvPut{Key: "k", Expect: badExpect}, "expect"},
				{"kv-delete", ops.KvDelete{Key: "base", Expect: badExpect}, "expect"},
				{"commit append", ops.Commit{Appends: []ops.Append{{Stream: "s", Expect: badExpect, Events: []ops.EventData{ev("t", "")}}}}, "appends[0].expect"},
				{"commit kv", ops.Commit{Kv: []ops.KvChange{{Key: "k", Expect: badExpect}}}, "kv[0].expect"},
			}
		}),
		invalidCase("limit-negative", "a negative Limit is invalid", func() []bad {
			return []bad{
				{"read", ops.Read{Stream: "base", Limit: -1}, "limit"},
				{"read-all", ops.ReadAll{Limit: -1}, "limit"},
				{"streams", ops.Streams{Limit: -1}, "limit"},
				{"kv-list", ops.KvList{Limit: -1}, "limit"},
			}
		}),
		invalidCase("limit-over-max", "a Limit over MaxPage is invalid", func() []bad {
			return []bad{
				{"read", ops.Read{Stream: "base", Limit: ops.MaxPage + 1}, "limit"},
				{"read-all", ops.ReadAll{Limit: ops.MaxPage + 1}, "limit"},
				{"streams", ops.Streams{Limit: ops.MaxPage + 1}, "limit"},
				{"kv-list", ops.KvList{Limit: ops.MaxPage + 1}, "limit"},
			}
		}),
		invalidCase("no-events", "an append of no events is invalid", func() []bad {
			return []bad{
				{"append", ops.Append{Stream: "s"}, "events"},
				{"commit", ops.Commit{Appends: []ops.Append{{Stream: "s", Events: []ops.EventData{}}}}, "appends[0].events"},
			}
		}),
		invalidCase("commit-empty", "a commit of no parts is invalid", func() []bad {
			return []bad{{"commit", ops.Commit{}, "parts"}}
		}),
		invalidCase("commit-stream-twice", "a commit appending to the same stream twice is invalid", func() []bad {
			return []bad{{"commit", ops.Commit{Appends: []ops.Append{
				{Stream: "s", Events: []ops.EventData{ev("t", "1")}},
				{Stream: "base", Events: []ops.EventData{ev("t", "2")}},
				{Stream: "s", Events: []ops.EventData{ev("t", "3")}},
			}}, "appends[2].stream"}}
		}),
		invalidCase("batch-duplicate-id", "the same event ID twice in one batch is invalid, naming the second", func() []bad {
			return []bad{
				{"append", ops.Append{Stream: "s", Events: []ops.EventData{idEv(1, "t", "1"), idEv(1, "t", "2")}}, "events[1].id"},
				{"append of a stored ID twice", ops.Append{Stream: "base", Events: []ops.EventData{idEv(2, "t", "1"), ev("t", "2"), idEv(2, "t", "3")}}, "events[2].id"},
				{"commit", ops.Commit{Appends: []ops.Append{
					{Stream: "x", Events: []ops.EventData{idEv(1, "t", "1")}},
					{Stream: "s", Events: []ops.EventData{idEv(3, "t", "1"), idEv(4, "t", "2"), idEv(3, "t", "3")}},
				}}, "appends[1].events[2].id"},
			}
		}),
		invalidCase("commit-key-twice", "a commit changing the same key twice is invalid", func() []bad {
			return []bad{{"commit", ops.Commit{Kv: []ops.KvChange{
				{Key: "k", Value: []byte("1")}, {Key: "k", Delete: true},
			}}, "kv[1].key"}}
		}),
		invalidCase("delete-with-value", "a kv delete carrying a value is invalid", func() []bad {
			return []bad{{"commit", ops.Commit{Kv: []ops.KvChange{{Key: "base", Delete: true, Value: []byte("v")}}}, "kv[0].value"}}
		}),
		invalidCase("commit-too-many-events", "a commit over MaxCommitEvents events is invalid", func() []bad {
			events := make([]ops.EventData, ops.MaxCommitEvents+1)
			for i := range events {
				events[i] = ev("t", "")
			}
			return []bad{{"append", ops.Append{Stream: "s", Events: events}, "events"}}
		}),
		invalidCase("commit-too-big", "a commit over MaxCommitBytes is invalid", func() []bad {
			data := bigData()[:ops.MaxDataBytes]
			n := ops.MaxCommitBytes/ops.MaxDataBytes + 1
			events := make([]ops.EventData, n)
			for i := range events {
				events[i] = ops.EventData{Type: "t", Data: data}
			}
			return []bad{{"append", ops.Append{Stream: "s", Events: events}, "size"}}
		}),
		invalidCase("wait-negative-timeout", "a wait with a negative timeout is invalid", func() []bad {
			return []bad{{"wait", ops.Wait{Stream: "base", Timeout: -1}, "timeout"}}
		}),
		Case{Name: "at-limit", Doc: "names, keys, types and data exactly at their limits are accepted and read back", Run: limitsAtLimit},
	)
}

func limitsAtLimit(e *Env) {
	stream := strings.Repeat("s", ops.MaxNameBytes-2) + "é"
	key := strings.Repeat("k", ops.MaxKeyBytes)
	typ := strings.Repeat("t", ops.MaxTypeBytes)
	snap := strings.Repeat("n", ops.MaxNameBytes)
	data := bytes.Repeat([]byte("abcdefgh"), ops.MaxDataBytes/8)
	_, err := appendTo(e, stream, ops.Any(), ops.EventData{Type: typ, Data: data})
	e.NoError(err, "append at the limits")
	page, err := perform(e, ops.Read{Stream: stream})
	if e.NoError(err, "read at the limits") && e.Equal(1, len(page.Events), "events read") {
		e.Equal(typ, page.Events[0].Type, "type")
		e.True(sameBytes(data, page.Events[0].Data), "data of MaxDataBytes changed")
	}
	_, err = perform(e, ops.KvPut{Key: key, Value: data})
	e.NoError(err, "kv-put at the limits")
	if e.NoError(err, "kv-put at the limits (precondition of kv-get)") {
		g := mustGet(e, key)
		e.True(g.Found && sameBytes(data, g.Entry.Value), "value of MaxDataBytes under a key of MaxKeyBytes: found %v, %d bytes", g.Found, len(g.Entry.Value))
	}
	_, err = perform(e, ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: snap, Version: 1, Value: []byte("v")}})
	e.NoError(err, "snapshot-write at the name limit")
	s, err := perform(e, ops.SnapshotRead{Name: snap})
	if e.NoError(err, "snapshot-read at the name limit") {
		e.Equal(true, s.Found, "snapshot found")
	}
	_, err = perform(e, ops.Read{Stream: stream, Limit: ops.MaxPage})
	e.NoError(err, "read with Limit MaxPage")
}
