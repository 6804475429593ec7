package file

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// verdict is what a check says of a store: "ok", "torn" (a tail the next
// open cuts), "corrupt" or "error", with the file (relative to the data
// directory) and offset it names, and what the next open does to a roll.
type verdict struct {
	Kind   string
	File   string
	Offset int64
	Roll   string
	Msg    string
	// By tells, of Open's verdict, what found the damage: "open" itself,
	// or a "read" after an open that trusted the damaged record to a
	// checkpoint (rule 8). Verify's verdict leaves it empty.
	By string
}

func (v verdict) String() string {
	return fmt.Sprintf("%s %s@%d %s %s", v.Kind, v.File, v.Offset, v.Roll, v.Msg)
}

func rel(dir, path string) string {
	r, err := filepath.Rel(dir, path)
	if err != nil {
		return path
	}
	return r
}

func errVerdict(dir string, err error) verdict {
	var ce *CorruptError
	if errors.As(err, &ce) {
		return verdict{Kind: "corrupt", File: rel(dir, ce.File), Offset: ce.Offset}
	}
	return verdict{Kind: "error", Msg: strings.ReplaceAll(err.Error(), dir, "DIR")}
}

func rollWord(rolled bool, undone, dir string) string {
	switch {
	case rolled:
		return "finish-roll"
	case undone != "":
		return "undo-roll " + rel(dir, undone)
	}
	return ""
}

// openVerdict opens a copy of dir and reads everything back (every
// stream, the global log, the kv, the snapshots named): Open's verdict.
func openVerdict(t *testing.T, dir string, snaps []string) verdict {
	t.Helper()
	cp := filepath.Join(t.TempDir(), "copy")
	copyDir(t, dir, cp)
	e := &env{t: t, dir: cp, os: &platform.OS{}}
	s, err := Open(e.p(), cp, Options{SegmentSize: minSegmentSize})
	if err != nil {
		v := errVerdict(cp, err)
		v.By = "open"
		return v
	}
	e.s = s
	defer func() { _ = s.Close(e.p()) }()
	read := func() error {
		// The global log first, so that the first damage found is the
		// first in the log, as Verify finds it.
		if _, err := perform(e, ops.ReadAll{Limit: ops.MaxPage}); err != nil {
			return err
		}
		st, err := perform(e, ops.Streams{Limit: ops.MaxPage})
		if err != nil {
			return err
		}
		for _, x := range st.Streams {
			for from := uint64(1); from <= x.Head; {
				r, err := perform(e, ops.Read{Stream: x.Name, From: from, Limit: ops.MaxPage})
				if err != nil {
					return err
				}
				from += uint64(len(r.Events))
				if len(r.Events) == 0 {
					return fmt.Errorf("read %s from %d: nothing", x.Name, from)
				}
			}
		}
		if _, err := perform(e, ops.ReadAll{Limit: ops.MaxPage}); err != nil {
			return err
		}
		if _, err := perform(e, ops.KvList{Limit: ops.MaxPage}); err != nil {
			return err
		}
		for _, n := range snaps {
			if _, err := perform(e, ops.SnapshotRead{Name: n}); err != nil {
				return err
			}
		}
		return nil
	}
	if err := read(); err != nil {
		v := errVerdict(cp, err)
		v.By = "read"
		return v
	}
	rep := s.Recovery()
	v := verdict{Kind: "ok", Roll: rollWord(rep.Rolled, rep.RollUndone, cp)}
	if rep.Truncated != nil {
		v.Kind, v.File, v.Offset = "torn", rel(cp, rep.Truncated.File), rep.Truncated.Offset
	}
	return v
}

func verifyVerdict(t *testing.T, dir string) verdict {
	t.Helper()
	rep, err := Verify((&env{t: t, os: &platform.OS{}}).p(), dir)
	if err != nil {
		return errVerdict(dir, err)
	}
	v := verdict{Kind: "ok", Roll: rollWord(rep.Rolled, rep.RollUndone, dir)}
	if rep.TornTail != nil {
		v.Kind, v.File, v.Offset = "torn", rel(dir, rep.TornTail.File), rep.TornTail.Offset
	}
	return v
}

func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	require.NoError(t, filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel(src, path))
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o644)
	}))
}

