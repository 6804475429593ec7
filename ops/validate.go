package ops

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"rose-ash.com/persist/effect"
)

// Limits every backend enforces.
const (
	MaxNameBytes     = 256      // stream and snapshot names
	MaxKeyBytes      = 1024     // kv keys
	MaxTypeBytes     = 256      // event types
	MaxDataBytes     = 1 << 20  // one event's data, one kv value
	MaxSnapshotBytes = 64 << 20 // one snapshot's value
	MaxCommitEvents  = 10000    // events in one commit
	MaxCommitParts   = 10000    // appends plus kv changes in one commit
	MaxCommitBytes   = 16 << 20 // names, types, data and values of one commit
	DefaultPage      = 1000     // page size when Limit is 0
	MaxPage          = 10000    // largest Limit
)

// Validate checks an operation against the rules and limits of this package.
// It returns nil for effects it does not know. Each operation also has a
// Validate method, which is the same check without boxing the operation.
func Validate(e effect.Effect) error {
	if v, ok := e.(interface{ Validate() error }); ok {
		return v.Validate()
	}
	return nil
}

func (v *validator) result() error {
	if v.err != nil {
		return v.err
	}
	return nil
}

// Validate checks the operation; see the package doc.
func (op Append) Validate() error {
	v := validator{op: NameAppend}
	v.commit(Commit{Appends: []Append{op}}, false)
	return v.result()
}

// Validate checks the operation; see the package doc.
func (op Commit) Validate() error {
	v := validator{op: NameCommit}
	v.commit(op, true)
	return v.result()
}

// Validate checks the operation; see the package doc.
func (op KvPut) Validate() error {
	v := validator{op: NameKvPut}
	v.key("key", op.Key)
	v.data("value", op.Value, MaxDataBytes)
	v.expect("expect", op.Expect)
	return v.result()
}

// Validate checks the operation; see the package doc.
func (op KvDelete) Validate() error {
	v := validator{op: NameKvDelete}
	v.key("key", op.Key)
	v.expect("expect", op.Expect)
	return v.result()
}

// Validate checks the operation; see the package doc.
func (op Read) Validate() error {
	v := validator{op: NameRead}
	v.name("stream", op.Stream, MaxNameBytes)
	v.limit(op.Limit)
	return v.result()
}

// Validate checks the operation; see the package doc.
func (op ReadAll) Validate() error {
	v := validator{op: NameReadAll}
	v.limit(op.Limit)
	return v.result()
}

// Validate checks the operation; see the package doc.
func (op Head) Validate() error {
	v := validator{op: NameHead}
	v.name("stream", op.Stream, MaxNameBytes)
	return v.result()
}

// Validate checks the operation; see the package doc.
func (op Streams) Validate() error {
	v := validator{op: NameStreams}
	v.prefix("prefix", op.Prefix, MaxNameBytes)
	v.prefix("after", op.After, MaxNameBytes)
	v.limit(op.Limit)
	return v.result()
}

// Validate checks the operation; see the package doc.
func (op Wait) Validate() error {
	v := validator{op: NameWait}
	if op.Stream != "" {
		v.name("stream", op.Stream, MaxNameBytes)
	}
	if op.Timeout < 0 {
		v.fail("timeout", fmt.Sprintf("negative duration %s", op.Timeout))
	}
	return v.result()
}

// Validate checks the operation; see the package doc.
func (op KvGet) Validate() error {
	v := validator{op: NameKvGet}
	v.key("key", op.Key)
	return v.result()
}

// Validate checks the operation; see the package doc.
func (op KvList) Validate() error {
	v := validator{op: NameKvList}
	v.prefix("prefix", op.Prefix, MaxKeyBytes)
	v.prefix("after", op.After, MaxKeyBytes)
	v.limit(op.Limit)
	return v.result()
}

// Validate checks the operation; see the package doc.
func (op SnapshotRead) Validate() error {
	v := validator{op: NameSnapshotRead}
	v.name("name", op.Name, MaxNameBytes)
	return v.result()
}

// Validate checks the operation; see the package doc.
func (op SnapshotWrite) Validate() error {
	v := validator{op: NameSnapshotWrite}
	v.name("snapshot.name", op.Snapshot.Name, MaxNameBytes)
	v.data("snapshot.value", op.Snapshot.Value, MaxSnapshotBytes)
	v.keep(op.Keep)
	return v.result()
}

// PageLimit turns a validated Limit into a page size.
func PageLimit(limit int) int {
	if limit == 0 {
		return DefaultPage
	}
	return limit
}

type validator struct {
	op  string
	err *InvalidError
}

func (v *validator) fail(field, reason string) {
	if v.err == nil {
		v.err = &InvalidError{Op: v.op, Field: field, Reason: reason}
	}
}

// Each check below returns why its value breaks a rule, or "" when it
// keeps them, so that a field's name is only formatted on failure.

func textReason(s string, max int) string {
	switch {
	case len(s) > max:
		return fmt.Sprintf("%d bytes, over the limit of %d", len(s), max)
	case !utf8.ValidString(s):
		return "not valid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "contains a NUL byte"
	}
	return ""
}

func nameReason(s string, max int) string {
	if s == "" {
		return "empty"
	}
	return textReason(s, max)
}

func dataReason(b []byte, max int) string {
	if len(b) > max {
		return fmt.Sprintf("%d bytes, over the limit of %d", len(b), max)
	}
	return ""
}

