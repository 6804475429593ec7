package stage_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/backendtest"
	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/backends/mem"
	"rose-ash.com/persist/backends/postgres"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
	"rose-ash.com/persist/transfer"
	"rose-ash.com/persist/transfer/stage"
)

// manualClock is a clock a test sets; with a step, every reading moves
// it on by the step, as a long walk of a store sees time pass.
type manualClock struct{ ns, step atomic.Int64 }

func (c *manualClock) set(t time.Time) { c.ns.Store(t.UnixNano()) }
func (c *manualClock) now() time.Time {
	return time.Unix(0, c.ns.Add(c.step.Load())).UTC()
}
func newManualClock() *manualClock { c := &manualClock{}; c.set(backendtest.Epoch); return c }

// fillRetained writes a store whose streams have every kind of state:
// max-count, truncate-before, max-age, soft and hard deletes, one stream
// revived after its delete, metadata on a stream never written and a
// tombstone reserving a name; one event every ten minutes of mc.
func fillRetained(t testing.TB, h effect.Handler, mc *manualClock) {
	t.Helper()
	p := effect.Handle(context.Background(), h)
	do := func(op effect.Effect) {
		t.Helper()
		_, err := h.Handle(p, op)
		require.NoError(t, err, "%s", op.EffectName())
	}
	names := []string{"count", "trunc", "soft", "hard", "revived", "plain", "aged"}
	for i := range 42 {
		mc.set(backendtest.Epoch.Add(time.Duration(i) * 10 * time.Minute))
		do(ops.Append{Stream: names[i%len(names)], Events: []ops.EventData{{Type: "t", Data: []byte{byte(i)}}}})
	}
	do(ops.StreamMetaWrite{Stream: "count", Meta: ops.StreamMeta{MaxCount: 2}})
	do(ops.StreamMetaWrite{Stream: "trunc", Meta: ops.StreamMeta{TruncateBefore: 4}})
	do(ops.StreamMetaWrite{Stream: "aged", Meta: ops.StreamMeta{MaxAge: 3 * time.Hour}})
	do(ops.StreamDelete{Stream: "soft"})
	do(ops.StreamDelete{Stream: "hard", Hard: true})
	do(ops.StreamMetaWrite{Stream: "revived", Meta: ops.StreamMeta{MaxCount: 3}})
	do(ops.StreamDelete{Stream: "revived"})
	do(ops.Append{Stream: "revived", Events: []ops.EventData{{Type: "t", Data: []byte("back")}}})
	do(ops.Append{Stream: "plain", Events: []ops.EventData{{Type: "t", Data: []byte("last")}}})
	do(ops.StreamMetaWrite{Stream: "unwritten", Meta: ops.StreamMeta{MaxCount: 9}})
	do(ops.StreamDelete{Stream: "reserved", Hard: true})
	do(ops.KvPut{Key: "k", Value: []byte("v")})
	do(ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "plain", Version: 1, Seq: 3, Value: []byte("s")}})
	// Kv history: a key overwritten past what the history keeps, one
	// overwritten, one deleted and written again, one deleted for good; snapshot generations: 3 kept of 5, and the newest
	// of 4 written keeping 1.
	for i := range ops.DefaultKvHistory + 2 { // two versions dropped: the history is compacted
		do(ops.KvPut{Key: "many", Value: []byte{byte('a' + i)}})
	}
	for i := range 4 {
		do(ops.KvPut{Key: "over", Value: []byte{byte('0' + i)}})
	}
	do(ops.KvPut{Key: "back", Value: []byte("1")})
	do(ops.KvDelete{Key: "back"})
	do(ops.KvDelete{Key: "never"})
	do(ops.KvPut{Key: "back", Value: []byte("2")})
	do(ops.KvPut{Key: "gone", Value: []byte("x")})
	do(ops.KvDelete{Key: "gone"})
	for i := range 5 {
		do(ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "kept", Version: 1, Seq: uint64(i), Value: []byte{byte(i)}}, Keep: 3})
	}
	for i := range 4 {
		do(ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "one", Version: 2, Seq: uint64(i), Value: []byte{byte(i)}}})
	}
}