// matrixStore builds a store of several segments, store checkpoints and
// two snapshots, left closed, or crashed (the directory as a process
// killed after its last acknowledged commit leaves it), or crashed with no
// checkpoint at all.
func matrixStore(t *testing.T, state string) string {
	opts := Options{SegmentSize: minSegmentSize, CheckpointBytes: 40 << 10}
	if state == "crashed-no-checkpoint" {
		opts.CheckpointBytes = -1
	}
	e := newEnv(t, opts)
	fill(t, e, 450)
	for i := range 3 {
		must(t, e, ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "proj", Version: 1, Seq: uint64(i + 1), Value: []byte(fmt.Sprintf("state %d", i))}})
	}
	must(t, e, ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "other", Version: 1, Seq: 1, Value: []byte("o")}})
	fill(t, e, 3)
	out := filepath.Join(t.TempDir(), "store")
	if state == "closed" {
		e.close()
		copyDir(t, e.dir, out)
		return out
	}
	copyDir(t, e.dir, out) // as the killed process left it
	require.NoError(t, os.Remove(filepath.Join(out, lockFile)))
	require.NoError(t, os.WriteFile(filepath.Join(out, lockFile), nil, 0o644))
	if state == "crashed-no-checkpoint" {
		m, _ := filepath.Glob(filepath.Join(out, logDir, ckptPrefix+"*"))
		require.Empty(t, m)
	}
	return out
}

type matrixFault struct {
	name  string
	apply func(t *testing.T, dir string, recs []Record) bool // false: it found nothing to damage
	// ckpt: the damage is to checkpoint files, so the fault is not run
	// on a state that has none.
	ckpt bool
	// covered: the damage lies in records of segment 1, which a
	// checkpoint covers in every state that has one: Open trusts them
	// (rule 8), a read and Verify find it.
	covered bool
	// verifyOnly: the bytes every read serves are intact, but what the
	// seal records of them is not: in a state with a checkpoint covering
	// the segment, Verify finds it, Open and every read do not.
	verifyOnly bool
}

func segList(t testing.TB, dir string) []string { return segPaths(t, dir) }

func flipAt(t testing.TB, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	b[off] ^= 0x10
	require.NoError(t, os.WriteFile(path, b, 0o644))
}

func zeroAt(t testing.TB, path string, off, n int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	copy(b[off:min(off+n, int64(len(b)))], make([]byte, n))
	require.NoError(t, os.WriteFile(path, b, 0o644))
}

// lastCommit is the last commit record of the log.
func lastCommit(recs []Record) Record {
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Type == "commit" {
			return recs[i]
		}
	}
	return Record{}
}

// midCommit is a commit in the middle of segment seg.
func midCommit(recs []Record, seg uint64) Record {
	var in []Record
	for _, r := range recs {
		if r.Segment == seg && r.Type == "commit" {
			in = append(in, r)
		}
	}
	return in[len(in)/2]
}

func globOne(t testing.TB, pattern string) []string {
	m, err := filepath.Glob(pattern)
	require.NoError(t, err)
	sort.Strings(m)
	return m
}

