package postgres_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/postgres"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// The workloads of the figures, each run on the store ("persist", and
// variants with a feature off) and on the baseline a user would write by
// hand ("plain"): one INSERT per event into a table with a bigserial
// position, synchronous commit on, no expectations checked.
//
// The modes of a workload run side by side: each iteration of the
// benchmark is one round in which every mode runs in turn, so that the
// load of a shared machine falls on all of them alike: one operation each
// for W1, W3 and W4, a slice of time for W2's 64 writers. A mode's figure
// is the median of its rounds, and its ratio to plain is the median of
// the ratios within each round:
//
//	go test ./backends/postgres -run '^$' -bench 'W1|W3' -benchtime 400x
//	go test ./backends/postgres -run '^$' -bench 'W2|W4' -benchtime 10x
//
// W1: one writer, one event per append. W2: 64 writers, each its own
// stream. W3: appends of 1,000 events. W4: replay of the global log
// (PERSIST_BENCH_REPLAY events, default 1,000,000), in pages of
// ops.MaxPage, with and without a lent page and readahead.

var payload = []byte(`{"order":17,"customer":"c-0042","lines":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}],"note":"x"}`)

// mode is one side of a side-by-side benchmark: run does its work until
// the deadline has passed (at least one operation) and returns the events
// it wrote or read.
type mode struct {
	name string
	run  func(deadline time.Time) int
}

// sideBySide runs every mode for slice in each of b.N rounds, the modes'
// order turning each round, and reports each mode's median events/s and
// its median ratio to the last mode (the baseline). It also reports the
// medians of events per WAL sync and WAL bytes per event (pg_stat_wal,
// PostgreSQL 14+) of each mode: counted server-wide, so other clients of
// the server move them.
func sideBySide(b *testing.B, slice time.Duration, modes ...mode) {
	b.Helper()
	rates := make([][]float64, len(modes))
	perSync := make([][]float64, len(modes))
	walPer := make([][]float64, len(modes))
	stats := statsConn(b)
	b.ResetTimer()
	for round := range b.N {
		for k := range modes {
			i := (k + round) % len(modes)
			syncs, bytes := walStats(stats)
			start := time.Now()
			n := modes[i].run(start.Add(slice))
			rates[i] = append(rates[i], float64(n)/time.Since(start).Seconds())
			syncs2, bytes2 := walStats(stats)
			if syncs >= 0 && syncs2 > syncs {
				perSync[i] = append(perSync[i], float64(n)/float64(syncs2-syncs))
				walPer[i] = append(walPer[i], float64(bytes2-bytes)/float64(n))
			}
		}
		line := fmt.Sprintf("round %d:", round+1)
		for i, m := range modes {
			line += fmt.Sprintf(" %s %.0f", m.name, rates[i][round])
		}
		if b.N <= 50 {
			b.Log(line + " events/s")
		}
	}
	b.StopTimer()
	base := rates[len(modes)-1]
	for i, m := range modes {
		b.ReportMetric(median(rates[i]), m.name+"-events/s")
		if len(perSync[i]) > 0 {
			b.ReportMetric(median(perSync[i]), m.name+"-events/sync")
			b.ReportMetric(median(walPer[i]), m.name+"-WALbytes/event")
		}
		if i == len(modes)-1 {
			continue
		}
		ratios := make([]float64, len(base))
		for r := range base {
			ratios[r] = rates[i][r] / base[r]
		}
		b.ReportMetric(median(ratios), m.name+"/"+modes[len(modes)-1].name)
	}
}

// statsConn is a connection for walStats.
func statsConn(b *testing.B) *pgx.Conn {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testDSN())
	require.NoError(b, err)
	b.Cleanup(func() { conn.Close(ctx) })
	return conn
}

