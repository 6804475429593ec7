package persist_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist"
	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/backends/mem"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/interp"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/programs"
	"rose-ash.com/persist/server"
)

// stores opens each kind of store a DB can be: in memory, on disk, and a
// backend wrapped by hand.
func stores(t *testing.T) map[string]func(t *testing.T) *persist.DB {
	return map[string]func(t *testing.T) *persist.DB{
		"mem": func(t *testing.T) *persist.DB { return persist.OpenMem() },
		"file": func(t *testing.T) *persist.DB {
			db, err := persist.Open(context.Background(), t.TempDir())
			require.NoError(t, err)
			return db
		},
		"new": func(t *testing.T) *persist.DB { return persist.New(mem.New()) },
		// A backend that came later, plugged in unchanged: the wire client
		// of a server in front of an in-memory store.
		"remote": func(t *testing.T) *persist.DB {
			store := mem.New()
			srv, err := server.New(store, server.Options{})
			require.NoError(t, err)
			hs := httptest.NewServer(srv)
			t.Cleanup(func() { hs.Close(); _ = store.Close() })
			db, err := persist.Dial(context.Background(), hs.URL)
			require.NoError(t, err)
			return db
		},
	}
}

func eachStore(t *testing.T, f func(t *testing.T, db *persist.DB)) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			t.Cleanup(func() { _ = db.Close() })
			f(t, db)
		})
	}
}

func collect[T any](t *testing.T, seq func(func(T, error) bool)) []T {
	t.Helper()
	var out []T
	for v, err := range seq {
		require.NoError(t, err)
		out = append(out, v)
	}
	return out
}

func TestLog(t *testing.T) {
	eachStore(t, func(t *testing.T, db *persist.DB) {
		ctx := context.Background()
		res, err := db.Append(ctx, "orders", persist.NoStream(),
			persist.NewEvent("placed", []byte(`{"order": 17}`)), persist.NewEvent("paid", []byte(`{:order 17}`)))
		require.NoError(t, err)
		assert.Equal(t, persist.AppendResult{Stream: "orders", FirstSeq: 1, Head: 2, FirstPos: 1, LastPos: 2}, res)

		_, err = db.Append(ctx, "orders", persist.NoStream(), persist.NewEvent("again", nil))
		var c *persist.Conflict
		require.ErrorAs(t, err, &c)
		assert.Equal(t, persist.Conflict{Stream: "orders", Expected: persist.NoStream(), Actual: 2}, *c)

		head, err := db.Head(ctx, "orders")
		require.NoError(t, err)
		assert.Equal(t, uint64(2), head)

		evs := collect(t, db.Read(ctx, "orders", 1))
		require.Len(t, evs, 2)
		type order struct {
			Order int `json:"order"`
		}
		for _, ev := range evs {
			o, err := persist.Decode[order](ev)
			require.NoError(t, err)
			assert.Equal(t, order{17}, o, "%s decodes", ev.Data)
		}

		_, err = db.Append(ctx, "users", persist.Any(), persist.NewEvent("joined", nil))
		require.NoError(t, err)
		all := collect(t, db.ReadAll(ctx, 0))
		require.Len(t, all, 3)
		assert.Equal(t, "users", all[2].Stream)
		assert.Equal(t, []persist.StreamInfo{{Name: "orders", Head: 2}, {Name: "users", Head: 1}}, collect(t, db.Streams(ctx, "")))

		w, err := db.Wait(ctx, "orders", 2, 10*time.Millisecond)
		require.NoError(t, err)
		assert.False(t, w.Passed, "nothing after seq 2")
		w, err = db.Wait(ctx, "orders", 1, 0)
		require.NoError(t, err)
		assert.True(t, w.Passed)
	})
}