func matrixFaults() []matrixFault {
	segFile := func(dir string, id int) string { return filepath.Join(dir, logDir, segName(uint64(id))) }
	return []matrixFault{
		{name: "none", apply: func(*testing.T, string, []Record) bool { return true }},
		{name: "bitflip-sealed-record", covered: true, apply: func(t *testing.T, dir string, recs []Record) bool {
			r := midCommit(recs, 1)
			flipAt(t, segFile(dir, 1), r.Offset+40)
			return true
		}},
		{name: "bitflip-seal-checksum", apply: func(t *testing.T, dir string, recs []Record) bool {
			r := sealOf(recs, 1)
			flipAt(t, segFile(dir, 1), r.Offset+frameSize+16)
			return true
		}},
		{name: "bitflip-seal-length", apply: func(t *testing.T, dir string, recs []Record) bool {
			r := sealOf(recs, 2)
			flipAt(t, segFile(dir, 2), r.Offset+frameSize+8)
			return true
		}},
		{name: "seal-checksum-wrong-rechained", verifyOnly: true, apply: func(t *testing.T, dir string, recs []Record) bool {
			// A seal written with a wrong segment checksum (a bug, not
			// damage at rest), its frame and the chain after it valid:
			// Open finds it when it replays the segment (no checkpoint);
			// with a checkpoint that covers the segment only Verify does.
			rewriteSeal(t, dir, recs, 1, func(si *sealInfo) { si.sum ^= 0x5a })
			return true
		}},
		{name: "seal-position-wrong-rechained", apply: func(t *testing.T, dir string, recs []Record) bool {
			// The same with the seal's last position.
			rewriteSeal(t, dir, recs, 1, func(si *sealInfo) { si.lastPos++ })
			return true
		}, verifyOnly: true},
		{name: "bitflip-sealed-frame", apply: func(t *testing.T, dir string, recs []Record) bool {
			r := midCommit(recs, 2)
			flipAt(t, segFile(dir, 2), r.Offset+5)
			return true
		}},
		{name: "bitflip-last-record", apply: func(t *testing.T, dir string, recs []Record) bool {
			r := lastCommit(recs)
			flipAt(t, r.File, r.Offset+int64(r.Size)-12)
			return true
		}},
		{name: "bitflip-last-frame", apply: func(t *testing.T, dir string, recs []Record) bool {
			r := lastCommit(recs)
			flipAt(t, r.File, r.Offset+26)
			return true
		}},
		{name: "bitflip-mid-last-segment", apply: func(t *testing.T, dir string, recs []Record) bool {
			r := midCommit(recs, lastCommit(recs).Segment)
			flipAt(t, r.File, r.Offset+40)
			return true
		}},
		{name: "zero-block-sealed", covered: true, apply: func(t *testing.T, dir string, recs []Record) bool {
			zeroAt(t, segFile(dir, 1), 8192, 512)
			return true
		}},
		{name: "zero-block-last-record", apply: func(t *testing.T, dir string, recs []Record) bool {
			r := lastCommit(recs)
			zeroAt(t, r.File, r.Offset&^511, 512)
			return true
		}},
		{name: "truncate-last-mid-record", apply: func(t *testing.T, dir string, recs []Record) bool {
			r := lastCommit(recs)
			require.NoError(t, os.Truncate(r.File, r.Offset+int64(r.Size)/2))
			return true
		}},
		{name: "truncate-last-at-record", apply: func(t *testing.T, dir string, recs []Record) bool {
			r := lastCommit(recs)
			require.NoError(t, os.Truncate(r.File, r.Offset))
			return true
		}},
		{name: "truncate-last-to-zero", apply: func(t *testing.T, dir string, recs []Record) bool {
			r := lastCommit(recs)
			require.NoError(t, os.Truncate(r.File, 0))
			return true
		}},
		{name: "truncate-sealed", apply: func(t *testing.T, dir string, recs []Record) bool {
			require.NoError(t, os.Truncate(segFile(dir, 1), 30000))
			return true
		}},
		{name: "garbage-after-last", apply: func(t *testing.T, dir string, recs []Record) bool {
			r := lastCommit(recs)
			b, err := os.ReadFile(r.File)
			require.NoError(t, err)
			end := r.Offset + int64(r.Size)
			g := []byte(strings.Repeat("\xa5\x17\x00\x03", 100))
			if int64(len(b)) < end+int64(len(g)) {
				b = append(b[:end], g...)
			} else {
				copy(b[end:], g)
			}
			require.NoError(t, os.WriteFile(r.File, b, 0o644))
			return true
		}},
		{name: "delete-first-segment", apply: func(t *testing.T, dir string, recs []Record) bool {
			require.NoError(t, os.Remove(segFile(dir, 1)))
			return true
		}},
		{name: "delete-middle-segment", apply: func(t *testing.T, dir string, recs []Record) bool {
			require.NoError(t, os.Remove(segFile(dir, 2)))
			return true
		}},
		{name: "delete-last-segment", apply: func(t *testing.T, dir string, recs []Record) bool {
			s := segList(t, dir)
			require.NoError(t, os.Remove(s[len(s)-1]))
			return true
		}},
		{name: "duplicate-segment-as-next", apply: func(t *testing.T, dir string, recs []Record) bool {
			s := segList(t, dir)
			b, err := os.ReadFile(s[0])
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(segFile(dir, len(s)+1), b, 0o644))
			return true
		}},
		{name: "duplicate-last-as-next", apply: func(t *testing.T, dir string, recs []Record) bool {
			s := segList(t, dir)
			b, err := os.ReadFile(s[len(s)-1])
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(segFile(dir, len(s)+1), b, 0o644))
			return true
		}},
		{name: "swap-segments", apply: func(t *testing.T, dir string, recs []Record) bool {
			a, b := segFile(dir, 1), segFile(dir, 2)
			require.NoError(t, os.Rename(a, a+".x"))
			require.NoError(t, os.Rename(b, a))
			require.NoError(t, os.Rename(a+".x", b))
			return true
		}},
		{name: "checkpoint-bitflip-newest", ckpt: true, apply: func(t *testing.T, dir string, recs []Record) bool {
			m := globOne(t, filepath.Join(dir, logDir, ckptPrefix+"*"))
			if len(m) == 0 {
				return false
			}
			flipAt(t, m[len(m)-1], 60)
			return true
		}},
		{name: "checkpoint-bitflip-all", ckpt: true, apply: func(t *testing.T, dir string, recs []Record) bool {
			m := globOne(t, filepath.Join(dir, logDir, ckptPrefix+"*"))
			for _, f := range m {
				flipAt(t, f, 45)
			}
			return len(m) > 0
		}},
		{name: "checkpoint-truncated", ckpt: true, apply: func(t *testing.T, dir string, recs []Record) bool {
			m := globOne(t, filepath.Join(dir, logDir, ckptPrefix+"*"))
			if len(m) == 0 {
				return false
			}
			require.NoError(t, os.Truncate(m[len(m)-1], 30))
			return true
		}},
		{name: "checkpoint-misnamed", ckpt: true, apply: func(t *testing.T, dir string, recs []Record) bool {
			m := globOne(t, filepath.Join(dir, logDir, ckptPrefix+"*"))
			if len(m) == 0 {
				return false
			}
			require.NoError(t, os.Rename(m[0], filepath.Join(dir, logDir, ckptName(1<<40))))
			return true
		}},
		{name: "snapshot-bitflip-newest", apply: func(t *testing.T, dir string, recs []Record) bool {
			m := globOne(t, filepath.Join(dir, snapDir, snapKey("proj")+"-*"))
			flipAt(t, m[len(m)-1], 30)
			return true
		}},
		{name: "snapshot-bitflip-all", apply: func(t *testing.T, dir string, recs []Record) bool {
			for _, f := range globOne(t, filepath.Join(dir, snapDir, snapKey("proj")+"-*")) {
				flipAt(t, f, 26)
			}
			return true
		}},
		{name: "snapshot-truncated", apply: func(t *testing.T, dir string, recs []Record) bool {
			m := globOne(t, filepath.Join(dir, snapDir, snapKey("other")+"-*"))
			require.NoError(t, os.Truncate(m[0], 20))
			return true
		}},
		{name: "snapshot-under-another-name", apply: func(t *testing.T, dir string, recs []Record) bool {
			m := globOne(t, filepath.Join(dir, snapDir, snapKey("proj")+"-*"))
			b, err := os.ReadFile(m[0])
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, snapDir, fmt.Sprintf("%s-%016x%s", snapKey("other"), 1<<30, snapSuffix)), b, 0o644))
			return true
		}},
		{name: "identity-bitflip", apply: func(t *testing.T, dir string, recs []Record) bool {
			flipAt(t, filepath.Join(dir, identityFile), int64(len(identityPrefix))+3)
			return true
		}},
		{name: "identity-truncated", apply: func(t *testing.T, dir string, recs []Record) bool {
			require.NoError(t, os.Truncate(filepath.Join(dir, identityFile), 10))
			return true
		}},
		{name: "identity-deleted", apply: func(t *testing.T, dir string, recs []Record) bool {
			require.NoError(t, os.Remove(filepath.Join(dir, identityFile)))
			return true
		}},
		{name: "identity-of-another-store", apply: func(t *testing.T, dir string, recs []Record) bool {
			text := identityPrefix + strings.Repeat("ab", 16) + "\n"
			require.NoError(t, os.WriteFile(filepath.Join(dir, identityFile), []byte(text), 0o644))
			return true
		}},
		{name: "leftover-tmp", apply: func(t *testing.T, dir string, recs []Record) bool {
			s := segList(t, dir)
			require.NoError(t, os.WriteFile(segFile(dir, len(s)+1)+tmpSuffix, []byte("half"), 0o644))
			return true
		}},
	}
}