// walStats is the server's count of WAL syncs and WAL bytes so far, -1
// when the server does not tell them.
func walStats(conn *pgx.Conn) (syncs, bytes int64) {
	if err := conn.QueryRow(context.Background(), "SELECT wal_sync, wal_bytes::bigint FROM pg_stat_wal").Scan(&syncs, &bytes); err != nil {
		return -1, -1
	}
	return syncs, bytes
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// plainTable makes the baseline's table in a fresh schema and returns a
// pool on it and the table's qualified name.
func plainTable(b *testing.B, conns int) (*pgxpool.Pool, string) {
	b.Helper()
	schema := freshSchema(b)
	q := pgx.Identifier{schema}.Sanitize()
	execSQL(b, "CREATE SCHEMA "+q)
	execSQL(b, "CREATE TABLE "+q+".events (pos bigserial PRIMARY KEY, stream text NOT NULL, seq bigint NOT NULL, id uuid NOT NULL, type text NOT NULL, at bigint NOT NULL, data bytea NOT NULL)")
	cfg, err := pgxpool.ParseConfig(testDSN())
	require.NoError(b, err)
	cfg.MaxConns = int32(conns)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(b, err)
	b.Cleanup(pool.Close)
	return pool, q + ".events"
}

// plainInsert is the baseline's statement.
func plainInsert(table string) string {
	return "INSERT INTO " + table + " (stream, seq, id, type, at, data) VALUES ($1, $2, $3, 't', $4, $5)"
}

// appender returns a mode's run for one writer that appends n events at
// a time to stream, each append expecting the head the last one left.
func appender(b *testing.B, s *postgres.Store, stream string, n int) func(time.Time) int {
	p := effect.Handle(context.Background(), s)
	evs := make([]ops.EventData, n)
	for i := range evs {
		evs[i] = ops.EventData{Type: "t", Data: payload}
	}
	var head uint64
	return func(deadline time.Time) int {
		done := 0
		for done == 0 || time.Now().Before(deadline) {
			r, err := effect.Perform(p, ops.Append{Stream: stream, Expect: ops.Exact(head), Events: evs})
			if err != nil {
				b.Fatal(err)
			}
			head = r.Head
			done += n
		}
		return done
	}
}

func BenchmarkW1OneWriter(b *testing.B) {
	ctx := context.Background()
	pool, table := plainTable(b, 1)
	seq := 0
	sideBySide(b, 0,
		mode{"persist", appender(b, mustOpen(b), "s", 1)},
		mode{"persist-locked", appender(b, mustOpen(b, postgres.WithoutGuessing()), "s", 1)},
		mode{"plain", func(deadline time.Time) int {
			done := 0
			for done == 0 || time.Now().Before(deadline) {
				seq++
				if _, err := pool.Exec(ctx, plainInsert(table), "s", seq, uuid.New(), time.Now().UnixNano(), payload); err != nil {
					b.Fatal(err)
				}
				done++
			}
			return done
		}},
	)
}

// BenchmarkW1Parts takes W1's statement (a guessed one-event commit to a
// known stream) apart, side by side with plain inserts, to say where a
// one-event commit's time goes beyond a plain INSERT: "guessed" is the
// statement as the store sends it; "gen-read" checks the metadata
// generation as schema 4 did (guess_gen: a PL/pgSQL call that takes the
// shared lock and reads log_state in a statement of its own);
// "no-notify", "no-lock" and "insert" leave out the notification, the
// shared lock, and all but the insert (into the events table with its
// three indexes). Each mode runs its statement by itself on the store's
// pool, so the store's own work in Go is left out; "no-lock" and
// "insert" keep none of the package's guarantees and are here only to
// be measured. Run it with PERSIST_TEST_PG's DSN carrying
// options=-c synchronous_commit=off to see the statements' own time
// without the WAL flush.
func BenchmarkW1Parts(b *testing.B) {
	ctx := context.Background()
	pool, table := plainTable(b, 1)
	s := mustOpen(b)
	full, ch := postgres.GuessedOneSQL(s)
	sch := pgx.Identifier{s.Schema()}.Sanitize()
	tail := full[strings.Index(full, "ins AS ("):]
	key := strings.SplitN(strings.SplitN(full, "pg_advisory_xact_lock_shared('", 2)[1], "'", 2)[0]
	genRead := "WITH g AS (SELECT " + sch + ".guess_gen('" + key + "'::bigint, $8) AS ok), " + tail
	noNotify := strings.Replace(full, "pg_notify($7, $9::text)", "$7::text", 1)
	noLock := "WITH l AS (SELECT ''::text AS l), " + full[strings.Index(full, "g AS ("):]
	insert := "WITH ins AS (INSERT INTO " + sch + ".events (pos, stream, seq, id, type, at, data) VALUES ($9, $1, $2, $3, $4, $5, $6)) SELECT $9::bigint - 1, $7::text WHERE $8::bigint = 0"
	require.NotEqual(b, full, noNotify, "the notification is found in the statement")
	sp := s.Pool()
	pos := 0
	run := func(sql string) func(time.Time) int {
		return func(time.Time) int {
			pos++
			var base int64
			// Token 0: no metadata was written to the fresh schema.
			if err := sp.QueryRow(ctx, sql, "s", pos, uuid.New(), "t", time.Now().UnixNano(), payload, ch, int64(0), int64(pos)).Scan(&base, nil); err != nil {
				b.Fatal(err)
			}
			return 1
		}
	}
	seq := 0
	sideBySide(b, 0,
		mode{"guessed", run(full)},
		mode{"gen-read", run(genRead)},
		mode{"no-notify", run(noNotify)},
		mode{"no-lock", run(noLock)},
		mode{"insert", run(insert)},
		mode{"plain", func(time.Time) int {
			seq++
			if _, err := pool.Exec(ctx, plainInsert(table), "s", seq, uuid.New(), time.Now().UnixNano(), payload); err != nil {
				b.Fatal(err)
			}
			return 1
		}},
	)
}

// writers returns a mode's run for 64 writers at once, each appending one
// event at a time to its own stream through one.
func writers(b *testing.B, one func(w, seq int) error) func(time.Time) int {
	const n = 64
	seqs := make([]int, n)
	return func(deadline time.Time) int {
		var wg sync.WaitGroup
		var total atomic.Int64
		for w := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for done := false; !done || time.Now().Before(deadline); done = true {
					seqs[w]++
					if err := one(w, seqs[w]); err != nil {
						b.Error(err)
						return
					}
					total.Add(1)
				}
			}()
		}
		wg.Wait()
		if b.Failed() {
			b.FailNow()
		}
		return int(total.Load())
	}
}

