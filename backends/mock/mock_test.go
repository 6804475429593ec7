package mock

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/platform"
)

func do[R any](t testing.TB, h effect.Handler, op effect.Op[R]) R {
	t.Helper()
	r, err := effect.Perform(effect.Handle(t.Context(), h), op)
	require.NoError(t, err, "%s", op.EffectName())
	return r
}

func try[R any](h effect.Handler, op effect.Op[R]) (R, error) {
	return effect.Perform(effect.Handle(nil, h), op)
}

func readAll(t testing.TB, h effect.Handler, path string) []byte {
	t.Helper()
	fi := do(t, h, platform.Stat{Path: path})
	fd := do(t, h, platform.Open{Path: path, Flag: os.O_RDONLY})
	defer do(t, h, platform.Close{FD: fd})
	b := make([]byte, fi.Size)
	n := do(t, h, platform.ReadAt{FD: fd, Buf: b})
	return b[:n]
}

// write creates path with data, synced or not.
func write(t testing.TB, h effect.Handler, path string, data []byte, sync bool) {
	t.Helper()
	fd := do(t, h, platform.Open{Path: path, Flag: os.O_RDWR | os.O_CREATE | os.O_TRUNC, Perm: 0o644})
	do(t, h, platform.WriteAt{FD: fd, Data: data})
	if sync {
		do(t, h, platform.Fsync{FD: fd})
	}
	do(t, h, platform.Close{FD: fd})
}

// The mock answers like the operating system: the same sequence of effects
// on platform.OS in a temporary directory and on the mock gives the same
// answers and the same kinds of errors.
func TestSameAnswersAsOS(t *testing.T) {
	root := t.TempDir()
	type run struct {
		h    effect.Handler
		base string
	}
	for _, r := range []run{{&platform.OS{}, root}, {New(1, Options{}), "/w"}} {
		h, b := r.h, r.base
		if _, ok := h.(*FS); ok {
			do(t, h, platform.Mkdir{Path: b, Perm: 0o755})
		}
		p := func(s string) string { return filepath.Join(b, s) }
		_, err := try(h, platform.Open{Path: p("missing"), Flag: os.O_RDONLY})
		assert.ErrorIs(t, err, fs.ErrNotExist)
		var pe *platform.Error
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, platform.NameOpen, pe.Op)

		do(t, h, platform.Mkdir{Path: p("d"), Perm: 0o755})
		_, err = try(h, platform.Mkdir{Path: p("d"), Perm: 0o755})
		assert.ErrorIs(t, err, fs.ErrExist)
		_, err = try(h, platform.Mkdir{Path: p("x/y"), Perm: 0o755})
		assert.ErrorIs(t, err, fs.ErrNotExist)

		fd := do(t, h, platform.Open{Path: p("d/f"), Flag: os.O_RDWR | os.O_CREATE, Perm: 0o644})
		assert.Equal(t, 5, do(t, h, platform.WriteAt{FD: fd, Off: 3, Data: []byte("hello")}))
		buf := make([]byte, 10)
		assert.Equal(t, 8, do(t, h, platform.ReadAt{FD: fd, Buf: buf}), "a short read at the end is no error")
		assert.Equal(t, []byte("\x00\x00\x00hello"), buf[:8])
		assert.Equal(t, 0, do(t, h, platform.ReadAt{FD: fd, Off: 100, Buf: buf}))
		do(t, h, platform.Fallocate{FD: fd, Off: 0, Len: 100})
		assert.Equal(t, int64(100), do(t, h, platform.Stat{Path: p("d/f")}).Size)
		do(t, h, platform.Truncate{FD: fd, Size: 4})
		assert.Equal(t, int64(4), do(t, h, platform.Stat{Path: p("d/f")}).Size)
		_, err = try(h, platform.Fallocate{FD: fd, Off: 0, Len: 0})
		assert.ErrorIs(t, err, fs.ErrInvalid)
		do(t, h, platform.Fdatasync{FD: fd})
		do(t, h, platform.Close{FD: fd})
		_, err = try(h, platform.Close{FD: fd})
		assert.ErrorIs(t, err, fs.ErrClosed)
		_, err = try(h, platform.WriteAt{FD: fd, Data: []byte("x")})
		assert.ErrorIs(t, err, fs.ErrClosed)

		ro := do(t, h, platform.Open{Path: p("d/f"), Flag: os.O_RDONLY})
		_, err = try(h, platform.WriteAt{FD: ro, Data: []byte("x")})
		assert.Error(t, err, "a read-only FD refuses writes")
		do(t, h, platform.Close{FD: ro})
		_, err = try(h, platform.Open{Path: p("d/f"), Flag: os.O_RDWR | os.O_CREATE | os.O_EXCL})
		assert.ErrorIs(t, err, fs.ErrExist)

		do(t, h, platform.Rename{From: p("d/f"), To: p("d/g")})
		ents := do(t, h, platform.List{Dir: p("d")})
		assert.Equal(t, []platform.DirEntry{{Name: "g"}}, ents)
		_, err = try(h, platform.Remove{Path: p("d")})
		assert.ErrorIs(t, err, syscall.ENOTEMPTY)
		do(t, h, platform.SyncDir{Path: p("d")})
		do(t, h, platform.Remove{Path: p("d/g")})
		_, err = try(h, platform.Stat{Path: p("d/g")})
		assert.ErrorIs(t, err, fs.ErrNotExist)
		assert.True(t, do(t, h, platform.Stat{Path: p("d")}).IsDir)

		l1 := do(t, h, platform.Lock{Path: p("LOCK")})
		_, err = try(h, platform.Lock{Path: p("LOCK")})
		assert.ErrorIs(t, err, platform.ErrLocked)
		do(t, h, platform.Close{FD: l1})
		l2 := do(t, h, platform.Lock{Path: p("LOCK")})
		do(t, h, platform.Close{FD: l2})

		assert.Len(t, do(t, h, platform.Random{N: 16}), 16)
		_, err = try(h, platform.Random{N: -1})
		assert.ErrorIs(t, err, fs.ErrInvalid)
	}
}