// TestVerifyAgreesWithOpen damages closed and crashed stores in every way
// of the matrix and requires Verify's verdict (ok, torn tail, corrupt,
// with file and offset, and what happens to a roll) to equal Open's (an
// open that then reads everything back).
func TestVerifyAgreesWithOpen(t *testing.T) {
	if testing.Short() {
		t.Skip("the verify matrix builds several stores")
	}
	states := []string{"closed", "crashed", "crashed-no-checkpoint"}
	snaps := []string{"proj", "other"}
	cases, kinds := 0, map[string]int{}
	for _, state := range states {
		base := matrixStore(t, state)
		var recs []Record
		for r, err := range Dump((&env{t: t, os: &platform.OS{}}).p(), base) {
			require.NoError(t, err)
			recs = append(recs, r)
		}
		require.Greater(t, len(segList(t, base)), 2)
		for _, f := range matrixFaults() {
			if f.ckpt && state == "crashed-no-checkpoint" {
				continue
			}
			t.Run(state+"/"+f.name, func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "store")
				copyDir(t, base, dir)
				for i := range recs {
					recs[i].File = filepath.Join(dir, rel(base, recs[i].File))
				}
				defer func() {
					for i := range recs {
						recs[i].File = filepath.Join(base, rel(dir, recs[i].File))
					}
				}()
				require.True(t, f.apply(t, dir, recs), "the fault finds what it damages")
				want := openVerdict(t, dir, snaps)
				got := verifyVerdict(t, dir)
				by := want.By
				want.By = ""
				hasCkpt := state != "crashed-no-checkpoint"
				switch {
				case f.verifyOnly && hasCkpt:
					assert.Equal(t, "ok", want.Kind, "open and every read find nothing wrong")
					assert.Equal(t, "corrupt", got.Kind, "verify finds what the seal records wrong")
					assert.Equal(t, filepath.Join(logDir, segName(1)), got.File)
					assert.Equal(t, sealOf(recs, 1).Offset, got.Offset, "verify names the seal")
				case f.covered && hasCkpt:
					// Found by a read, not by Open; Verify names the first
					// damaged record of the log, which may be one no read
					// touches (a kv-only commit, whose values the
					// checkpoint holds), and never a later one.
					assert.Equal(t, "read", by, "damage a checkpoint covers is found by reads, not by open")
					assert.Equal(t, "corrupt", got.Kind)
					assert.Equal(t, want.File, got.File)
					assert.LessOrEqual(t, got.Offset, want.Offset)
				default:
					assert.Equal(t, want, got, "verify's verdict must be open's")
				}
				cases++
				kinds[want.Kind]++
			})
		}
	}
	t.Logf("verify-vs-open matrix: %d faults x %d states, %d cases run, verdicts %v", len(matrixFaults()), len(states), cases, kinds)
}