func BenchmarkW2SixtyFourWriters(b *testing.B) {
	ctx := context.Background()
	store := func(opts ...postgres.Option) func(time.Time) int {
		p := effect.Handle(ctx, mustOpen(b, opts...))
		return writers(b, func(w, seq int) error {
			_, err := effect.Perform(p, ops.Append{Stream: fmt.Sprintf("s-%d", w), Expect: ops.Exact(uint64(seq - 1)), Events: []ops.EventData{{Type: "t", Data: payload}}})
			return err
		})
	}
	pool, table := plainTable(b, 64)
	sideBySide(b, 500*time.Millisecond,
		mode{"persist", store()},
		mode{"persist-locked", store(postgres.WithoutGuessing())},
		mode{"persist-no-group-commit", store(postgres.WithoutGroupCommit(), postgres.WithMaxConns(64))},
		mode{"plain", writers(b, func(w, seq int) error {
			_, err := pool.Exec(ctx, plainInsert(table), fmt.Sprintf("s-%d", w), seq, uuid.New(), time.Now().UnixNano(), payload)
			return err
		})},
	)
}

func BenchmarkW3Appends1000(b *testing.B) {
	ctx := context.Background()
	const n = 1000
	pool, table := plainTable(b, 1)
	seq := 0
	sideBySide(b, 0,
		mode{"persist", appender(b, mustOpen(b), "s", n)},
		mode{"plain", func(deadline time.Time) int {
			done := 0
			for done == 0 || time.Now().Before(deadline) {
				tx, err := pool.Begin(ctx)
				if err != nil {
					b.Fatal(err)
				}
				for range n {
					seq++
					if _, err := tx.Exec(ctx, plainInsert(table), "s", seq, uuid.New(), time.Now().UnixNano(), payload); err != nil {
						b.Fatal(err)
					}
				}
				if err := tx.Commit(ctx); err != nil {
					b.Fatal(err)
				}
				done += n
			}
			return done
		}},
	)
}