func TestUnhandled(t *testing.T) {
	_, err := New(1, Options{}).Handle(nil, fakeEffect{})
	assert.Equal(t, effect.ErrUnhandled, err)
}

type fakeEffect struct{}

func (fakeEffect) EffectName() string { return "x/fake" }

func TestSyncedSurvivesUnsyncedDoesNot(t *testing.T) {
	m := New(1, Options{})
	write(t, m, "/a", []byte("synced"), true)
	do(t, m, platform.SyncDir{Path: "/"})
	write(t, m, "/b", []byte("unsynced data, synced name"), false)
	do(t, m, platform.SyncDir{Path: "/"})
	write(t, m, "/c", []byte("synced data, unsynced name"), true)
	assert.Equal(t, []byte("synced"), readAll(t, m, "/a"), "reads see the live state")

	d, rep := m.Crash(Fault{Kind: Drop, Seed: 1}, 2)
	assert.Equal(t, []byte("synced"), readAll(t, d, "/a"))
	assert.Empty(t, readAll(t, d, "/b"), "the name survives, the unsynced data does not")
	_, err := try(d, platform.Stat{Path: "/c"})
	assert.ErrorIs(t, err, fs.ErrNotExist, "a create is durable only after the directory sync")
	assert.Positive(t, rep.LostOps)
	assert.Positive(t, rep.DirOpsLost)
	assert.False(t, rep.Lossless())

	k, rep := m.Crash(Fault{Kind: Keep, Seed: 1}, 2)
	assert.True(t, rep.Lossless())
	assert.Equal(t, []byte("unsynced data, synced name"), readAll(t, k, "/b"))
	assert.Equal(t, []byte("synced data, unsynced name"), readAll(t, k, "/c"))

	// The crashed-from filesystem is unchanged, and the new one independent.
	write(t, k, "/a", []byte("changed"), true)
	assert.Equal(t, []byte("synced"), readAll(t, m, "/a"))
	assert.Equal(t, []byte("synced"), readAll(t, d, "/a"))
}

func TestRenameIsAtomicInOneDirectory(t *testing.T) {
	for seed := range uint64(40) {
		m := New(seed, Options{})
		write(t, m, "/x.tmp", []byte("new"), true)
		write(t, m, "/x", []byte("old"), true)
		do(t, m, platform.SyncDir{Path: "/"})
		write(t, m, "/x.tmp", []byte("newer"), true)
		do(t, m, platform.Rename{From: "/x.tmp", To: "/x"})
		d, _ := m.Crash(Fault{Kind: Dirs, Seed: seed}, 1)
		got := readAll(t, d, "/x")
		_, err := try(d, platform.Stat{Path: "/x.tmp"})
		if bytes.Equal(got, []byte("newer")) {
			assert.ErrorIs(t, err, fs.ErrNotExist, "seed %d: renamed: the old name is gone", seed)
		} else {
			assert.Equal(t, []byte("old"), got, "seed %d", seed)
			assert.NoError(t, err, "seed %d: not renamed: the tmp file is still there", seed)
		}
	}
}