// A checkpoint whose file validates but whose index is not the log's (a
// bug, not damage: its checksum was computed over the wrong index): Open
// trusts it, Verify, which replays the whole log, does not.
func TestVerifyChecksCheckpointIndex(t *testing.T) {
	e := newEnv(t, Options{})
	fill(t, e, 20)
	e.close()
	files := ckptFiles(t, e.dir)
	require.NotEmpty(t, files)
	newest := files[len(files)-1]
	b, err := os.ReadFile(newest)
	require.NoError(t, err)
	r, st, err := decodeCheckpoint(b, e.s0id(t))
	require.NoError(t, err)
	require.NotEmpty(t, st.kvRefs, "the kv keys lie in a run")
	rewriteKvRun(t, e, st, "k0", []byte("not what the log says"))
	require.NoError(t, os.WriteFile(newest, encodeCheckpoint(e.s0id(t), r, st), 0o644))

	_, err = Verify(e.p(), e.dir)
	var ce *CorruptError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, newest, ce.File)
	assert.Contains(t, ce.Reason, `kv key "k0"`)
}

// s0id reads the store id of e's directory.
func (e *env) s0id(t testing.TB) [16]byte {
	t.Helper()
	id, err := readIdentity(e.p(), filepath.Join(e.dir, identityFile))
	require.NoError(t, err)
	return id
}

