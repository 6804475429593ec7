package crashtest

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strings"

	"github.com/google/uuid"

	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/backends/mock"
	"rose-ash.com/persist/ops"
)

// StepKind is what one step of a workload does.
type StepKind uint8

const (
	// StepCommit performs Commit (an append, a kv change or several parts).
	StepCommit StepKind = iota + 1
	// StepSnapshot writes Snap, keeping Keep generations of its name.
	StepSnapshot
	// StepRead reads every stream, the global log and the kv back and
	// checks them against what was acknowledged.
	StepRead
	// StepReopen closes the store cleanly and opens it again.
	StepReopen
	// StepCrash crashes the machine under Fault, restarts on the disk it
	// left, and retries every append that was in doubt (idempotently, by
	// its event IDs).
	StepCrash
	// StepMeta performs Meta: a stream metadata write or a delete.
	StepMeta
	// StepCompact runs the file store's Compact (compact.go).
	StepCompact
)

// Step is one step of a workload.
type Step struct {
	Kind   StepKind
	Commit ops.Commit
	Snap   ops.Snapshot
	Keep   int // for StepSnapshot: ops.SnapshotWrite's Keep
	Fault  mock.FaultKind
	Meta   *metaWrite
	// For StepCompact: the fewest hidden events, and superseded kv
	// changes, a compaction the faults leave alone must take off the
	// disk.
	Reclaims, ReclaimsKv int64
}

// Workload is a fixed sequence of steps on a new store in one data
// directory, then a clean close.
type Workload struct {
	Name string
	Doc  string
	Opts file.Options
	// Sampled workloads are large: a campaign checks a seeded sample of
	// their crash points rather than every one.
	Sampled bool
	// RunAll workloads, sampled or not, have every run fault strike every
	// effect it applies to.
	RunAll bool
	Steps  []Step
}

// Dir is the data directory of every workload on the mock filesystem.
const Dir = "/data"

var segSize = int64(64 << 10) // the smallest segment the file backend takes

// Workloads returns the workloads of RELIABILITY.md, by name.
func Workloads() []*Workload {
	return []*Workload{
		wSingle(), wMulti(), wExpect(), wKv(), wEmpty(), wReads(),
		wRoll(), wSnapshot(), wRestart(), wLarge(), wRollCkpt(), wIDs(), wMeta(), wMaxAge(), wCompact(), wKvTier(), wStreamRun(),
	}
}

// WorkloadNames lists the names of Workloads.
func WorkloadNames() []string {
	var out []string
	for _, w := range Workloads() {
		out = append(out, w.Name)
	}
	return out
}

// FindWorkload returns the workload called name.
func FindWorkload(name string) (*Workload, error) {
	for _, w := range Workloads() {
		if w.Name == name {
			return w, nil
		}
	}
	return nil, fmt.Errorf("crashtest: unknown workload %q (have %s)", name, strings.Join(WorkloadNames(), ", "))
}