// historyView is what a store answers of its kv history and snapshot
// generations.
func historyView(t *testing.T, h effect.Handler) []any {
	t.Helper()
	p := effect.Handle(context.Background(), h)
	var out []any
	for _, k := range []string{"k", "many", "over", "back", "gone", "never"} {
		r, err := effect.Perform(p, ops.KvHistory{Key: k})
		require.NoError(t, err)
		out = append(out, r)
	}
	for _, n := range []string{"plain", "kept", "one"} {
		r, err := effect.Perform(p, ops.SnapshotGenerations{Name: n})
		require.NoError(t, err)
		out = append(out, r)
		for g := uint64(1); g <= 5; g++ {
			r, err := effect.Perform(p, ops.SnapshotRead{Name: n, Generation: g})
			require.NoError(t, err)
			out = append(out, r)
		}
	}
	return out
}

// retainedSource opens a store of the kind named, on a clock the test
// sets, fills it, and gives it as a migration source with its Clock.
func retainedSource(t *testing.T, kind string) (transfer.Source, *manualClock) {
	t.Helper()
	ctx := context.Background()
	mc := newManualClock()
	clk := &transfer.Clock{Fallback: mc.now}
	var src transfer.Source
	switch kind {
	case "mem":
		s := mem.New(mem.WithClock(clk.Now))
		t.Cleanup(func() { _ = s.Close() })
		fillRetained(t, s, mc)
		src = transfer.NewGate(s).Source()
	case "file":
		osh := &platform.OS{Now: clk.Now}
		st, err := file.Open(effect.Handle(ctx, osh), t.TempDir(), file.Options{})
		require.NoError(t, err)
		s := &stage.FileStore{Store: st, OS: []effect.Handler{osh}}
		t.Cleanup(func() { _ = s.Close() })
		fillRetained(t, s, mc)
		src = transfer.NewGate(s).Source()
	case "postgres":
		s, err := postgres.Open(ctx, testDSN(), postgres.WithSchema(pgSchema(t)), postgres.WithClock(clk.Now))
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		fillRetained(t, s, mc)
		src = stage.PostgresSource(s, testDSN())
	}
	src.Clock = clk
	return src, mc
}

func stagedTarget(t *testing.T, kind string) *stage.Staged {
	t.Helper()
	ctx := context.Background()
	var st *stage.Staged
	var err error
	switch kind {
	case "mem":
		st = stage.Mem()
	case "file":
		st, err = stage.File(ctx, filepath.Join(t.TempDir(), "moved"), file.Options{})
	case "postgres":
		st, err = stage.Postgres(ctx, testDSN(), pgSchema(t))
	}
	require.NoError(t, err)
	return st
}

// storeView is what a store answers of its retention: the visible log,
// and each stream's metadata and head.
func storeView(t *testing.T, h effect.Handler) ([]ops.Event, map[string]ops.StreamMetaResult) {
	t.Helper()
	p := effect.Handle(context.Background(), h)
	var evs []ops.Event
	for from := uint64(1); ; {
		r, err := effect.Perform(p, ops.ReadAll{From: from})
		require.NoError(t, err)
		evs = append(evs, r.Events...)
		if r.Next > r.Head || r.Next <= from {
			break
		}
		from = r.Next
	}
	meta := map[string]ops.StreamMetaResult{}
	for _, name := range []string{"count", "trunc", "soft", "hard", "revived", "plain", "aged", "unwritten", "reserved"} {
		m, err := effect.Perform(p, ops.StreamMetaRead{Stream: name})
		require.NoError(t, err)
		m.StreamState.Deleted = m.StreamState.Absent(m.Head) // a revived stream's mark is not carried
		meta[name] = m
	}
	return evs, meta
}