// sealOf is the seal record of segment seg.
func sealOf(recs []Record, seg uint64) Record {
	for _, r := range recs {
		if r.Segment == seg && r.Type == "seal" {
			return r
		}
	}
	panic(fmt.Sprintf("segment %d has no seal", seg))
}

// rewriteSeal changes the seal of segment seg of the store in dir (whose
// records are recs) by change, and then writes the log after it again as
// it would have been written after such a seal: every record's chain and
// checksum, the checksums later seals and the checkpoints record. So the
// seal is wrong the way a bug would leave it, with every frame valid.
func rewriteSeal(t *testing.T, dir string, recs []Record, seg uint64, change func(*sealInfo)) {
	t.Helper()
	type fix struct{ crc, sum uint32 } // by LSN: the new checksum, the segment's sum after the record
	fixed := map[uint64]fix{}
	var prev uint32
	have := false
	for _, path := range segList(t, dir) {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		var sum uint32
		var first uint64
		for off := 0; off+frameSize <= len(b); {
			f, err := decodeFrame(b[off:])
			if err != nil {
				break // the reserved tail
			}
			if f.typ == recHeader {
				first = f.lsn
			}
			if f.seg == seg && f.typ == recSeal {
				have = true
				si, err := decodeSeal(f.payload, segVersion)
				require.NoError(t, err)
				change(&si)
				f.payload = si.append(nil)
			} else if have && f.typ == recSeal {
				si, err := decodeSeal(f.payload, segVersion)
				require.NoError(t, err)
				require.Equal(t, first, si.firstLSN)
				si.sum = sum
				f.payload = si.append(nil)
			}
			if have {
				payload := slices.Clone(f.payload)
				rec, _ := appendRecord(nil, f.typ, prev, f.seg, f.lsn, func(d []byte) []byte { return append(d, payload...) })
				require.Len(t, rec, f.size)
				copy(b[off:], rec)
			}
			rec := b[off : off+f.size]
			prev = binary.LittleEndian.Uint32(rec)
			sum = crc32.Update(sum, castagnoli, rec)
			fixed[f.lsn] = fix{crc: prev, sum: sum}
			off += f.size
		}
		require.NoError(t, os.WriteFile(path, b, 0o644))
	}
	require.True(t, have, "segment %d has a seal", seg)
	id, err := readIdentity((&env{t: t, os: &platform.OS{}}).p(), filepath.Join(dir, identityFile))
	require.NoError(t, err)
	for _, path := range globOne(t, filepath.Join(dir, logDir, ckptPrefix+"*")) {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		r, st, err := decodeCheckpoint(b, id)
		if err != nil {
			continue
		}
		x, ok := fixed[r.lsn]
		require.True(t, ok)
		r.crc, r.sum = x.crc, x.sum
		require.NoError(t, os.WriteFile(path, encodeCheckpoint(id, r, st), 0o644))
	}
}

// A checkpoint that names a wrong segment checksum (a bug: its file
// validates) is found by Verify, which replays the whole log; one that
// names a wrong last record, by Open as well, which reads that record.
func TestVerifyChecksCheckpointResume(t *testing.T) {
	for name, change := range map[string]func(*resume){
		"checksum":    func(r *resume) { r.sum ^= 1 },
		"last record": func(r *resume) { r.last -= 8 },
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, Options{})
			fill(t, e, 20)
			e.close()
			files := ckptFiles(t, e.dir)
			newest := files[len(files)-1]
			b, err := os.ReadFile(newest)
			require.NoError(t, err)
			r, st, err := decodeCheckpoint(b, e.s0id(t))
			require.NoError(t, err)
			change(&r)
			require.NoError(t, os.WriteFile(newest, encodeCheckpoint(e.s0id(t), r, st), 0o644))
			_, err = Verify(e.p(), e.dir)
			var ce *CorruptError
			require.ErrorAs(t, err, &ce)
			if name == "checksum" {
				assert.Equal(t, newest, ce.File)
				return
			}
			_, oerr := Open(e.p(), e.dir, Options{})
			var oce *CorruptError
			require.ErrorAs(t, oerr, &oce)
			assert.Equal(t, *oce, *ce, "verify's verdict is open's")
		})
	}
}
