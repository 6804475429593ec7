package ops

import "rose-ash.com/persist/effect"

// NameSnapshotNames is the name of SnapshotNames, as printed in traces.
const NameSnapshotNames = "persist/snapshot-names"

// SnapshotNames lists the names of every stored snapshot, in byte order.
// It is for tools that walk a whole store (export, digests, migration);
// a backend that cannot list its snapshots answers effect.ErrUnhandled.
type SnapshotNames struct {
	effect.Returns[[]string]
}

func (SnapshotNames) EffectName() string { return NameSnapshotNames }