func TestTornWriteSectors(t *testing.T) {
	data := bytes.Repeat([]byte{0xaa}, 4*SectorSize)
	kinds := map[string]int{}
	for seed := range uint64(50) {
		m := New(1, Options{})
		write(t, m, "/f", bytes.Repeat([]byte{0x11}, 4*SectorSize), true)
		do(t, m, platform.SyncDir{Path: "/"})
		fd := do(t, m, platform.Open{Path: "/f", Flag: os.O_RDWR})
		do(t, m, platform.WriteAt{FD: fd, Data: data})
		d, rep := m.Crash(Fault{Kind: Torn, Seed: seed}, 1)
		got := readAll(t, d, "/f")
		require.Len(t, got, len(data))
		torn := 0
		for s := 0; s < len(got); s += SectorSize {
			sec := got[s : s+SectorSize]
			switch {
			case bytes.Equal(sec, data[:SectorSize]):
				kinds["new"]++
			case bytes.Equal(sec, bytes.Repeat([]byte{0x11}, SectorSize)):
				kinds["old"]++
				torn++
			default:
				kinds["garbage"]++
				torn++
			}
		}
		assert.Positive(t, torn, "seed %d: a torn write tears at least one sector", seed)
		assert.Equal(t, torn, rep.TornSectors)
	}
	assert.Positive(t, kinds["new"])
	assert.Positive(t, kinds["old"])
	assert.Positive(t, kinds["garbage"])
}

func TestExtendLosesNewBytes(t *testing.T) {
	for _, k := range []FaultKind{ExtendZero, ExtendGarbage} {
		m := New(1, Options{})
		write(t, m, "/f", []byte("0123456789"), true)
		do(t, m, platform.SyncDir{Path: "/"})
		fd := do(t, m, platform.Open{Path: "/f", Flag: os.O_RDWR})
		do(t, m, platform.WriteAt{FD: fd, Off: 5, Data: []byte("abcdefghij")})
		d, _ := m.Crash(Fault{Kind: k, Seed: 3}, 1)
		got := readAll(t, d, "/f")
		require.Len(t, got, 15, "%s: the new size is kept", k)
		assert.Equal(t, []byte("0123456789"), got[:10], "%s: bytes inside the old size are old", k)
		if k == ExtendZero {
			assert.Equal(t, make([]byte, 5), got[10:])
		} else {
			assert.NotEqual(t, []byte("fghij"), got[10:])
		}
	}
}

func TestPrefixAndSubsetAreDeterministic(t *testing.T) {
	build := func() *FS {
		m := New(9, Options{})
		fd := do(t, m, platform.Open{Path: "/f", Flag: os.O_RDWR | os.O_CREATE})
		for i := range 20 {
			do(t, m, platform.WriteAt{FD: fd, Off: int64(i * 4), Data: binary.LittleEndian.AppendUint32(nil, uint32(i+1))})
		}
		do(t, m, platform.SyncDir{Path: "/"})
		return m
	}
	for _, k := range []FaultKind{Prefix, Subset} {
		a, ra := build().Crash(Fault{Kind: k, Seed: 5}, 1)
		b, rb := build().Crash(Fault{Kind: k, Seed: 5}, 1)
		assert.Equal(t, readAll(t, a, "/f"), readAll(t, b, "/f"), "%s: same seed, same disk", k)
		assert.Equal(t, ra, rb)
		if k == Prefix {
			got := readAll(t, a, "/f")
			for i := 0; i+4 <= len(got); i += 4 {
				assert.Equal(t, uint32(i/4+1), binary.LittleEndian.Uint32(got[i:]), "a prefix has no holes")
			}
		}
	}
}