func TestAppendRetry(t *testing.T) {
	eachStore(t, func(t *testing.T, db *persist.DB) {
		ctx := context.Background()
		calls := 0
		res, err := db.AppendRetry(ctx, "counter", 5, func(head uint64) ([]persist.EventData, error) {
			calls++
			if calls == 1 {
				// Someone else appends in between: the first attempt conflicts.
				_, err := db.Append(ctx, "counter", persist.Any(), persist.NewEvent("other", nil))
				require.NoError(t, err)
			}
			return []persist.EventData{persist.NewEvent("mine", []byte(strconv.FormatUint(head, 10)))}, nil
		})
		require.NoError(t, err)
		assert.Equal(t, 2, calls)
		assert.Equal(t, uint64(2), res.Head)
		evs := collect(t, db.Read(ctx, "counter", 2))
		require.Len(t, evs, 1)
		assert.Equal(t, "1", string(evs[0].Data), "decided on the head the conflict reported")

		_, err = db.AppendRetry(ctx, "counter", 2, func(head uint64) ([]persist.EventData, error) {
			_, err := db.Append(ctx, "counter", persist.Any(), persist.NewEvent("other", nil))
			require.NoError(t, err)
			return []persist.EventData{persist.NewEvent("mine", nil)}, nil
		})
		assert.ErrorIs(t, err, persist.ErrRetriesExhausted)
		assert.ErrorIs(t, err, persist.ErrConflict)
	})
}

func TestKv(t *testing.T) {
	eachStore(t, func(t *testing.T, db *persist.DB) {
		ctx := context.Background()
		e, found, err := db.KvGet(ctx, "cart/1")
		require.NoError(t, err)
		assert.False(t, found)
		assert.Equal(t, persist.KvEntry{Key: "cart/1"}, e)

		r, err := db.KvPut(ctx, "cart/1", []byte(`{:items 1}`), persist.NoStream())
		require.NoError(t, err)
		_, err = db.KvPut(ctx, "cart/1", []byte(`{}`), persist.NoStream())
		assert.ErrorIs(t, err, persist.ErrConflict)
		_, err = db.KvPut(ctx, "cart/2", []byte(`{"items": 2}`), persist.Any())
		require.NoError(t, err)

		e, found, err = db.KvGet(ctx, "cart/1")
		require.NoError(t, err)
		require.True(t, found)
		assert.Equal(t, r.Revision, e.Revision)
		type cart struct {
			Items int `json:"items"`
		}
		c, err := persist.DecodeData[cart](e.Value)
		require.NoError(t, err)
		assert.Equal(t, cart{1}, c)

		keys := collect(t, db.KvList(ctx, "cart/"))
		require.Len(t, keys, 2)
		assert.Equal(t, "cart/2", keys[1].Key)

		u, err := db.KvUpdate(ctx, "n", 3, func(old []byte, found bool) ([]byte, error) {
			n, _ := strconv.Atoi(string(old))
			return []byte(strconv.Itoa(n + 1)), nil
		})
		require.NoError(t, err)
		assert.False(t, u.Existed)

		d, err := db.KvDelete(ctx, "cart/1", persist.Exact(r.Revision))
		require.NoError(t, err)
		assert.True(t, d.Existed)

		cr, err := db.Commit(ctx, persist.Commit{
			Appends: []persist.Append{{Stream: "a", Expect: persist.NoStream(), Events: []persist.EventData{persist.NewEvent("x", nil)}}},
			Kv:      []persist.KvChange{{Key: "cart/2", Delete: true, Expect: persist.Exists()}},
		})
		require.NoError(t, err)
		require.Len(t, cr.Appends, 1)
		_, found, err = db.KvGet(ctx, "cart/2")
		require.NoError(t, err)
		assert.False(t, found, "deleted by the commit")

		_, err = db.Commit(ctx, persist.Commit{
			Appends: []persist.Append{{Stream: "b", Events: []persist.EventData{persist.NewEvent("x", nil)}}},
			Kv:      []persist.KvChange{{Key: "n", Value: []byte("0"), Expect: persist.NoStream()}},
		})
		assert.ErrorIs(t, err, persist.ErrConflict)
		h, err := db.Head(ctx, "b")
		require.NoError(t, err)
		assert.Zero(t, h, "all or none")
	})
}

type balance struct {
	Total int `json:"total"`
}

func balanceProjection() persist.Projection[balance] {
	return persist.Projection[balance]{
		Name: "balance", Stream: "acct", Version: 1,
		Step: func(b balance, ev persist.Event) (balance, error) {
			d, err := persist.Decode[struct {
				Amount int `json:"amount"`
			}](ev)
			b.Total += d.Amount
			return b, err
		},
	}
}