// TestMigrateRetained migrates a store with hidden events between every
// pair of backends: positions, seqs, heads and states survive, what was
// hidden stays hidden, and the moved store goes on numbering where the
// source did and refuses what the source refused.
func TestMigrateRetained(t *testing.T) {
	kinds := []string{"mem", "file", "postgres"}
	for _, from := range kinds {
		for _, to := range kinds {
			t.Run(from+"-"+to, func(t *testing.T) {
				ctx := context.Background()
				src, mc := retainedSource(t, from)
				st := stagedTarget(t, to)
				mc.set(backendtest.Epoch.Add(7 * time.Hour))
				sum, err := transfer.Migrate(ctx, src, st.Target(), transfer.MigrateOptions{MovedTo: "elsewhere"})
				if err != nil {
					_ = st.Abort()
					require.NoError(t, err)
				}
				assert.Equal(t, uint64(44), sum.LastPos)
				assert.Equal(t, uint64(4+3+6+6+6+3), sum.Counts.Hidden, "count, trunc, soft, hard, revived and aged hide")

				// Both seen at one time of the source's clock.
				st.Clock.Hold(mc.now())
				defer st.Clock.Release()
				wantEvs, wantMeta := storeView(t, src.Handler)
				gotEvs, gotMeta := storeView(t, st.Backend)
				assert.Equal(t, wantEvs, gotEvs, "the visible log")
				assert.Equal(t, wantMeta, gotMeta, "stream heads and states")
				assert.Equal(t, historyView(t, src.Handler), historyView(t, st.Backend), "kv history and snapshot generations")
				require.NoError(t, src.Unfence(ctx))

				p := effect.Handle(ctx, st.Backend)
				r, err := effect.Perform(p, ops.Append{Stream: "plain", Events: []ops.EventData{{Type: "after"}}})
				require.NoError(t, err)
				assert.Equal(t, uint64(45), r.FirstPos)
				assert.Equal(t, wantMeta["plain"].Head+1, r.FirstSeq)
				_, err = effect.Perform(p, ops.Append{Stream: "hard", Events: []ops.EventData{{Type: "after"}}})
				assert.ErrorIs(t, err, ops.ErrStreamDeleted)
				_, err = effect.Perform(p, ops.Append{Stream: "reserved", Events: []ops.EventData{{Type: "after"}}})
				assert.ErrorIs(t, err, ops.ErrStreamDeleted)
				r, err = effect.Perform(p, ops.Append{Stream: "soft", Events: []ops.EventData{{Type: "after"}}})
				require.NoError(t, err)
				assert.Equal(t, wantMeta["soft"].Head+1, r.FirstSeq, "a soft-deleted stream numbers on")
				require.NoError(t, st.Abort())
			})
		}
	}
}

// TestMigrateRetainedUnderWriter migrates a store while a writer appends
// to a stream whose max-count hides more with each write, and another
// stream is limited and one deleted: the copy follows what the limits
// hide as it goes, and nothing acknowledged is lost or duplicated.
func TestMigrateRetainedUnderWriter(t *testing.T) {
	ctx := context.Background()
	src := mem.New()
	defer src.Close()
	const before = 5000
	seed(t, src, before)
	p := effect.Handle(ctx, src)
	for _, op := range []effect.Effect{
		ops.StreamMetaWrite{Stream: "live/0", Meta: ops.StreamMeta{MaxCount: 5}},
		ops.StreamMetaWrite{Stream: "seed/100", Meta: ops.StreamMeta{MaxCount: 7}},
		ops.StreamDelete{Stream: "seed/200"},
	} {
		_, err := src.Handle(p, op)
		require.NoError(t, err)
	}
	gate := transfer.NewGate(src)
	dir := filepath.Join(t.TempDir(), "moved")
	st, err := stage.File(ctx, dir, file.Options{})
	require.NoError(t, err)
	w := newWriter()
	go w.run(gate)
	for w.ackedCount() < 200 {
		time.Sleep(time.Millisecond)
	}
	mctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	sum, err := transfer.Migrate(mctx, gate.Source(), st.Target(), transfer.MigrateOptions{MovedTo: dir, Lag: 100})
	if err != nil {
		_ = st.Abort()
		w.next <- src
		close(w.stop)
		<-w.done
		require.NoError(t, err)
	}
	dst, err := st.Publish(ctx)
	require.NoError(t, err)
	defer dst.Close()
	w.next <- dst
	at := w.ackedCount()
	for w.ackedCount() < at+100 {
		time.Sleep(time.Millisecond)
	}
	close(w.stop)
	require.NoError(t, <-w.done)
	t.Logf("migrated %d events and %d hidden positions in %d rounds; fenced at %d", sum.Counts.Events, sum.Counts.Hidden, sum.Rounds, sum.AtFence)
	assert.NotZero(t, sum.Counts.Hidden)

	// Every acknowledged write of the unlimited streams once, the last
	// five of live/0, and positions as the writer was told.
	q := effect.Handle(ctx, dst)
	seen := map[string][]ops.Event{}
	for from := uint64(1); ; {
		r, err := effect.Perform(q, ops.ReadAll{From: from, Limit: ops.MaxPage})
		require.NoError(t, err)
		for _, e := range r.Events {
			if e.Type == "w" {
				seen[e.Stream] = append(seen[e.Stream], e)
			}
		}
		if r.Next > r.Head || r.Next <= from {
			break
		}
		from = r.Next
	}
	w.mu.Lock()
	acked := append([]uuid.UUID(nil), w.acked...)
	w.mu.Unlock()
	byStream := map[string][]uuid.UUID{}
	for _, id := range acked {
		i := binary.BigEndian.Uint64(id[8:]) &^ (1 << 63) // writerID's i
		name := fmt.Sprintf("live/%d", i%3)
		byStream[name] = append(byStream[name], id)
	}
	for _, name := range []string{"live/1", "live/2"} {
		var got []uuid.UUID
		for _, e := range seen[name] {
			got = append(got, e.ID)
		}
		assert.Equal(t, byStream[name], got, name)
	}
	l0 := byStream["live/0"]
	require.Len(t, seen["live/0"], 5)
	for i, e := range seen["live/0"] {
		assert.Equal(t, l0[len(l0)-5+i], e.ID)
		assert.Equal(t, uint64(len(l0)-5+i+1), e.Seq)
	}
	r, err := effect.Perform(q, ops.Read{Stream: "seed/200"})
	require.NoError(t, err)
	assert.Empty(t, r.Events, "the deleted stream stays deleted")
}

