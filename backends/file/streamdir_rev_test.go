package file

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
)

// readsOf gives, per stream, what reads from every seq (pages of 7)
// give, and the global log from every 13th position, as text.
func readsOf(t *testing.T, e *env, streams []string) map[string]string {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2)) // the same seqs for the store and its replay
	out := make(map[string]string)
	for _, s := range streams {
		var b strings.Builder
		last := uint64(0)
		for from := uint64(1); ; {
			got := must(t, e, ops.Read{Stream: s, From: from, Limit: 1000})
			if len(got.Events) == 0 {
				break
			}
			for _, ev := range got.Events {
				fmt.Fprintf(&b, "%d/%d/%s;", ev.Seq, ev.Pos, ev.Data)
				last = ev.Seq
			}
			from = last + 1
		}
		out[s] = b.String()
		step := max(1, last/200)
		for from := uint64(1); from <= last+1; from += 1 + uint64(rng.IntN(int(step))) {
			got := must(t, e, ops.Read{Stream: s, From: from, Limit: 7})
			var b strings.Builder
			for _, ev := range got.Events {
				fmt.Fprintf(&b, "%d/%d/%s;", ev.Seq, ev.Pos, ev.Data)
			}
			out[fmt.Sprint(s, "@", from)] = b.String()
		}
	}
	for from := 1; ; from += 13 {
		got := must(t, e, ops.ReadAll{From: uint64(from), Limit: 20})
		var b strings.Builder
		for _, ev := range got.Events {
			fmt.Fprintf(&b, "%s/%d/%d/%s;", ev.Stream, ev.Seq, ev.Pos, ev.Data)
		}
		out[fmt.Sprint("all@", from)] = b.String()
		if len(got.Events) == 0 {
			break
		}
	}
	return out
}

// replayReads copies the store, deletes its index files and
// checkpoints, opens the copy (a full replay of the log) and gives its
// reads.
func replayReads(t *testing.T, e *env, streams []string) map[string]string {
	t.Helper()
	to := t.TempDir() + "/replay"
	require.NoError(t, os.CopyFS(to, os.DirFS(e.dir)))
	n := 0
	require.NoError(t, filepath.WalkDir(to, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.HasSuffix(path, idxSuffix) || strings.HasPrefix(d.Name(), ckptPrefix) {
			n++
			return os.Remove(path)
		}
		return nil
	}))
	r := &env{t: t, dir: to, os: e.os}
	r.open(Options{SegmentSize: minSegmentSize})
	defer r.close()
	return readsOf(t, r, streams)
}

