package postgres_test

import (
	"context"
	"fmt"
	"runtime"
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

// The workloads of the figures, each run on the store ("persist") and on
// the baseline a user would write by hand ("plain"): one INSERT per event
// into a table with a bigserial position, synchronous commit on, no
// expectations checked.
//
//	go test ./backends/postgres -run '^$' -bench . -benchtime 2s
//
// W1: one writer, one event per append. W2: 64 writers, each its own
// stream. W3: appends of 1,000 events. W4: replay of the global log.

var payload = []byte(`{"order":17,"customer":"c-0042","lines":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}],"note":"x"}`)

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

func reportEvents(b *testing.B, events int) {
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkW1OneWriter(b *testing.B) {
	ctx := context.Background()
	b.Run("persist", func(b *testing.B) {
		s := mustOpen(b)
		p := effect.Handle(ctx, s)
		b.ResetTimer()
		for i := range b.N {
			_, err := effect.Perform(p, ops.Append{Stream: "s", Expect: ops.Exact(uint64(i)), Events: []ops.EventData{{Type: "t", Data: payload}}})
			if err != nil {
				b.Fatal(err)
			}
		}
		reportEvents(b, b.N)
	})
	b.Run("plain", func(b *testing.B) {
		pool, table := plainTable(b, 1)
		b.ResetTimer()
		for i := range b.N {
			if _, err := pool.Exec(ctx, "INSERT INTO "+table+" (stream, seq, id, type, at, data) VALUES ($1, $2, $3, 't', $4, $5)",
				"s", i+1, uuid.New(), time.Now().UnixNano(), payload); err != nil {
				b.Fatal(err)
			}
		}
		reportEvents(b, b.N)
	})
}

func BenchmarkW2SixtyFourWriters(b *testing.B) {
	ctx := context.Background()
	run := func(b *testing.B, appendOne func(stream string, seq int) error) {
		var streams atomic.Int64
		b.SetParallelism(64 / runtime.GOMAXPROCS(0))
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			stream := fmt.Sprintf("s-%d", streams.Add(1))
			seq := 0
			for pb.Next() {
				seq++
				if err := appendOne(stream, seq); err != nil {
					b.Error(err)
					return
				}
			}
		})
		reportEvents(b, b.N)
	}
	for _, mode := range []struct {
		name string
		opts []postgres.Option
	}{
		{"persist", nil},
		{"persist-no-group-commit", []postgres.Option{postgres.WithoutGroupCommit(), postgres.WithMaxConns(64)}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			s := mustOpen(b, mode.opts...)
			p := effect.Handle(ctx, s)
			run(b, func(stream string, seq int) error {
				_, err := effect.Perform(p, ops.Append{Stream: stream, Expect: ops.Exact(uint64(seq - 1)), Events: []ops.EventData{{Type: "t", Data: payload}}})
				return err
			})
		})
	}
	b.Run("plain", func(b *testing.B) {
		pool, table := plainTable(b, 64)
		run(b, func(stream string, seq int) error {
			_, err := pool.Exec(ctx, "INSERT INTO "+table+" (stream, seq, id, type, at, data) VALUES ($1, $2, $3, 't', $4, $5)",
				stream, seq, uuid.New(), time.Now().UnixNano(), payload)
			return err
		})
	})
}

func BenchmarkW3Appends1000(b *testing.B) {
	ctx := context.Background()
	const n = 1000
	b.Run("persist", func(b *testing.B) {
		s := mustOpen(b)
		p := effect.Handle(ctx, s)
		evs := make([]ops.EventData, n)
		for i := range evs {
			evs[i] = ops.EventData{Type: "t", Data: payload}
		}
		b.ResetTimer()
		for i := range b.N {
			if _, err := effect.Perform(p, ops.Append{Stream: "s", Expect: ops.Exact(uint64(i * n)), Events: evs}); err != nil {
				b.Fatal(err)
			}
		}
		reportEvents(b, b.N*n)
	})
	b.Run("plain", func(b *testing.B) {
		pool, table := plainTable(b, 1)
		b.ResetTimer()
		for i := range b.N {
			tx, err := pool.Begin(ctx)
			if err != nil {
				b.Fatal(err)
			}
			for j := range n {
				if _, err := tx.Exec(ctx, "INSERT INTO "+table+" (stream, seq, id, type, at, data) VALUES ($1, $2, $3, 't', $4, $5)",
					"s", i*n+j+1, uuid.New(), time.Now().UnixNano(), payload); err != nil {
					b.Fatal(err)
				}
			}
			if err := tx.Commit(ctx); err != nil {
				b.Fatal(err)
			}
		}
		reportEvents(b, b.N*n)
	})
}

// replayEvents is the size of W4's log.
const replayEvents = 200_000

func BenchmarkW4Replay(b *testing.B) {
	ctx := context.Background()
	b.Run("persist", func(b *testing.B) {
		s := mustOpen(b)
		p := effect.Handle(ctx, s)
		evs := make([]ops.EventData, ops.MaxCommitEvents)
		for i := range evs {
			evs[i] = ops.EventData{Type: "t", Data: payload}
		}
		for written := 0; written < replayEvents; written += len(evs) {
			if _, err := effect.Perform(p, ops.Append{Stream: fmt.Sprintf("s-%d", written%7), Events: evs}); err != nil {
				b.Fatal(err)
			}
		}
		b.ResetTimer()
		for range b.N {
			var from uint64 = 1
			got := 0
			for {
				page, err := effect.Perform(p, ops.ReadAll{From: from, Limit: ops.MaxPage})
				if err != nil {
					b.Fatal(err)
				}
				got += len(page.Events)
				if len(page.Events) == 0 {
					break
				}
				from = page.Events[len(page.Events)-1].Pos + 1
			}
			if got < replayEvents {
				b.Fatalf("replayed %d events, want %d", got, replayEvents)
			}
		}
		reportEvents(b, b.N*replayEvents)
	})
	b.Run("plain", func(b *testing.B) {
		pool, table := plainTable(b, 1)
		execSQL(b, "INSERT INTO "+table+" (stream, seq, id, type, at, data) SELECT 's-' || (g % 7), g, gen_random_uuid(), 't', 0, $1 FROM generate_series(1, $2) g", payload, replayEvents)
		b.ResetTimer()
		for range b.N {
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
			if got != replayEvents {
				b.Fatalf("replayed %d events, want %d", got, replayEvents)
			}
		}
		reportEvents(b, b.N*replayEvents)
	})
}