func TestInjectors(t *testing.T) {
	m := New(1, Options{Record: true})
	in := Fail(1, Writes(), Action{Kind: ActEIO})
	assert.Equal(t, `(fail :k 1 :when (op "io/write-at") :do eio)`, in.String())
	m.Inject(in)
	fd := do(t, m, platform.Open{Path: "/f", Flag: os.O_RDWR | os.O_CREATE})
	do(t, m, platform.WriteAt{FD: fd, Data: []byte("a")})
	_, err := try(m, platform.WriteAt{FD: fd, Off: 1, Data: []byte("b")})
	assert.ErrorIs(t, err, syscall.EIO)
	var ie *InjectedError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, in.String(), ie.Injector)
	assert.True(t, in.Fired())
	do(t, m, platform.WriteAt{FD: fd, Off: 1, Data: []byte("c")})
	assert.Equal(t, []byte("ac"), readAll(t, m, "/f"), "the failed write wrote nothing")

	// A failed fsync drops the unsynced pages: reads still see them, no
	// later sync makes them durable.
	m.Inject(Fail(0, Syncs(), Action{Kind: ActEIO}))
	_, err = try(m, platform.Fsync{FD: fd})
	assert.ErrorIs(t, err, syscall.EIO)
	do(t, m, platform.Fsync{FD: fd})
	do(t, m, platform.SyncDir{Path: "/"})
	assert.Equal(t, []byte("ac"), readAll(t, m, "/f"))
	d, _ := m.Crash(Fault{Kind: Drop, Seed: 1}, 1)
	assert.Empty(t, readAll(t, d, "/f"))

	m.Inject(Fail(0, And(Writes(), PathContains("/f")), Action{Kind: ActShort, N: 2}))
	n, err := m.Handle(nil, platform.WriteAt{FD: fd, Data: []byte("xyz")})
	assert.ErrorIs(t, err, io.ErrShortWrite)
	assert.Equal(t, 2, n, "a short write answers the bytes it wrote")
	assert.Equal(t, []byte("xy"), readAll(t, m, "/f"))

	m.Inject(Fail(0, Growths(), Action{Kind: ActENOSPC}))
	_, err = try(m, platform.Fallocate{FD: fd, Off: 0, Len: 10})
	assert.ErrorIs(t, err, syscall.ENOSPC)

	m.Inject(Fail(0, Writes(), Action{Kind: ActMisdirect, N: 8}))
	assert.Equal(t, 1, do(t, m, platform.WriteAt{FD: fd, Off: 0, Data: []byte("M")}), "a misdirected write reports success")
	assert.Equal(t, []byte("xy\x00\x00\x00\x00\x00\x00M"), readAll(t, m, "/f"))
	m.Inject(Fail(0, Reads(), Action{Kind: ActMisdirect, N: 8}))
	buf := make([]byte, 1)
	do(t, m, platform.ReadAt{FD: fd, Buf: buf})
	assert.Equal(t, []byte("M"), buf, "a misdirected read reads elsewhere")

	m.Inject(Fail(0, Or(Named(platform.NameRename), Index(1000)), Action{Kind: ActCrash, After: true}))
	write(t, m, "/g", []byte("g"), true)
	_, err = try(m, platform.Rename{From: "/g", To: "/h"})
	assert.ErrorIs(t, err, ErrHalted)
	assert.True(t, m.Halted())
	_, err = try(m, platform.Stat{Path: "/h"})
	assert.ErrorIs(t, err, ErrHalted, "a halted machine answers nothing")
	k, _ := m.Crash(Fault{Kind: Keep, Seed: 1}, 1)
	assert.Equal(t, []byte("g"), readAll(t, k, "/h"), "the crash came after the rename")

	tr := m.Trace()
	require.NotEmpty(t, tr)
	assert.Equal(t, platform.NameOpen, tr[0].Name)
	assert.Contains(t, tr[2].String(), "!! ")
	assert.Equal(t, "(not (path \"x\"))", Not(PathContains("x")).String())
	assert.True(t, Any().Match(Op{}))
}

func TestCrashReleasesLocks(t *testing.T) {
	m := New(1, Options{})
	do(t, m, platform.Lock{Path: "/LOCK"})
	do(t, m, platform.SyncDir{Path: "/"})
	d, _ := m.Crash(Fault{Kind: Drop, Seed: 1}, 2)
	l := do(t, d, platform.Lock{Path: "/LOCK"})
	m.CloseAll()
	do(t, m, platform.Lock{Path: "/LOCK"})
	do(t, d, platform.Close{FD: l})
}

func TestClockAndRandomFromSeed(t *testing.T) {
	a, b, c := New(3, Options{}), New(3, Options{}), New(4, Options{})
	assert.Equal(t, do(t, a, platform.Random{N: 32}), do(t, b, platform.Random{N: 32}))
	assert.NotEqual(t, do(t, a, platform.Random{N: 32}), do(t, c, platform.Random{N: 32}))
	t1, t2 := do(t, a, platform.Clock{}), do(t, a, platform.Clock{})
	assert.True(t, t2.After(t1))
	assert.Equal(t, t1, do(t, b, platform.Clock{}), "same seed, same clock")
}