func TestProjection(t *testing.T) {
	eachStore(t, func(t *testing.T, db *persist.DB) {
		ctx := context.Background()
		for i := 1; i <= 3; i++ {
			_, err := db.Append(ctx, "acct", persist.Any(), persist.NewEvent("deposit", fmt.Appendf(nil, "{:amount %d}", i)))
			require.NoError(t, err)
		}
		proj := balanceProjection()
		st, err := persist.Load(ctx, db, proj)
		require.NoError(t, err)
		assert.Equal(t, persist.State[balance]{Value: balance{6}, Seq: 3}, st)
		require.NoError(t, persist.Checkpoint(ctx, db, proj, st))

		_, err = db.Append(ctx, "acct", persist.Any(), persist.NewEvent("deposit", []byte(`{"amount": 10}`)))
		require.NoError(t, err)
		st2, err := persist.Resume(ctx, db, proj, st)
		require.NoError(t, err)
		assert.Equal(t, persist.State[balance]{Value: balance{16}, Seq: 4}, st2)

		// Load starts from the snapshot: a step that fails on seq 1..3
		// is not reached.
		strict := proj
		strict.Step = func(b balance, ev persist.Event) (balance, error) {
			if ev.Seq <= 3 {
				return b, errors.New("replayed from the start")
			}
			return proj.Step(b, ev)
		}
		st3, err := persist.Load(ctx, db, strict)
		require.NoError(t, err)
		assert.Equal(t, st2, st3)

		_, err = db.Append(ctx, "acct", persist.Any(), persist.NewEvent("deposit", []byte(`{:amount "x"}`)))
		require.NoError(t, err)
		_, err = persist.Load(ctx, db, proj)
		var se *persist.StepError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, "acct", se.Stream)
		assert.Equal(t, uint64(5), se.Seq)
	})
}

