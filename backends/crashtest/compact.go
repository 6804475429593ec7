package crashtest

import (
	"fmt"
	"strings"

	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/ops"
)

// compact runs a compaction as step i. It changes nothing a reader sees,
// so the oracle has nothing to record: every later read, reopen and
// crash checks that what retention hid stays hidden, nothing visible is
// lost, positions are unchanged and every kv key holds its last value.
// Without a fault it must take at least reclaims hidden events and
// reclaimsKv superseded kv changes off the disk.
func (m *machine) compact(i int, reclaims, reclaimsKv int64) {
	res, err := m.store.Compact(m.io(), file.CompactOptions{})
	switch {
	case err != nil && !m.faulted():
		m.violate("step %d: compact: %v", i, err)
	case err == nil && !m.faulted() && res.Events < reclaims:
		m.violate("step %d: compact took %d hidden events off the disk, want at least %d", i, res.Events, reclaims)
	case err == nil && !m.faulted() && res.KvChanges < reclaimsKv:
		m.violate("step %d: compact took %d superseded kv changes off the disk, want at least %d", i, res.KvChanges, reclaimsKv)
	}
}

func wCompact() *Workload {
	b := build("compact", "compactions of sealed segments after limits and deletes hid events and puts superseded a key's history, between appends, a reopen and a second compaction: what retention hid stays hidden, nothing visible is lost, positions unchanged, kv values their last", file.Options{CheckpointBytes: 16 << 10, KvHistory: 2})
	big := func(k int, prefix string) []ops.EventData {
		out := make([]ops.EventData, k)
		for j := range out {
			out[j] = b.ev("t", prefix+strings.Repeat("x", 10<<10))
		}
		return out
	}
	// Puts of "k" that later puts supersede past its history of 2, in
	// segments the appends below seal and checkpoints cover.
	for j := range 6 {
		b.commit(ops.Commit{Kv: []ops.KvChange{{Key: "k", Value: []byte(strings.Repeat(fmt.Sprint(j), 10<<10))}}})
	}
	for range 4 {
		b.appendTo("a", ops.Any(), big(1, "a")...)
		b.appendTo("a", ops.Any(), big(1, "a")...)
		b.appendTo("b", ops.Any(), big(1, "b")...)
	}
	b.commit(ops.Commit{Appends: []ops.Append{
		{Stream: "a", Expect: ops.Any(), Events: big(1, "a-mixed")},
		{Stream: "keep", Expect: ops.Any(), Events: []ops.EventData{b.ev("t", "keep")}},
	}})
	b.commit(ops.Commit{Kv: []ops.KvChange{{Key: "k", Value: []byte("1")}}})
	b.meta(metaWrite{write: &ops.StreamMetaWrite{Stream: "a", Meta: ops.StreamMeta{MaxCount: 2}}})
	b.meta(metaWrite{del: &ops.StreamDelete{Stream: "b"}})
	b.step(Step{Kind: StepCompact, Reclaims: 6, ReclaimsKv: 3})
	b.step(Step{Kind: StepRead})
	b.appendTo("a", ops.Any(), big(2, "a-after")...)
	b.appendTo("b", ops.NoStream(), b.ev("t", "b-again"))
	b.step(Step{Kind: StepReopen})
	b.appendTo("a", ops.Any(), big(3, "a-later")...)
	b.step(Step{Kind: StepCompact, Reclaims: 1})
	b.appendTo("a", ops.Any(), b.ev("t", "a-last"))
	b.w.Sampled = true
	return b.w
}