// TestExportHoldsItsTimeCut exports a store whose max-age hides more with
// every reading of its clock (a minute passes at each): held at the
// export's start, the export is one cut, and it imports into every
// backend with the digest the export gives; the visible events are those
// younger than the max-age at the trailer's time.
func TestExportHoldsItsTimeCut(t *testing.T) {
	ctx := context.Background()
	mc := newManualClock()
	clk := &transfer.Clock{Fallback: mc.now}
	src := mem.New(mem.WithClock(clk.Now))
	defer src.Close()
	p := effect.Handle(ctx, src)
	for i := range 120 {
		mc.set(backendtest.Epoch.Add(time.Duration(i) * 30 * time.Second))
		_, err := effect.Perform(p, ops.Append{Stream: []string{"aged", "plain"}[i%2], Events: []ops.EventData{{Type: "t", Data: []byte{byte(i)}}}})
		require.NoError(t, err)
	}
	_, err := effect.Perform(p, ops.StreamMetaWrite{Stream: "aged", Meta: ops.StreamMeta{MaxAge: 30 * time.Minute}})
	require.NoError(t, err)
	mc.step.Store(int64(time.Minute))

	var buf bytes.Buffer
	sum, err := transfer.ExportWith(ctx, src, &buf, transfer.ExportOptions{Clock: clk})
	require.NoError(t, err)
	// Read at the start: 60 minutes after the first event, one step on.
	at := backendtest.Epoch.Add(119*30*time.Second + time.Minute)
	dec, err := transfer.NewDecoder(bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	aged := 0
	for {
		it, err := dec.Next()
		if err != nil {
			require.ErrorIs(t, err, io.EOF)
			break
		}
		if it.Event != nil && it.Event.Stream == "aged" {
			assert.False(t, it.Event.At.Before(at.Add(-30*time.Minute)), "event %d is older than the max-age at the cut", it.Event.Pos)
			aged++
		}
	}
	assert.Equal(t, at, dec.Trailer.At)
	assert.Equal(t, 29, aged, "the aged events of the 30 minutes before the cut")
	assert.Equal(t, uint64(31), sum.Counts.Hidden)
	for _, kind := range []string{"mem", "file", "postgres"} {
		st := stagedTarget(t, kind)
		_, err := transfer.Import(ctx, bytes.NewReader(buf.Bytes()), st.Target())
		assert.NoError(t, err, kind)
		require.NoError(t, st.Abort())
	}

	// Not held, the clock runs through the walk: the max-age hides more
	// as the log is read, and the file store's placeholders, stamped at
	// the commit before, are younger than the trailer's time says.
	buf.Reset()
	_, err = transfer.Export(ctx, src, &buf)
	require.NoError(t, err)
	st := stagedTarget(t, "file")
	_, err = transfer.Import(ctx, bytes.NewReader(buf.Bytes()), st.Target())
	require.ErrorIs(t, err, transfer.ErrDigestMismatch)
	assert.Contains(t, err.Error(), "ExportOptions.Clock")
	require.NoError(t, st.Abort())
}

// TestExportImportRetained exports a store with hidden events, stream
// states, kv history and snapshot generations from every backend and
// imports it into every backend: the imported store answers as its
// source, and exports the same bytes.
func TestExportImportRetained(t *testing.T) {
	kinds := []string{"mem", "file", "postgres"}
	for _, from := range kinds {
		src, mc := retainedSource(t, from)
		mc.set(backendtest.Epoch.Add(7 * time.Hour))
		var b bytes.Buffer
		_, err := transfer.ExportWith(context.Background(), src.Handler, &b, transfer.ExportOptions{Clock: src.Clock})
		require.NoError(t, err)
		for _, to := range kinds {
			t.Run(from+"-"+to, func(t *testing.T) {
				ctx := context.Background()
				st := stagedTarget(t, to)
				defer func() { _ = st.Abort() }()
				_, err := transfer.Import(ctx, bytes.NewReader(b.Bytes()), st.Target())
				require.NoError(t, err)
				st.Clock.Hold(mc.now())
				defer st.Clock.Release()
				wantEvs, wantMeta := storeView(t, src.Handler)
				gotEvs, gotMeta := storeView(t, st.Backend)
				assert.Equal(t, wantEvs, gotEvs, "the visible log")
				assert.Equal(t, wantMeta, gotMeta, "stream heads and states")
				assert.Equal(t, historyView(t, src.Handler), historyView(t, st.Backend), "kv history and snapshot generations")
				var again bytes.Buffer
				_, err = transfer.ExportWith(ctx, st.Backend, &again, transfer.ExportOptions{Clock: st.Clock})
				require.NoError(t, err)
				assert.Equal(t, b.String(), again.String(), "the imported store exports the same bytes")
			})
		}
	}
}

// onRead runs then once, after the first page of the log is read.
type onRead struct {
	ops.Backend
	once sync.Once
	then func()
}

func (o *onRead) Handle(p *effect.P, e effect.Effect) (any, error) {
	r, err := o.Backend.Handle(p, e)
	if _, ok := e.(ops.ReadAll); ok {
		o.once.Do(o.then)
	}
	return r, err
}

// TestMigrateLimitsChangedDuringCopy: stream limits written while the
// log is copied (after its first page) hide positions the plan made
// before them has no stream for; the copy reads the states again and
// goes on, and the target matches the source.
func TestMigrateLimitsChangedDuringCopy(t *testing.T) {
	ctx := context.Background()
	src := mem.New(mem.WithClock(backendtest.Clock()))
	defer src.Close()
	p := effect.Handle(ctx, src)
	for i := range 3 * ops.MaxPage / 100 {
		evs := make([]ops.EventData, 100)
		for j := range evs {
			evs[j] = ops.EventData{Type: "t", Data: []byte{byte(j)}}
		}
		_, err := effect.Perform(p, ops.Append{Stream: []string{"a", "b", "c"}[i%3], Events: evs})
		require.NoError(t, err)
	}
	gated := &onRead{Backend: src}
	gated.then = func() {
		// b's events after the first page and c's first ones are hidden
		// now; the plan, made before, knew of no hidden position.
		_, err := src.Handle(p, ops.StreamMetaWrite{Stream: "b", Meta: ops.StreamMeta{MaxCount: 100}})
		require.NoError(t, err)
		_, err = src.Handle(p, ops.StreamMetaWrite{Stream: "c", Meta: ops.StreamMeta{TruncateBefore: 250}})
		require.NoError(t, err)
	}
	gate := transfer.NewGate(gated)
	st := stage.Mem()
	sum, err := transfer.Migrate(ctx, gate.Source(), st.Target(), transfer.MigrateOptions{MovedTo: "elsewhere", Lag: 1})
	require.NoError(t, err)
	assert.Equal(t, uint64(3*ops.MaxPage), sum.LastPos)
	assert.NotZero(t, sum.Counts.Hidden)
	wantEvs, _ := storeView(t, src)
	gotEvs, _ := storeView(t, st.Backend)
	assert.Equal(t, wantEvs, gotEvs)
}