// id makes a deterministic event ID from a workload name and a number.
func id(w string, n int) uuid.UUID {
	var u uuid.UUID
	copy(u[:8], w)
	binary.BigEndian.PutUint64(u[8:], uint64(n))
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

type builder struct {
	name string
	n    int
	w    *Workload
}

func build(name, doc string, opts file.Options) *builder {
	if opts.SegmentSize == 0 {
		opts.SegmentSize = segSize
	}
	return &builder{name: name, w: &Workload{Name: name, Doc: doc, Opts: opts}}
}

func (b *builder) ev(typ string, data string) ops.EventData {
	b.n++
	return ops.EventData{ID: id(b.name, b.n), Type: typ, Data: []byte(data)}
}

func (b *builder) evs(k int, format string) []ops.EventData {
	out := make([]ops.EventData, k)
	for i := range out {
		out[i] = b.ev("t", fmt.Sprintf(format, b.n+1))
	}
	return out
}

func (b *builder) commit(c ops.Commit) *builder {
	b.w.Steps = append(b.w.Steps, Step{Kind: StepCommit, Commit: c})
	return b
}

func (b *builder) appendTo(stream string, expect ops.Expect, evs ...ops.EventData) *builder {
	return b.commit(ops.Commit{Appends: []ops.Append{{Stream: stream, Expect: expect, Events: evs}}})
}

func (b *builder) step(s Step) *builder {
	b.w.Steps = append(b.w.Steps, s)
	return b
}

func wSingle() *Workload {
	b := build("single", "single-stream appends, one event each", file.Options{})
	for range 6 {
		b.appendTo("orders", ops.Any(), b.ev("placed", fmt.Sprintf("{:order %d}", b.n+1)))
	}
	return b.w
}

func wMulti() *Workload {
	b := build("multi", "interleaved multi-stream batches", file.Options{})
	b.commit(ops.Commit{Appends: []ops.Append{
		{Stream: "a", Events: b.evs(2, "a%d")},
		{Stream: "b", Events: b.evs(1, "b%d")},
	}})
	b.commit(ops.Commit{Appends: []ops.Append{
		{Stream: "b", Events: b.evs(3, "b%d")},
		{Stream: "c", Events: b.evs(1, "c%d")},
		{Stream: "a", Events: b.evs(1, "a%d")},
	}})
	b.appendTo("c", ops.Any(), b.evs(4, "c%d")...)
	b.commit(ops.Commit{Appends: []ops.Append{
		{Stream: "a", Events: b.evs(2, "a%d")},
		{Stream: "c", Events: b.evs(2, "c%d")},
	}})
	return b.w
}

func wExpect() *Workload {
	b := build("expect", "appends with expectations and conflicts, kv compare-and-set", file.Options{})
	b.appendTo("acct", ops.NoStream(), b.ev("opened", "{}"))
	b.appendTo("acct", ops.Exact(1), b.ev("credited", "{:n 10}"))
	b.appendTo("acct", ops.Exact(1), b.ev("credited", "{:n 99}")) // conflict: head is 2
	b.appendTo("acct", ops.NoStream(), b.ev("opened", "{}"))      // conflict: exists
	b.appendTo("other", ops.Exists(), b.ev("x", "{}"))            // conflict: absent
	b.appendTo("acct", ops.Exists(), b.ev("debited", "{:n 3}"))
	b.commit(ops.Commit{Kv: []ops.KvChange{{Key: "bal", Value: []byte("7"), Expect: ops.NoStream()}}})
	b.commit(ops.Commit{Kv: []ops.KvChange{{Key: "bal", Value: []byte("8"), Expect: ops.Exact(9)}}}) // conflict
	b.commit(ops.Commit{Appends: []ops.Append{{Stream: "acct", Expect: ops.Exact(3), Events: b.evs(1, "e%d")}},
		Kv: []ops.KvChange{{Key: "bal", Value: []byte("6"), Expect: ops.Exact(1)}}})
	b.commit(ops.Commit{Appends: []ops.Append{{Stream: "acct", Expect: ops.Exact(2), Events: b.evs(1, "e%d")}},
		Kv: []ops.KvChange{{Key: "bal", Value: []byte("0")}}}) // conflict on the append: nothing written
	return b.w
}

func wIDs() *Workload {
	b := build("ids", "event IDs retried whole, reused and refused, across parts of a commit and a reopen", file.Options{})
	a1, a2 := b.ev("t", "a1"), b.ev("t", "a2")
	b.appendTo("s", ops.Any(), a1, a2)
	b.appendTo("s", ops.Any(), b.ev("t", "x"))
	b.appendTo("s", ops.Any(), a1, a2)              // a retry after another event: nothing written
	b.appendTo("s", ops.Any(), a2, b.ev("t", "n1")) // a reuse beside a new ID: refused
	b.appendTo("s", ops.Exact(3), a1)               // a stored batch at another place: refused
	b.appendTo("t", ops.NoStream(), a1)             // the same ID in another stream: written
	b.commit(ops.Commit{Appends: []ops.Append{
		{Stream: "s", Expect: ops.NoStream(), Events: []ops.EventData{a1, a2}}, // a retried part
		{Stream: "u", Expect: ops.NoStream(), Events: []ops.EventData{b.ev("t", "u1")}},
	}})
	b.commit(ops.Commit{Appends: []ops.Append{
		{Stream: "u", Expect: ops.Any(), Events: []ops.EventData{b.ev("t", "u2")}},
		{Stream: "t", Expect: ops.Any(), Events: []ops.EventData{b.ev("t", "t2"), a1}}, // a reuse: the whole commit refused
	}})
	b.step(Step{Kind: StepReopen})
	b.appendTo("s", ops.Any(), a1, a2)              // a retry after the reopen
	b.appendTo("s", ops.Any(), b.ev("t", "n2"), a1) // a reuse after the reopen: refused
	b.appendTo("s", ops.Any(), b.ev("t", "n3"))
	return b.w
}

func wKv() *Workload {
	b := build("kv", "kv puts and deletes among appends", file.Options{})
	put := func(k, v string) ops.KvChange { return ops.KvChange{Key: k, Value: []byte(v)} }
	b.commit(ops.Commit{Kv: []ops.KvChange{put("user/1", "ann")}})
	b.appendTo("log", ops.Any(), b.ev("login", "1"))
	b.commit(ops.Commit{Kv: []ops.KvChange{put("user/2", "bob"), put("user/3", "cy")}})
	b.commit(ops.Commit{Kv: []ops.KvChange{{Key: "user/2", Delete: true}}})
	b.commit(ops.Commit{Appends: []ops.Append{{Stream: "log", Events: b.evs(2, "%d")}}, Kv: []ops.KvChange{put("user/1", "ann2"), {Key: "user/9", Delete: true}}})
	b.commit(ops.Commit{Kv: []ops.KvChange{put("user/2", "")}})
	b.appendTo("log", ops.Any(), b.ev("logout", "1"))
	return b.w
}

// wKvTier builds tiers of kv runs: a store checkpoint after every commit
// writes the keys the commit changed as a new run, folding the newest
// runs into it as they reach its size (a fold's run is renamed into place
// before its checkpoint, the runs it replaced removed after the next),
// deletes of keys the oldest run holds leave tombstones, and the last
// commits change enough keys to fold every run into one, which drops
// them.
func wKvTier() *Workload {
	b := build("kvtier", "kv puts and deletes with a store checkpoint after every commit: tiers of kv runs, folds of the newest, tombstones, a fold into the oldest; a reopen between", file.Options{CheckpointBytes: 1})
	put := func(k, v string) ops.KvChange { return ops.KvChange{Key: k, Value: []byte(v)} }
	var base []ops.KvChange
	for i := range 16 {
		base = append(base, put(fmt.Sprintf("k%02d", i), fmt.Sprintf("base-%d", i)))
	}
	b.commit(ops.Commit{Kv: base})
	b.commit(ops.Commit{Kv: []ops.KvChange{put("a1", "x"), {Key: "k03", Delete: true}}})
	b.commit(ops.Commit{Kv: []ops.KvChange{put("a2", "y"), put("k04", "changed")}})
	b.appendTo("log", ops.Any(), b.ev("t", "1"))
	b.commit(ops.Commit{Kv: []ops.KvChange{{Key: "k05", Delete: true}, put("a3", "z")}})
	b.step(Step{Kind: StepReopen})
	b.commit(ops.Commit{Kv: []ops.KvChange{put("a1", "x2"), {Key: "a2", Delete: true}}})
	var many []ops.KvChange
	for i := range 24 {
		many = append(many, put(fmt.Sprintf("m%02d", i), fmt.Sprintf("many-%d", i)))
	}
	b.commit(ops.Commit{Kv: many})
	b.commit(ops.Commit{Kv: []ops.KvChange{{Key: "k06", Delete: true}, put("k03", "back")}})
	b.w.Sampled = true
	return b.w
}

// wStreamRun writes stream runs: multi-stream batches in tiny segments,
// each round's streams followed by records of a pad stream that roll the
// log past them, so that the store checkpoint of the next reopen indexes
// the round's segment and writes its streams, whose records all lie in
// index files, as a new stream run, folding the older runs into it (a
// checkpoint writes a stream with records in the active segment into its
// section alone: the pad, always; a stream of the last round, whose
// older head a run holds). A crash between two rounds restarts the store
// on runs and replays a round's records past them.
func wStreamRun() *Workload {
	b := build("streamrun", "multi-stream batches in tiny segments, a pad rolling the log after each round, reopens and a crash: each checkpoint writes the streams whose records all lie in index files as a stream run over the older runs", file.Options{})
	big := strings.Repeat("p", 40000) // two take more than a segment: one rolls it
	pad := func() {
		for range 2 {
			b.appendTo("pad", ops.Any(), b.ev("big", fmt.Sprintf("%d:%s", b.n+1, big)))
		}
	}
	b.commit(ops.Commit{Appends: []ops.Append{
		{Stream: "a", Events: b.evs(2, "a%d")},
		{Stream: "b", Events: b.evs(1, "b%d")},
	}})
	b.appendTo("c", ops.Any(), b.evs(1, "c%d")...)
	pad()
	b.step(Step{Kind: StepReopen}) // a run of a, b and c
	b.commit(ops.Commit{Appends: []ops.Append{
		{Stream: "b", Events: b.evs(1, "b%d")},
		{Stream: "d", Events: b.evs(2, "d%d")},
	}})
	pad()
	b.step(Step{Kind: StepReopen}) // a run of b and d over the first
	b.commit(ops.Commit{Appends: []ops.Append{
		{Stream: "a", Events: b.evs(1, "a%d")},
		{Stream: "e", Events: b.evs(1, "e%d")},
	}})
	pad()
	b.step(Step{Kind: StepCrash, Fault: mock.Torn}) // recovery replays a and e past the runs
	b.appendTo("c", ops.Any(), b.evs(1, "c%d")...)
	b.step(Step{Kind: StepReopen}) // a run of a and e; c in the section alone
	b.appendTo("d", ops.Any(), b.evs(1, "d%d")...)
	b.w.Sampled = true
	return b.w
}

func wEmpty() *Workload {
	return build("empty", "an empty store: created, closed", file.Options{}).w
}

func wReads() *Workload {
	b := build("reads", "appends with reads between them", file.Options{})
	b.step(Step{Kind: StepRead})
	for i := range 4 {
		b.appendTo(fmt.Sprintf("s%d", i%2), ops.Any(), b.evs(2, "r%d")...)
		b.step(Step{Kind: StepRead})
	}
	b.step(Step{Kind: StepReopen})
	b.step(Step{Kind: StepRead})
	b.appendTo("s0", ops.Any(), b.ev("t", "after reopen"))
	b.step(Step{Kind: StepRead})
	return b.w
}

func wRoll() *Workload {
	b := build("roll", "tiny segments: appends that roll the log to new segments", file.Options{})
	big := strings.Repeat("x", 9000)
	for i := range 16 {
		b.appendTo(fmt.Sprintf("s%d", i%3), ops.Any(), b.ev("big", fmt.Sprintf("%d:%s", i, big)))
	}
	b.w.Sampled = true
	return b.w
}

func wRollCkpt() *Workload {
	b := build("rollckpt", "tiny segments and a store checkpoint after every commit: each roll has a checkpoint due; a reopen between rolls", file.Options{CheckpointBytes: 1})
	big := strings.Repeat("r", 20000) // three fill a segment: the fourth rolls
	for i := range 4 {
		b.appendTo("r", ops.Any(), b.ev("big", fmt.Sprintf("%d:%s", i, big)))
	}
	b.commit(ops.Commit{Kv: []ops.KvChange{{Key: "rolled", Value: []byte("1")}}})
	b.step(Step{Kind: StepReopen})
	for i := 4; i < 7; i++ {
		b.appendTo("r", ops.Any(), b.ev("big", fmt.Sprintf("%d:%s", i, big)))
	}
	b.w.Sampled, b.w.RunAll = true, true
	return b.w
}

func wSnapshot() *Workload {
	b := build("snapshot", "snapshot cycles keeping generations (Keep 2, 3, 2: a write that drops, one that keeps all, one that drops two) and store checkpoints, with reopens", file.Options{CheckpointBytes: 512})
	for i, keep := range []int{2, 3, 2} {
		b.appendTo("p", ops.Any(), b.evs(2, "p%d")...)
		b.step(Step{Kind: StepSnapshot, Keep: keep, Snap: ops.Snapshot{Name: "proj", Version: 1, Seq: uint64(2 * (i + 1)), Value: []byte(fmt.Sprintf("state after %d", 2*(i+1)))}})
		b.commit(ops.Commit{Kv: []ops.KvChange{{Key: "cursor", Value: []byte(fmt.Sprint(i))}}})
		if i == 1 {
			b.step(Step{Kind: StepReopen})
		}
	}
	b.step(Step{Kind: StepSnapshot, Snap: ops.Snapshot{Name: "other", Version: 2, Seq: 1, Value: []byte("o")}})
	b.w.Sampled = true
	return b.w
}

func wRestart() *Workload {
	b := build("restart", "crash, recover, append, crash again, with retries of appends in doubt", file.Options{})
	for i, f := range []mock.FaultKind{mock.Torn, mock.Prefix, mock.Dirs, mock.Drop} {
		b.appendTo("s", ops.Any(), b.evs(1, "x%d")...)
		b.commit(ops.Commit{Appends: []ops.Append{{Stream: "s", Events: b.evs(2, "y%d")}}, Kv: []ops.KvChange{{Key: "n", Value: []byte(fmt.Sprint(i))}}})
		b.step(Step{Kind: StepCrash, Fault: f})
	}
	b.appendTo("s", ops.Any(), b.ev("t", "last"))
	b.w.Sampled = true
	return b.w
}

func wLarge() *Workload {
	b := build("large", "records near the size limit", file.Options{})
	b.appendTo("blob", ops.Any(), b.ev("big", strings.Repeat("L", ops.MaxDataBytes)))
	b.appendTo("small", ops.Any(), b.ev("t", "after"))
	b.commit(ops.Commit{Kv: []ops.KvChange{{Key: "k", Value: []byte(strings.Repeat("V", ops.MaxDataBytes-1))}}})
	b.appendTo("small", ops.Any(), b.ev("t", "last"))
	b.w.Sampled = true
	return b.w
}

// snapshotNames lists the snapshot names a workload writes.
func (w *Workload) snapshotNames() []string {
	seen := map[string]bool{}
	for _, s := range w.Steps {
		if s.Kind == StepSnapshot {
			seen[s.Snap.Name] = true
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