// A random workload over many small segments (appends of one or more
// events, soft deletes and appends after them, retention limits,
// compaction, reopens, checkpoints as the log grows) reads the same
// from every seq of every stream as a full replay of its log with the
// index files and checkpoints gone, and as a model of the appends.
func TestStreamDirRandomAgainstReplay(t *testing.T) {
	for _, collide := range []bool{false, true} {
		t.Run(fmt.Sprint("collide=", collide), func(t *testing.T) {
			if collide {
				old := dirHash
				dirHash = func(name string) uint64 { return uint64(len(name) % 3) }
				t.Cleanup(func() { dirHash = old })
			}
			rng := rand.New(rand.NewPCG(7, uint64(len(fmt.Sprint(collide)))))
			opts := Options{SegmentSize: minSegmentSize, CheckpointBytes: 24 << 10}
			e := newEnv(t, opts)
			var streams []string
			for i := range 13 {
				streams = append(streams, fmt.Sprintf("st-%s%d", strings.Repeat("x", i%4), i))
			}
			model := make(map[string][]string) // every event appended, by stream
			retained := false
			check := func(what string) {
				t.Helper()
				got := readsOf(t, e, streams)
				if !retained {
					for _, s := range streams {
						var b strings.Builder
						for _, ev := range strings.Split(got[s], ";") {
							if f := strings.SplitN(ev, "/", 3); len(f) == 3 {
								b.WriteString(f[2] + ";")
							}
						}
						require.Equal(t, strings.Join(model[s], ";")+map[bool]string{true: ";"}[len(model[s]) > 0], b.String(), "%s: stream %s", what, s)
					}
				}
				want := replayReads(t, e, streams)
				require.Equal(t, len(want), len(got), what)
				for k, w := range want {
					require.Equal(t, w, got[k], "%s: read %s", what, k)
				}
			}
			for round := range 6 {
				for i := range 350 {
					s := streams[rng.IntN(len(streams))]
					if rng.IntN(5) == 0 {
						s = streams[0] // one hot stream, in most segments
					}
					switch k := rng.IntN(100); {
					case k < 2 && round >= 3:
						must(t, e, ops.StreamDelete{Stream: s})
						retained = true
					case k < 3 && round >= 4:
						must(t, e, ops.StreamMetaWrite{Stream: s, Meta: ops.StreamMeta{MaxCount: uint64(5 + rng.IntN(20))}})
						retained = true
					case k < 4 && round >= 4:
						// An age limit all events pass, or none: the same
						// for the store and its replay whenever read.
						age := map[bool]time.Duration{true: time.Nanosecond, false: time.Hour}[rng.IntN(4) == 0]
						must(t, e, ops.StreamMetaWrite{Stream: s, Meta: ops.StreamMeta{MaxAge: age, MaxCount: uint64(rng.IntN(2) * 30)}})
						retained = true
					default:
						n := 1 + rng.IntN(3)
						if rng.IntN(10) == 0 {
							n = 20 + rng.IntN(40)
						}
						var evs []ops.EventData
						for j := range n {
							evs = append(evs, ops.EventData{Type: "t", Data: fmt.Appendf(nil, "%d.%d.%d-%0*d", round, i, j, 20+rng.IntN(200), 0)})
						}
						must(t, e, ops.Append{Stream: s, Events: evs})
						for _, ev := range evs {
							model[s] = append(model[s], string(ev.Data))
						}
					}
				}
				if round >= 3 {
					_, err := e.s.Compact(e.p(), CompactOptions{})
					require.NoError(t, err)
				}
				check(fmt.Sprint("round ", round, " live"))
				e.reopen(opts)
				require.NotEmpty(t, e.s.st.indexed)
				walked := 0
				for _, x := range e.s.st.streams {
					if x.dir != 0 {
						walked++
					}
				}
				require.Greater(t, walked, len(streams)/2, "streams with a directory chain")
				t.Logf("round %d: %d index files, %d events", round, len(e.s.st.indexed), e.s.st.lastPos)
				check(fmt.Sprint("round ", round, " reopened"))
			}
			e.close()
			rep, err := Verify(e.p(), e.dir)
			require.NoError(t, err)
			require.Empty(t, rep.IndexesBad)
			// Every other index file gone, of compacted segments too:
			// each is rebuilt from its segment, back-links from the
			// files before it (rebuilt in turn), and reads as before.
			e.open(opts)
			want := readsOf(t, e, streams)
			idx := slices.Clone(e.s.st.indexed)
			e.close()
			for i, x := range idx {
				if i%2 == 1 || i == len(idx)-1 {
					require.NoError(t, os.Remove(filepath.Join(e.dir, logDir, idxName(x.seg))))
				}
			}
			e.open(opts)
			got := readsOf(t, e, streams)
			for k, w := range want {
				require.Equal(t, w, got[k], "read %s with index files gone", k)
			}
			e.close()
		})
	}
}

// A damaged, cut or missing file of version 3 (in the middle of the
// chains, or the newest) is rebuilt from the log with its back-links:
// the store reads as a full replay does, and Verify names the file.
func TestStreamDirDamageRebuilt(t *testing.T) {
	opts := Options{SegmentSize: minSegmentSize, CheckpointBytes: 24 << 10}
	streams := []string{"s0", "s1", "s2", "s3", "s4", "s5", "s6"}
	base, _ := indexedStore(t, 2500)
	base.close()
	for _, c := range []string{"missing", "cut", "header", "dirblock", "nameblock", "newest-missing", "two-missing"} {
		t.Run(c, func(t *testing.T) {
			e := &env{t: t, dir: t.TempDir() + "/data", os: base.os}
			require.NoError(t, os.CopyFS(e.dir, os.DirFS(base.dir)))
			e.open(opts)
			want := readsOf(t, e, streams)
			idx := slices.Clone(e.s.st.indexed)
			e.close()
			require.Greater(t, len(idx), 4)
			mid := idx[len(idx)/2]
			path := func(seg uint32) string { return filepath.Join(e.dir, logDir, idxName(seg)) }
			b, err := os.ReadFile(path(mid.seg))
			require.NoError(t, err)
			switch c {
			case "missing":
				require.NoError(t, os.Remove(path(mid.seg)))
			case "two-missing":
				require.NoError(t, os.Remove(path(mid.seg)))
				require.NoError(t, os.Remove(path(idx[len(idx)/2+1].seg)))
			case "newest-missing":
				require.NoError(t, os.Remove(path(idx[len(idx)-1].seg)))
			case "cut":
				require.NoError(t, os.WriteFile(path(mid.seg), b[:len(b)/2], 0o644))
			case "header":
				b[20] ^= 1
				require.NoError(t, os.WriteFile(path(mid.seg), b, 0o644))
			case "dirblock":
				b[idxHeader+int(mid.dirFirst())*idxBlockSize+24] ^= 1 // the first entry's back-link
				require.NoError(t, os.WriteFile(path(mid.seg), b, 0o644))
			case "nameblock":
				b[idxHeader+int(mid.nameFirst())*idxBlockSize+1] ^= 1
				require.NoError(t, os.WriteFile(path(mid.seg), b, 0o644))
			}
			rep, err := Verify(e.p(), e.dir)
			require.NoError(t, err)
			require.NotEmpty(t, rep.IndexesBad, "Verify finds the damage")
			e.open(opts)
			got := readsOf(t, e, streams)
			for k, w := range want {
				require.Equal(t, w, got[k], "read %s", k)
			}
			must(t, e, ops.Append{Stream: "s0", Events: evs("x")})
			e.reopen(opts)
			got = readsOf(t, e, streams)
			for k, w := range want {
				if !strings.HasPrefix(k, "s0") && !strings.HasPrefix(k, "all") {
					require.Equal(t, w, got[k], "read %s after the next checkpoint", k)
				}
			}
			e.close()
		})
	}
}