// replayEvents is the size of W4's log.
func replayEvents(b *testing.B) int {
	n := 1_000_000
	if v := os.Getenv("PERSIST_BENCH_REPLAY"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(b, err, "PERSIST_BENCH_REPLAY")
	}
	return n
}

// replayer returns a mode's run that replays the global log (total
// events) in pages of ops.MaxPage, lending page to each read when it is
// not nil.
func replayer(b *testing.B, p *effect.P, total int, page *ops.Page) func(time.Time) int {
	return func(time.Time) int {
		var from uint64 = 1
		got := 0
		for {
			res, err := effect.Perform(p, ops.ReadAll{From: from, Limit: ops.MaxPage, Page: page})
			if err != nil {
				b.Fatal(err)
			}
			got += len(res.Events)
			if len(res.Events) == 0 {
				break
			}
			from = res.Next
		}
		if got != total {
			b.Fatalf("replayed %d events, want %d", got, total)
		}
		return got
	}
}

// BenchmarkW4Replay replays the global log: "persist" as a reader that
// keeps what it reads (fresh memory for each page), "persist-page" as
// one that lends a page (ops.Page) and so allocates nothing per event,
// "persist-no-readahead" as the first without readahead, against one
// plain SELECT ... ORDER BY pos over the baseline's table.
func BenchmarkW4Replay(b *testing.B) {
	ctx := context.Background()
	total := replayEvents(b)
	s := mustOpen(b)
	p := effect.Handle(ctx, s)
	evs := make([]ops.EventData, ops.MaxCommitEvents)
	for i := range evs {
		evs[i] = ops.EventData{Type: "t", Data: payload}
	}
	for written := 0; written < total; written += len(evs) {
		if _, err := effect.Perform(p, ops.Append{Stream: fmt.Sprintf("s-%d", written%7), Events: evs[:min(len(evs), total-written)]}); err != nil {
			b.Fatal(err)
		}
	}
	noAhead, err := postgres.Open(ctx, testDSN(), postgres.WithSchema(s.Schema()), postgres.WithoutReadahead())
	require.NoError(b, err)
	b.Cleanup(func() { _ = noAhead.Close() })
	pool, table := plainTable(b, 1)
	execSQL(b, "INSERT INTO "+table+" (stream, seq, id, type, at, data) SELECT 's-' || (g % 7), g, gen_random_uuid(), 't', 0, $1 FROM generate_series(1, $2) g", payload, total)
	execSQL(b, "VACUUM ANALYZE "+table)
	execSQL(b, "VACUUM ANALYZE "+pgx.Identifier{s.Schema()}.Sanitize()+".events")
	sideBySide(b, 0,
		mode{"persist", replayer(b, p, total, nil)},
		mode{"persist-page", replayer(b, p, total, new(ops.Page))},
		mode{"persist-no-readahead", replayer(b, effect.Handle(ctx, noAhead), total, nil)},
		mode{"plain", func(time.Time) int {
			rows, err := pool.Query(ctx, "SELECT pos, stream, seq, id, type, at, data FROM "+table+" ORDER BY pos")
			if err != nil {
				b.Fatal(err)
			}
			got := 0
			for rows.Next() {
				var (
					pos, seq, at int64
					stream, typ  string
					id           uuid.UUID
					data         []byte
				)
				if err := rows.Scan(&pos, &stream, &seq, &id, &typ, &at, &data); err != nil {
					b.Fatal(err)
				}
				got++
			}
			if err := rows.Err(); err != nil {
				b.Fatal(err)
			}
			if got != total {
				b.Fatalf("replayed %d events, want %d", got, total)
			}
			return got
		}},
	)
}