func expectReason(e Expect) string {
	if e.Kind > ExpectExact {
		return fmt.Sprintf("unknown expectation kind %d", e.Kind)
	}
	return ""
}

func (v *validator) check(field, reason string) {
	if reason != "" {
		v.fail(field, reason)
	}
}

func (v *validator) name(field, s string, max int) { v.check(field, nameReason(s, max)) }

func (v *validator) key(field, s string) { v.check(field, nameReason(s, MaxKeyBytes)) }

func (v *validator) prefix(field, s string, max int) { v.check(field, textReason(s, max)) }

func (v *validator) data(field string, b []byte, max int) { v.check(field, dataReason(b, max)) }

func (v *validator) limit(n int) {
	if n < 0 || n > MaxPage {
		v.fail("limit", fmt.Sprintf("%d is outside 0..%d", n, MaxPage))
	}
}

func (v *validator) expect(field string, e Expect) { v.check(field, expectReason(e)) }

func (v *validator) commit(c Commit, named bool) {
	// Field names of parts are formatted only when a part fails.
	part := func(i int, s string) string {
		if !named {
			return s
		}
		return fmt.Sprintf("appends[%d].%s", i, s)
	}
	if named {
		if len(c.Appends) == 0 && len(c.Kv) == 0 {
			v.fail("parts", "a commit needs at least one append or kv change")
			return
		}
		if n := len(c.Appends) + len(c.Kv); n > MaxCommitParts {
			v.fail("parts", fmt.Sprintf("%d parts, over the limit of %d", n, MaxCommitParts))
			return
		}
	}
	events, size := 0, 0
	var streams map[string]bool
	if len(c.Appends) > 1 {
		streams = make(map[string]bool, len(c.Appends))
	}
	for i, a := range c.Appends {
		if r := nameReason(a.Stream, MaxNameBytes); r != "" {
			v.fail(part(i, "stream"), r)
		}
		if streams != nil {
			if streams[a.Stream] {
				v.fail(part(i, "stream"), fmt.Sprintf("stream %q appears twice in one commit", a.Stream))
			}
			streams[a.Stream] = true
		}
		if r := expectReason(a.Expect); r != "" {
			v.fail(part(i, "expect"), r)
		}
		if len(a.Events) == 0 {
			v.fail(part(i, "events"), "no events")
		}
		size += len(a.Stream)
		if len(a.Events) > 1 {
			if j, k := duplicateID(a.Events); j >= 0 {
				v.fail(part(i, fmt.Sprintf("events[%d].id", j)), fmt.Sprintf("%s is also the ID of events[%d]: an ID is unique within its stream", a.Events[j].ID, k))
			}
		}
		for j, ev := range a.Events {
			if r := nameReason(ev.Type, MaxTypeBytes); r != "" {
				v.fail(part(i, fmt.Sprintf("events[%d].type", j)), r)
			}
			if r := dataReason(ev.Data, MaxDataBytes); r != "" {
				v.fail(part(i, fmt.Sprintf("events[%d].data", j)), r)
			}
			size += len(ev.Type) + len(ev.Data) + 16
		}
		events += len(a.Events)
	}
	var keys map[string]bool
	if len(c.Kv) > 1 {
		keys = make(map[string]bool, len(c.Kv))
	}
	for i, k := range c.Kv {
		f := func(s string) string { return fmt.Sprintf("kv[%d].%s", i, s) }
		if r := nameReason(k.Key, MaxKeyBytes); r != "" {
			v.fail(f("key"), r)
		}
		if keys != nil {
			if keys[k.Key] {
				v.fail(f("key"), fmt.Sprintf("key %q appears twice in one commit", k.Key))
			}
			keys[k.Key] = true
		}
		if k.Delete && len(k.Value) > 0 {
			v.fail(f("value"), "a delete carries no value")
		}
		if r := dataReason(k.Value, MaxDataBytes); r != "" {
			v.fail(f("value"), r)
		}
		if r := expectReason(k.Expect); r != "" {
			v.fail(f("expect"), r)
		}
		size += len(k.Key) + len(k.Value)
	}
	if events > MaxCommitEvents {
		v.fail("events", fmt.Sprintf("%d events, over the limit of %d", events, MaxCommitEvents))
	}
	if size > MaxCommitBytes {
		v.fail("size", fmt.Sprintf("%d bytes, over the limit of %d", size, MaxCommitBytes))
	}
}

// duplicateID finds the first event whose non-zero ID an earlier event of
// evs carries too: its index and the earlier one's, or -1.
func duplicateID(evs []EventData) (int, int) {
	if len(evs) <= 16 {
		for j := 1; j < len(evs); j++ {
			if evs[j].ID == uuid.Nil {
				continue
			}
			for k := range j {
				if evs[k].ID == evs[j].ID {
					return j, k
				}
			}
		}
		return -1, -1
	}
	var seen map[uuid.UUID]int // made at the first ID: batches without IDs need none
	for j, ev := range evs {
		if ev.ID == uuid.Nil {
			continue
		}
		if seen == nil {
			seen = make(map[uuid.UUID]int, len(evs)-j)
		}
		if k, ok := seen[ev.ID]; ok {
			return j, k
		}
		seen[ev.ID] = j
	}
	return -1, -1
}