// A store of checkpoint format 10, whose index files are of version 2
// and whose streams name runs in them, opens from that checkpoint and
// reads whole; the checkpoints after it write files of version 3 for
// the segments sealed since, and the store reads across both kinds as a
// full replay does, after a reopen too, and verifies.
func TestStreamDirFromFormat10(t *testing.T) {
	opts := Options{SegmentSize: minSegmentSize, CheckpointBytes: 24 << 10}
	streams := []string{"s0", "s1", "s2", "s3", "s4", "s5", "s6"}
	e, _ := indexedStore(t, 2500)
	want := readsOf(t, e, streams)
	id := e.s.id
	e.close()
	ld := filepath.Join(e.dir, logDir)
	lsns, err := listCheckpoints(e.p(), ld)
	require.NoError(t, err)
	for _, old := range lsns[:len(lsns)-1] {
		require.NoError(t, os.Remove(filepath.Join(ld, ckptName(old))))
	}
	path := filepath.Join(ld, ckptName(lsns[len(lsns)-1]))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	r, ck, err := decodeCheckpoint(b, id)
	require.NoError(t, err)
	require.Greater(t, len(ck.indexed), 3)
	asRuns(t, ld, ck)
	p := e.p()
	for i := range ck.indexed {
		x := &ck.indexed[i]
		require.True(t, x.dir)
		sp := filepath.Join(ld, segName(uint64(x.seg)))
		fd, err := openFile(p, sp, os.O_RDONLY)
		require.NoError(t, err)
		v2, got, _, err := indexSegment(p, id, &segment{id: uint64(x.seg), path: sp, fd: fd}, true)
		require.NoError(t, closeFile(p, fd))
		require.NoError(t, err)
		require.Equal(t, []any{x.nPos, x.nStream, x.nID, x.firstPos}, []any{got.nPos, got.nStream, got.nID, got.firstPos})
		require.NoError(t, os.WriteFile(filepath.Join(ld, idxName(x.seg)), v2, 0o644))
		x.hdrCRC = got.hdrCRC
		x.dir, x.nDir, x.nNameBlk = false, 0, 0
	}
	v := viewOf(r, ck)
	v.version = ckptVersionKvTiers
	require.NoError(t, os.WriteFile(path, v.encode(id), 0o644))

	e.open(opts)
	require.Equal(t, lsns[len(lsns)-1], e.s.Recovery().Checkpoint, "opened from the format 10 checkpoint")
	for _, x := range e.s.st.indexed {
		require.False(t, x.dir)
	}
	got := readsOf(t, e, streams)
	for k, w := range want {
		require.Equal(t, w, got[k], "read %s of the format 10 store", k)
	}
	n10 := len(e.s.st.indexed)
	for i := range 1500 {
		must(t, e, ops.Append{Stream: streams[i%len(streams)], Events: evs(fmt.Sprintf("more %d %0100d", i, 0))})
	}
	check := func(what string) {
		t.Helper()
		got := readsOf(t, e, streams)
		want := replayReads(t, e, streams)
		for k, w := range want {
			require.Equal(t, w, got[k], "%s: read %s", what, k)
		}
	}
	check("live")
	e.reopen(opts)
	require.Greater(t, len(e.s.st.indexed), n10+1)
	for i, x := range e.s.st.indexed {
		require.Equal(t, i >= n10, x.dir, "segment %d", x.seg)
	}
	for name, x := range e.s.st.streams {
		require.NotEmpty(t, x.runs, name)
		require.NotZero(t, x.dir, name)
	}
	check("reopened")
	e.close()
	rep, err := Verify(e.p(), e.dir)
	require.NoError(t, err)
	require.Empty(t, rep.IndexesBad)
}