func TestFollowAndHub(t *testing.T) {
	eachStore(t, func(t *testing.T, db *persist.DB) {
		ctx := context.Background()
		var published []uint64
		cancel, err := db.Subscribe("orders", func(ctx context.Context, ev persist.Event) error {
			published = append(published, ev.Seq)
			return nil
		})
		require.NoError(t, err)
		_, err = db.Publish(ctx, "orders", persist.Any(), persist.NewEvent("a", nil), persist.NewEvent("b", nil))
		require.NoError(t, err)
		_, err = db.Append(ctx, "orders", persist.Any(), persist.NewEvent("c", nil))
		require.NoError(t, err)
		cancel()
		_, err = db.Publish(ctx, "orders", persist.Any(), persist.NewEvent("d", nil))
		require.NoError(t, err)
		assert.Equal(t, []uint64{1, 2}, published, "only published events, before cancel")

		var followed []string
		follow := func() error {
			return db.Follow(ctx, persist.FollowOptions{Name: "f", Stream: "orders", Idle: 20 * time.Millisecond,
				Handle: func(ctx context.Context, ev persist.Event) error {
					followed = append(followed, ev.Type)
					return nil
				}})
		}
		require.NoError(t, follow())
		assert.Equal(t, []string{"a", "b", "c", "d"}, followed)
		_, err = db.Append(ctx, "orders", persist.Any(), persist.NewEvent("e", nil))
		require.NoError(t, err)
		require.NoError(t, follow())
		assert.Equal(t, []string{"a", "b", "c", "d", "e"}, followed, "resumed after the checkpoint")

		cctx, stop := context.WithTimeout(ctx, 20*time.Millisecond)
		defer stop()
		err = db.Follow(cctx, persist.FollowOptions{Name: "g", Handle: func(context.Context, persist.Event) error { return nil }})
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

func TestRun(t *testing.T) {
	eachStore(t, func(t *testing.T, db *persist.DB) {
		ctx := context.Background()
		head, err := persist.Run(ctx, db, func(p *effect.P) (uint64, error) {
			res, err := programs.Append(p, "s", ops.NoStream(), programs.Event("e", nil))
			return res.Head, err
		})
		require.NoError(t, err)
		assert.Equal(t, uint64(1), head)
		got, err := db.Head(ctx, "s")
		require.NoError(t, err)
		assert.Equal(t, head, got, "the program and the method see one store")

		err = db.Run(ctx, func(p *effect.P) error { panic("boom") })
		var pe *effect.PanicError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, "boom", pe.Value)
	})
}

// TestSameErrorsAsOps: each method answers bad input with the error the
// operation itself gives when performed directly on the backend.
func TestSameErrorsAsOps(t *testing.T) {
	ctx := context.Background()
	store := mem.New()
	db := persist.New(mem.New())
	defer db.Close()
	direct := func(op effect.Effect) error {
		_, err := effect.Handle(ctx, store).Send(op)
		return err
	}
	firstErr := func(seq func(func(persist.Event, error) bool)) error {
		for _, err := range seq {
			return err
		}
		return nil
	}
	big := make([]byte, ops.MaxDataBytes+1)
	cases := []struct {
		name string
		got  error
		want error
	}{
		{"append empty stream", second(db.Append(ctx, "", persist.Any(), persist.NewEvent("e", nil))), direct(ops.Append{Events: []ops.EventData{{Type: "e"}}})},
		{"append empty type", second(db.Append(ctx, "s", persist.Any(), persist.NewEvent("", nil))), direct(ops.Append{Stream: "s", Events: []ops.EventData{{}}})},
		{"append no events", second(db.Append(ctx, "s", persist.Any())), direct(ops.Append{Stream: "s"})},
		{"append big data", second(db.Append(ctx, "s", persist.Any(), persist.NewEvent("e", big))), direct(ops.Append{Stream: "s", Events: []ops.EventData{{Type: "e", Data: big}}})},
		{"head bad name", second(db.Head(ctx, "a\x00b")), direct(ops.Head{Stream: "a\x00b"})},
		{"read empty stream", firstErr(db.Read(ctx, "", 1)), direct(ops.Read{})},
		{"kv-get empty key", third(db.KvGet(ctx, "")), direct(ops.KvGet{})},
		{"kv-put big value", second(db.KvPut(ctx, "k", big, persist.Any())), direct(ops.KvPut{Key: "k", Value: big})},
		{"kv-delete bad expect", second(db.KvDelete(ctx, "k", persist.Expect{Kind: 9})), direct(ops.KvDelete{Key: "k", Expect: ops.Expect{Kind: 9}})},
		{"commit empty", second(db.Commit(ctx, persist.Commit{})), direct(ops.Commit{})},
		{"wait negative", second(db.Wait(ctx, "s", 0, -time.Second)), direct(ops.Wait{Stream: "s", Timeout: -time.Second})},
	}
	for _, c := range cases {
		require.Error(t, c.want, c.name)
		var inv *ops.InvalidError
		require.ErrorAs(t, c.got, &inv, c.name)
		assert.Equal(t, c.want, c.got, c.name)
	}
	for _, err := range db.Streams(ctx, "\xff") {
		assert.Equal(t, direct(ops.Streams{Prefix: "\xff"}), err)
	}
	for _, err := range db.KvList(ctx, "\xff") {
		assert.Equal(t, direct(ops.KvList{Prefix: "\xff"}), err)
	}

	var inv *ops.InvalidError
	_, err := db.AppendRetry(ctx, "s", 1, nil)
	require.ErrorAs(t, err, &inv)
	assert.Equal(t, "decide", inv.Field)
	_, err = db.KvUpdate(ctx, "k", 1, nil)
	require.ErrorAs(t, err, &inv)
	assert.Equal(t, "f", inv.Field)
	err = db.Follow(ctx, persist.FollowOptions{Name: "x"})
	require.ErrorAs(t, err, &inv)
	assert.Equal(t, "handle", inv.Field)
	_, err = db.Subscribe("s", nil)
	require.ErrorAs(t, err, &inv)
	assert.Equal(t, "subscriber", inv.Field)
	_, err = db.Subscribe("", func(context.Context, persist.Event) error { return nil })
	require.ErrorAs(t, err, &inv)
	assert.Equal(t, "stream", inv.Field)
}

func second[A any](_ A, err error) error        { return err }
func third[A, B any](_ A, _ B, err error) error { return err }

// calls makes one call of every method with ctx and reports each error.
func calls(db *persist.DB, ctx context.Context) map[string]error {
	proj := balanceProjection()
	ev := persist.NewEvent("e", nil)
	ok := func(context.Context, persist.Event) error { return nil }
	firstErr := func(seq func(func(persist.Event, error) bool)) error {
		for _, err := range seq {
			return err
		}
		return nil
	}
	m := map[string]error{
		"Append":      second(db.Append(ctx, "s", persist.Any(), ev)),
		"AppendRetry": second(db.AppendRetry(ctx, "s", 1, func(uint64) ([]persist.EventData, error) { return []persist.EventData{ev}, nil })),
		"Read":        firstErr(db.Read(ctx, "s", 1)),
		"ReadAll":     firstErr(db.ReadAll(ctx, 1)),
		"Scan":        firstErr(db.Scan(ctx, "s", 1)),
		"ScanAll":     firstErr(db.ScanAll(ctx, 1)),
		"Head":        second(db.Head(ctx, "s")),
		"Wait":        second(db.Wait(ctx, "s", 0, time.Millisecond)),
		"Follow":      db.Follow(ctx, persist.FollowOptions{Name: "f", Idle: time.Millisecond, Handle: ok}),
		"KvGet":       third(db.KvGet(ctx, "k")),
		"KvPut":       second(db.KvPut(ctx, "k", nil, persist.Any())),
		"KvDelete":    second(db.KvDelete(ctx, "k", persist.Any())),
		"KvUpdate":    second(db.KvUpdate(ctx, "k", 1, func([]byte, bool) ([]byte, error) { return nil, nil })),
		"Commit":      second(db.Commit(ctx, persist.Commit{Kv: []persist.KvChange{{Key: "k"}}})),
		"Publish":     second(db.Publish(ctx, "s", persist.Any(), ev)),
		"Load":        second(persist.Load(ctx, db, proj)),
		"Resume":      second(persist.Resume(ctx, db, proj, persist.State[balance]{})),
		"Checkpoint":  persist.Checkpoint(ctx, db, proj, persist.State[balance]{}),
		"Run":         db.Run(ctx, func(p *effect.P) error { _, err := programs.Head(p, "s"); return err }),
		"RunValue":    second(persist.Run(ctx, db, func(p *effect.P) (uint64, error) { return programs.Head(p, "s") })),
	}
	for s, err := range db.Streams(ctx, "") {
		_ = s
		m["Streams"] = err
		break
	}
	for e, err := range db.KvList(ctx, "") {
		_ = e
		m["KvList"] = err
		break
	}
	return m
}

func TestNilContext(t *testing.T) {
	db := persist.OpenMem()
	defer db.Close()
	var nilCtx context.Context
	for name, err := range calls(db, nilCtx) {
		var inv *ops.InvalidError
		if assert.ErrorAs(t, err, &inv, name) {
			assert.Equal(t, "ctx", inv.Field, name)
		}
	}
	// An empty store's Streams and KvList yield nothing, so check the nil
	// context reaches them too.
	for _, err := range db.Streams(nilCtx, "") {
		assert.ErrorIs(t, err, persist.ErrInvalid)
	}
	for _, err := range db.KvList(nilCtx, "") {
		assert.ErrorIs(t, err, persist.ErrInvalid)
	}
	_, err := persist.Open(nilCtx, t.TempDir())
	assert.ErrorIs(t, err, persist.ErrInvalid)
}

func TestClosed(t *testing.T) {
	eachStore(t, func(t *testing.T, db *persist.DB) {
		ctx := context.Background()
		_, err := db.Append(ctx, "s", persist.Any(), persist.NewEvent("e", nil))
		require.NoError(t, err)
		_, err = db.KvPut(ctx, "k", []byte("1"), persist.Any())
		require.NoError(t, err)
		require.NoError(t, db.Close())
		errs := calls(db, ctx)
		assert.Len(t, errs, 22, "every method")
		for name, err := range errs {
			assert.ErrorIs(t, err, persist.ErrClosed, name)
		}
		_, err = db.Subscribe("s", func(context.Context, persist.Event) error { return nil })
		assert.ErrorIs(t, err, persist.ErrClosed)
		assert.ErrorIs(t, db.Close(), persist.ErrClosed, "a second Close")
	})
}

// TestConcurrent: many goroutines append and update through one DB.
func TestConcurrent(t *testing.T) {
	eachStore(t, func(t *testing.T, db *persist.DB) {
		ctx := context.Background()
		const workers, each = 8, 25
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					_, err := db.AppendRetry(ctx, "shared", 1000, func(head uint64) ([]persist.EventData, error) {
						return []persist.EventData{persist.NewEvent("e", fmt.Appendf(nil, "%d-%d", w, i))}, nil
					})
					assert.NoError(t, err)
					_, err = db.KvUpdate(ctx, "count", 1000, func(old []byte, _ bool) ([]byte, error) {
						n, _ := strconv.Atoi(string(old))
						return []byte(strconv.Itoa(n + 1)), nil
					})
					assert.NoError(t, err)
					for _, err := range db.Read(ctx, "shared", 1) {
						assert.NoError(t, err)
					}
				}
			})
		}
		wg.Wait()
		head, err := db.Head(ctx, "shared")
		require.NoError(t, err)
		assert.Equal(t, uint64(workers*each), head)
		e, _, err := db.KvGet(ctx, "count")
		require.NoError(t, err)
		assert.Equal(t, strconv.Itoa(workers*each), string(e.Value))
	})
}

func TestFileDurableAndReadOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := persist.Open(ctx, dir, persist.WithFileOptions(file.Options{SegmentSize: 1 << 20}))
	require.NoError(t, err)
	_, err = db.Append(ctx, "s", persist.NoStream(), persist.NewEvent("e", []byte("1")))
	require.NoError(t, err)
	_, err = persist.Open(ctx, dir)
	assert.Error(t, err, "the store is locked by the first DB")

	ro, err := persist.OpenReadOnly(ctx, dir)
	require.NoError(t, err)
	defer ro.Close()
	h, err := ro.Head(ctx, "s")
	require.NoError(t, err)
	assert.Equal(t, uint64(1), h)
	_, err = ro.Append(ctx, "s", persist.Any(), persist.NewEvent("e", nil))
	assert.ErrorIs(t, err, file.ErrReadOnly)

	require.NoError(t, db.Close())
	db, err = persist.Open(ctx, dir)
	require.NoError(t, err)
	defer db.Close()
	evs := collect(t, db.Read(ctx, "s", 1))
	require.Len(t, evs, 1)
	assert.Equal(t, "1", string(evs[0].Data))
	_, ok := db.Backend().(*file.DB)
	assert.True(t, ok)
}

// TestOneCodePath: a method performs the very effects, in the same order,
// that the program it stands for performs when run directly.
func TestOneCodePath(t *testing.T) {
	ctx := context.Background()
	trace := func(f func(db *persist.DB)) string {
		var j interp.Journal
		db := persist.OpenMem(persist.WithClock(func() time.Time { return time.Unix(0, 0) }), persist.WithMiddleware(interp.Record(&j)))
		defer db.Close()
		_, _ = db.Append(ctx, "s", persist.NoStream(), persist.NewEvent("seed", nil))
		j.Truncate(0)
		f(db)
		var out []string
		for _, s := range j.Snapshot() {
			out = append(out, interp.FormatEffect(s.Effect))
		}
		return strings.Join(out, "\n")
	}
	decide := func(head uint64) ([]persist.EventData, error) {
		return []persist.EventData{persist.NewEvent("e", strconv.AppendUint(nil, head, 10))}, nil
	}
	incr := func(old []byte, _ bool) ([]byte, error) { return append(old, 'x'), nil }
	proj := balanceProjection()
	cases := []struct {
		name           string
		method, direct func(db *persist.DB)
	}{
		{"AppendRetry",
			func(db *persist.DB) { _, _ = db.AppendRetry(ctx, "s", 3, decide) },
			func(db *persist.DB) {
				_ = db.Run(ctx, func(p *effect.P) error {
					_, err := programs.AppendRetry(p, "s", 3, func(_ *effect.P, h uint64) ([]ops.EventData, error) { return decide(h) })
					return err
				})
			}},
		{"KvUpdate",
			func(db *persist.DB) { _, _ = db.KvUpdate(ctx, "k", 3, incr) },
			func(db *persist.DB) {
				_ = db.Run(ctx, func(p *effect.P) error { _, err := programs.Update(p, "k", 3, incr); return err })
			}},
		{"Read",
			func(db *persist.DB) {
				for range db.Read(ctx, "s", 1) {
				}
			},
			func(db *persist.DB) {
				_ = db.Run(ctx, func(p *effect.P) error { _, err := programs.ReadFrom(p, "s", 1); return err })
			}},
		{"Load",
			func(db *persist.DB) { _, _ = persist.Load(ctx, db, proj) },
			func(db *persist.DB) {
				_ = db.Run(ctx, func(p *effect.P) error { _, err := programs.Load(p, proj); return err })
			}},
		{"Append",
			func(db *persist.DB) { _, _ = db.Append(ctx, "s", persist.Exact(1), persist.NewEvent("e", nil)) },
			func(db *persist.DB) {
				_ = db.Run(ctx, func(p *effect.P) error {
					_, err := effect.Perform(p, ops.Append{Stream: "s", Expect: ops.Exact(1), Events: []ops.EventData{{Type: "e"}}})
					return err
				})
			}},
	}
	for _, c := range cases {
		got, want := trace(c.method), trace(c.direct)
		assert.NotEmpty(t, want, c.name)
		assert.Equal(t, want, got, c.name)
	}
}
