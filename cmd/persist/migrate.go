package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/backends/postgres"
	"rose-ash.com/persist/transfer"
	"rose-ash.com/persist/transfer/stage"
)

var migrateCmd = &command{
	name:    "migrate",
	args:    "--from SRC --to DST",
	summary: "move a store to another backend while it takes writes, losing none",
	detail: `
SRC and DST are a data directory or a PostgreSQL DSN (postgres://…),
with --from-schema and --to-schema naming PostgreSQL schemas. DST must be
empty. The migration copies the log, follows it while writers go on,
fences the source (from then on every write to it fails with an error
naming DST), copies the rest, the kv entries and the snapshots, checks
that both stores have the same digest, and only then puts DST in place.
Writers refused by the fence send their writes to DST (with the same
event IDs, they are stored once). A PostgreSQL source is fenced in the
database, for every process that writes it; a data directory is opened
as its writer (so no other process writes it meanwhile) and is left with
a MOVED file that makes persist refuse to write it again. On an error
before DST is in place, the fence is lifted and DST is left empty.
Prints the figures: rounds, events copied before the fence, how long
writes were fenced.`,
	example: `  persist migrate --from ./persist-data --to postgres://app@db/app
  persist migrate --from postgres://app@old/app --to postgres://app@new/app --to-schema persist`,
	flags: func(fs *flag.FlagSet) func(context.Context, *Main, *globals, []string) error {
		from := fs.String("from", "", "the source store: a data `DIR` or a PostgreSQL DSN")
		to := fs.String("to", "", "the target store, empty: a data `DIR` or a PostgreSQL DSN")
		fromSchema := fs.String("from-schema", "", "the source's PostgreSQL `SCHEMA` (default persist)")
		toSchema := fs.String("to-schema", "", "the target's PostgreSQL `SCHEMA` (default persist)")
		lag := fs.Uint64("lag", 1000, "fence the source once the copy is `N` events behind it")
		return func(ctx context.Context, m *Main, g *globals, args []string) error {
			if len(args) != 0 {
				return usagef("migrate", "takes no arguments, got %q", args[0])
			}
			if *from == "" || *to == "" {
				return usagef("migrate", "--from and --to are both needed")
			}
			if *from == *to && *fromSchema == *toSchema {
				return usagef("migrate", "--from and --to name the same store")
			}
			if *fromSchema != "" && !isDSN(*from) || *toSchema != "" && !isDSN(*to) {
				return usagef("migrate", "--from-schema and --to-schema go with a PostgreSQL DSN")
			}
			return m.migrate(ctx, g, *from, *fromSchema, *to, *toSchema, *lag)
		}
	},
}

func isDSN(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// storeName is how a fence and the figures name a store.
func storeName(spec, schema string) string {
	if !isDSN(spec) {
		return spec
	}
	if schema == "" {
		schema = postgres.DefaultSchema
	}
	return postgres.Redact(spec) + " (schema " + schema + ")"
}

// movedFile, in a data directory, names the store it moved to.
const movedFile = "MOVED"

// checkMoved refuses a data directory whose store was migrated away.
func checkMoved(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, movedFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: %s moved to %s (remove %s to use it again)", transfer.ErrFenced, dir, strings.TrimSpace(string(b)), filepath.Join(dir, movedFile))
}

func writeMoved(dir, to string) error {
	tmp := filepath.Join(dir, movedFile+".tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(to + "\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, movedFile)); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (m *Main) migrate(ctx context.Context, g *globals, from, fromSchema, to, toSchema string, lag uint64) error {
	toName := storeName(to, toSchema)
	var src transfer.Source
	var closeSrc func() error
	switch {
	case isDSN(from):
		var opts []postgres.Option
		if fromSchema != "" {
			opts = append(opts, postgres.WithSchema(fromSchema))
		}
		clk := &transfer.Clock{}
		s, err := postgres.Open(ctx, from, append(opts, postgres.WithClock(clk.Now))...)
		if err != nil {
			return err
		}
		src, closeSrc = stage.PostgresSource(s, from), s.Close
		src.Clock = clk
	default:
		if err := requireDir(from); err != nil {
			return err
		}
		if err := checkMoved(from); err != nil {
			return err
		}
		// The store's clock is one the migration can hold (Source.Clock).
		h, err := platformOS(m.getenv)
		if err != nil {
			return err
		}
		clk := &transfer.Clock{}
		holdable(h, clk)
		f, err := openFileOS(ctx, from, file.Options{}, h)
		if err != nil {
			return fmt.Errorf("open %s: %w", from, err)
		}
		gate := transfer.NewGate(f)
		src = gate.Source()
		src.Clock = clk
		fence := src.Fence
		src.Fence = func(ctx context.Context, movedTo string) error {
			if err := fence(ctx, movedTo); err != nil {
				return err
			}
			return writeMoved(from, movedTo)
		}
		unfence := src.Unfence
		src.Unfence = func(ctx context.Context) error {
			if err := os.Remove(filepath.Join(from, movedFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			return unfence(ctx)
		}
		closeSrc = f.Close
	}
	defer closeSrc()
	var st *stage.Staged
	var err error
	if isDSN(to) {
		st, err = stage.Postgres(ctx, to, toSchema)
	} else {
		st, err = stage.File(ctx, to, file.Options{SegmentSize: g.segmentSize})
	}
	if err != nil {
		return fmt.Errorf("migrate to %s: %w", toName, err)
	}
	sum, err := transfer.Migrate(ctx, src, st.Target(), transfer.MigrateOptions{MovedTo: toName, Lag: lag})
	if err != nil {
		_ = st.Abort()
		return fmt.Errorf("migrate to %s: %w (the source takes writes again; the target is unchanged)", toName, err)
	}
	b, err := st.Publish(ctx)
	if err != nil {
		return fmt.Errorf("migrate to %s: %w (the source stays fenced)", toName, err)
	}
	if err := b.Close(); err != nil {
		return err
	}
	return writeOne(m, g, record{{"done", "migrated"}, {"to", toName}, {"events", sum.Counts.Events}, {"streams", sum.Counts.Streams},
		{"kv", sum.Counts.Kv}, {"snapshots", sum.Counts.Snapshots}, {"hidden", sum.Counts.Hidden}, {"kv-versions", sum.Counts.KvVersions}, {"generations", sum.Counts.Generations}, {"rounds", sum.Rounds}, {"at-fence", sum.AtFence},
		{"fenced-ms", sum.FencedFor.Milliseconds()}, {"took-ms", sum.Took.Milliseconds()}, {"digest", sum.Digest}})
}