// forgeLink sets the back-link of stream name's entry in the file of
// segment seg to prev, with the block's checksum made right (the header
// left as it was, as the checkpoint names it).
func forgeLink(t *testing.T, e *env, x segIdx, name string, prev uint32) {
	t.Helper()
	path := filepath.Join(e.dir, logDir, idxName(x.seg))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	_, i, ok, err := dirFind(fileBlocks(b, &x), &x, name, dirHash(name), false)
	require.NoError(t, err)
	require.True(t, ok)
	o := int(x.dirOff(i))
	binary.LittleEndian.PutUint32(b[o+24:], prev)
	blk := x.dirFirst() + i/dirPerBlock
	bo := idxHeader + int(blk)*idxBlockSize
	binary.LittleEndian.PutUint32(b[bo+idxBlockSize-4:], blockSum(x.seg, blk, b[bo:bo+idxBlockSize-4]))
	require.NoError(t, os.WriteFile(path, b, 0o644))
}

// A back-link whose block checksum is right but which skips a segment
// holding the stream (to an older one that holds it too) is found as
// the chain is walked: a read across the skipped segment is ErrCorrupt
// naming the file, never events with the skipped ones missing.
func TestStreamDirSkippingLink(t *testing.T) {
	opts := Options{SegmentSize: minSegmentSize, CheckpointBytes: 48 << 10}
	e, want := indexedStore(t, 3000)
	x := e.s.st.streams["s0"]
	var chain []segIdx
	require.NoError(t, e.s.walkStream(e.p(), e.s.st.indexed, "s0", x.dir, func(ix *segIdx, d dirEnt) (bool, error) {
		chain = append(chain, *ix)
		return false, nil
	}))
	require.GreaterOrEqual(t, len(chain), 3)
	var n int
	for _, ev := range want {
		if ev.Stream == "s0" {
			n++
		}
	}
	e.close()
	forgeLink(t, e, chain[0], "s0", chain[2].seg)
	e.open(opts)
	got, err := perform(e, ops.Read{Stream: "s0", Limit: n + 1})
	if err == nil {
		require.Len(t, got.Events, n, "a read of the whole stream gives every event or an error")
		for i, ev := range got.Events {
			require.Equal(t, uint64(i+1), ev.Seq)
		}
		return
	}
	require.ErrorIs(t, err, ErrCorrupt)
	require.Contains(t, err.Error(), idxName(chain[0].seg), "the error names the file the walk began at")
}

// Under the same forged link, the time of an event (which age limits
// ask of the leader) is its commit's, or ErrCorrupt naming where the
// link led: never the time of another record.
func TestStreamDirSkippingLinkEventTime(t *testing.T) {
	opts := Options{SegmentSize: minSegmentSize, CheckpointBytes: 48 << 10}
	e, _ := indexedStore(t, 3000)
	x := e.s.st.streams["s0"]
	var chain []segIdx
	var ents []dirEnt
	require.NoError(t, e.s.walkStream(e.p(), e.s.st.indexed, "s0", x.dir, func(ix *segIdx, d dirEnt) (bool, error) {
		chain, ents = append(chain, *ix), append(ents, d)
		return false, nil
	}))
	require.GreaterOrEqual(t, len(chain), 3)
	// The seqs of the segment the link will skip, and their times.
	all := must(t, e, ops.Read{Stream: "s0", From: ents[1].seq, Limit: int(ents[0].seq - ents[1].seq)})
	require.NotEmpty(t, all.Events)
	e.close()
	forgeLink(t, e, chain[0], "s0", chain[2].seg)
	e.open(opts)
	for _, ev := range all.Events {
		at, err := e.s.eventTime(e.p(), "s0", ev.Seq)
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
			continue
		}
		require.Equal(t, ev.At, at, "seq %d", ev.Seq)
	}
}

// With Options.IndexCacheBytes negative (keep no index blocks) the
// chain steps are not kept either: their cache is a quarter of that
// option, not of the default.
func TestStreamDirNoStepCacheWithoutIndexCache(t *testing.T) {
	e, want := indexedStore(t, 2000)
	e.reopen(Options{SegmentSize: minSegmentSize, CheckpointBytes: 48 << 10, IndexCacheBytes: -1})
	checkReads(t, e, want)
	e.s.steps.mu.Lock()
	n := len(e.s.steps.m)
	e.s.steps.mu.Unlock()
	require.Zero(t, n, "chain steps kept with IndexCacheBytes negative")
}