func TestCorruptAtRest(t *testing.T) {
	m := New(1, Options{})
	write(t, m, "/f", bytes.Repeat([]byte{0xff}, 2*SectorSize), true)
	do(t, m, platform.SyncDir{Path: "/"})
	d, ok := m.Corrupt(BitFlip, "/f", 1)
	require.True(t, ok)
	got := readAll(t, m, "/f")
	assert.Equal(t, byte(0xff)^(1<<d.Bit), got[d.Offset])
	c, _ := m.Crash(Fault{Kind: Drop, Seed: 1}, 1)
	assert.Equal(t, got, readAll(t, c, "/f"), "the damage is durable")
	z, ok := m.Corrupt(ZeroSector, "/f", 2)
	require.True(t, ok)
	assert.Zero(t, z.Offset%SectorSize)
	assert.Equal(t, make([]byte, SectorSize), readAll(t, m, "/f")[z.Offset:z.Offset+SectorSize])
	_, ok = m.Corrupt(BitFlip, "nothing-matches", 1)
	assert.False(t, ok)
}

func TestCloneIsIndependent(t *testing.T) {
	m := New(1, Options{})
	write(t, m, "/f", []byte("one"), true)
	do(t, m, platform.SyncDir{Path: "/"})
	fd := do(t, m, platform.Open{Path: "/f", Flag: os.O_RDWR})
	do(t, m, platform.WriteAt{FD: fd, Data: []byte("two")})
	c := m.Clone(2)
	assert.Equal(t, []byte("two"), readAll(t, c, "/f"), "a clone has the volatile layer too")
	cd, _ := c.Crash(Fault{Kind: Drop, Seed: 1}, 3)
	assert.Equal(t, []byte("one"), readAll(t, cd, "/f"))
	do(t, m, platform.WriteAt{FD: fd, Data: []byte("333")})
	assert.Equal(t, []byte("two"), readAll(t, c, "/f"))
	cfd := do(t, c, platform.Open{Path: "/f", Flag: os.O_RDWR})
	do(t, c, platform.WriteAt{FD: cfd, Data: []byte("444")})
	assert.Equal(t, []byte("333"), readAll(t, m, "/f"))
}

func TestParseFaultKind(t *testing.T) {
	for _, k := range FaultKinds() {
		got, err := ParseFaultKind(k.String())
		require.NoError(t, err)
		assert.Equal(t, k, got)
	}
	_, err := ParseFaultKind("nope")
	assert.Error(t, err)
	assert.True(t, errors.Is(&platform.Error{Err: &InjectedError{Err: syscall.EIO}}, syscall.EIO))
}

// FuzzContent checks the sparse, copy-on-write file bytes against a plain
// byte slice under any sequence of writes, truncations and reservations.
func FuzzContent(f *testing.F) {
	f.Add([]byte{0, 10, 3, 1, 5, 2, 40, 0, 0, 3})
	f.Fuzz(func(t *testing.T, prog []byte) {
		var c content
		var ref []byte
		var shared []content
		for len(prog) >= 3 {
			op, a, b := prog[0]%4, int64(prog[1]), int64(prog[2])
			prog = prog[3:]
			switch op {
			case 0:
				data := bytes.Repeat([]byte{byte(b) | 1}, int(b%17))
				c.apply(fileOp{kind: opWrite, off: a, data: data})
				if need := a + int64(len(data)); need > int64(len(ref)) {
					ref = append(ref, make([]byte, need-int64(len(ref)))...)
				}
				copy(ref[a:], data)
			case 1:
				c.apply(fileOp{kind: opTruncate, size: a})
				if a < int64(len(ref)) {
					ref = ref[:a]
				} else {
					ref = append(ref, make([]byte, a-int64(len(ref)))...)
				}
			case 2:
				c.apply(fileOp{kind: opExtend, size: a})
				if a > int64(len(ref)) {
					ref = append(ref, make([]byte, a-int64(len(ref)))...)
				}
			case 3:
				shared = append(shared, c.share())
			}
			require.Equal(t, int64(len(ref)), c.size)
			require.True(t, bytes.Equal(ref, c.bytes()), "bytes %x, want %x", c.bytes(), ref)
		}
		_ = shared
	})
}
