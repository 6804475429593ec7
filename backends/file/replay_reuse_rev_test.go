package file

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
)

// reuseModelEvent is what the model keeps of one stored event.
type reuseModelEvent struct {
	id   uuid.UUID
	data []byte
}

// reuseStore writes a store of commits of varying parts, streams (names
// of 1 to 200 bytes) and sizes (some events near the 1 MiB limit, so
// that a commit is longer than the read window and records span its
// edges), with kv-only commits between, and no checkpoint: what a reopen
// replays as its tail. It gives the directory as a crash leaves it, the
// model of every stream, and the commits written.
func reuseStore(t *testing.T, seed uint64) (string, map[string][]reuseModelEvent, []string, int) {
	opts := Options{SegmentSize: 8 << 20, CheckpointBytes: -1}
	e := newEnv(t, opts)
	rng := rand.New(rand.NewPCG(seed, 12))
	var names []string
	for i := range 24 {
		names = append(names, fmt.Sprintf("s%d-%s", i, strings.Repeat("n", rng.IntN(200))))
	}
	model := map[string][]reuseModelEvent{}
	commits := 0
	for i := range 200 {
		if i%7 == 3 {
			must(t, e, ops.KvPut{Key: fmt.Sprintf("k%d", i%5), Value: []byte{byte(i)}})
			commits++
			continue
		}
		var c ops.Commit
		for _, j := range rng.Perm(len(names))[:1+rng.IntN(4)] {
			a := ops.Append{Stream: names[j]}
			for range 1 + rng.IntN(6) {
				size := rng.IntN(300)
				if rng.IntN(60) == 0 {
					size = ops.MaxDataBytes - rng.IntN(4096)
				}
				data := make([]byte, size)
				for k := range data {
					data[k] = byte(rng.Uint32())
				}
				id := uuid.New()
				a.Events = append(a.Events, ops.EventData{ID: id, Type: "t", Data: data})
				model[names[j]] = append(model[names[j]], reuseModelEvent{id: id, data: data})
			}
			c.Appends = append(c.Appends, a)
		}
		must(t, e, c)
		commits++
	}
	crash := filepath.Join(t.TempDir(), "data")
	copyDir(t, e.dir, crash)
	return crash, model, names, commits
}

// checkReuseModel reads every stream of the store at dir and checks it
// against the model, event by event, and that each event's ID is known
// as the event's own (an append reusing it in its stream names its seq).
func checkReuseModel(t *testing.T, dir string, model map[string][]reuseModelEvent) {
	e := &env{t: t, dir: dir, os: newEnv(t, Options{}).os}
	e.open(Options{SegmentSize: 8 << 20, CheckpointBytes: -1})
	defer e.close()
	for name, want := range model {
		var got []ops.Event
		for from := uint64(1); ; {
			r := must(t, e, ops.Read{Stream: name, From: from, Limit: 50})
			got = append(got, r.Events...)
			if len(r.Events) == 0 || r.Events[len(r.Events)-1].Seq >= r.Head {
				break
			}
			from = r.Events[len(r.Events)-1].Seq + 1
		}
		require.Len(t, got, len(want), "events of %.12s", name)
		for i, ev := range got {
			require.Equal(t, name, ev.Stream)
			require.Equal(t, uint64(i+1), ev.Seq, "seq of event %d of %.12s", i, name)
			require.Equal(t, want[i].id, ev.ID, "ID of event %d of %.12s", i, name)
			require.True(t, slices.Equal(want[i].data, ev.Data), "data of event %d of %.12s", i, name)
		}
		for i, ev := range want {
			_, err := perform(e, ops.Append{Stream: name, Events: []ops.EventData{{ID: uuid.New(), Type: "t"}, {ID: ev.id, Type: "t"}}})
			var dup *ops.DuplicateIDError
			require.True(t, errors.As(err, &dup), "the ID of event %d of %.12s after recovery: %v", i, name, err)
			require.Equal(t, uint64(i+1), dup.Seq, "the seq the ID of event %d of %.12s names", i, name)
		}
	}
}

// Replay decodes every record of the tail into one reused commitRec and
// reads all segments through one window: a tail of commits of varying
// parts, streams and sizes recovers every event under its own stream,
// seq, ID and data, as the model of what was written has them.
func TestReplayReusedRecordMatchesModel(t *testing.T) {
	dir, model, _, commits := reuseStore(t, 1)
	e := &env{t: t, dir: dir, os: newEnv(t, Options{}).os}
	e.open(Options{SegmentSize: 8 << 20, CheckpointBytes: -1})
	rep := e.s.Recovery()
	assert.Equal(t, commits, rep.Commits, "every commit replayed as the tail")
	assert.Greater(t, rep.Segments, 1)
	assert.Nil(t, rep.Truncated)
	e.close()
	checkReuseModel(t, dir, model)
}

// A torn tail inside a commit longer than the read window, cut at
// several points (the frame, the first window, past it), is cut as a
// torn tail and
// every commit before it recovers as written.
func TestReplayTornLongRecord(t *testing.T) {
	dir, model, names, _ := reuseStore(t, 2)
	// One more commit of two events near the limit, its record more than
	// twice the window, written last.
	e := &env{t: t, dir: dir, os: newEnv(t, Options{}).os}
	e.open(Options{SegmentSize: 8 << 20, CheckpointBytes: -1})
	big := ops.Append{Stream: names[0]}
	for range 3 {
		data := make([]byte, ops.MaxDataBytes)
		for k := range data {
			data[k] = byte(k%251 + 1)
		}
		big.Events = append(big.Events, ops.EventData{ID: uuid.New(), Type: "t", Data: data})
	}
	start := e.s.off
	must(t, e, big)
	seg, end := e.s.active.path, e.s.off
	crash := filepath.Join(t.TempDir(), "data")
	copyDir(t, e.dir, crash)
	e.close()
	for _, cut := range []int64{start + 10, start + readWindow - 7, start + readWindow + 100, start + 2*readWindow + 3, start + 3*readWindow - 5} {
		t.Run(fmt.Sprint(cut-start), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			copyDir(t, crash, dir)
			path := filepath.Join(dir, rel(e.dir, seg))
			// A torn write: the record's bytes from cut on never reached
			// the disk (the preallocated segment keeps its zeros).
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			clear(b[cut:end])
			require.NoError(t, os.WriteFile(path, b, 0o644))
			f := &env{t: t, dir: dir, os: newEnv(t, Options{}).os}
			f.open(Options{SegmentSize: 8 << 20, CheckpointBytes: -1})
			rep := f.s.Recovery()
			require.NotNil(t, rep.Truncated, "the cut record is a torn tail")
			f.close()
			checkReuseModel(t, dir, model)
		})
	}
}
