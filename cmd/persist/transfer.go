package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/transfer"
	"rose-ash.com/persist/transfer/stage"
)

var exportCmd = &command{
	writes:  true,
	name:    "export",
	args:    "[FILE | -]",
	summary: "write the whole store to a file in the versioned export format",
	detail: `
Writes every event (ID, stream, seq, position, time, type, data), every
stream with its head and limits, every kv entry with its revision and its
older kept versions, and every snapshot with its older kept generations,
then a trailer with the counts, the store digest and a SHA-256
of the file, so that a cut or damaged export is refused on import (the
format is written out in package transfer's doc). FILE is written to a
temporary name and renamed when complete; - or no FILE writes to standard
output. On a data directory export holds the writer's lock, so nothing
is written meanwhile; on PostgreSQL or a server (--server, with a token
granted read and kv-read on every name), quiet the writers first (or use
persist migrate). Prints the summary, with the digest, to stderr.`,
	example: `  persist export backup.pexp
  persist export - --pg postgres://localhost/app | gzip > backup.pexp.gz`,
	flags: func(fs *flag.FlagSet) func(context.Context, *Main, *globals, []string) error {
		return func(ctx context.Context, m *Main, g *globals, args []string) error {
			if len(args) > 1 {
				return usagef("export", "want at most one FILE, got %d arguments", len(args))
			}
			if g.kind == onDir {
				if err := requireDir(g.dir); err != nil {
					return err
				}
			}
			// On a data directory, as its writer: nothing else writes
			// while the export runs. On a data directory or PostgreSQL the
			// store's clock is one the export holds at its start, so that
			// what a max-age hides is one cut (transfer.ExportOptions).
			var clk *transfer.Clock
			if g.kind != onServer {
				clk = &transfer.Clock{}
				g.clock = clk
			}
			b, err := m.open(ctx, g, true)
			if err != nil {
				return err
			}
			defer b.Close()
			out := io.Writer(m.Stdout)
			var tmp *os.File
			if len(args) == 1 && args[0] != "-" {
				tmp, err = os.CreateTemp(filepath.Dir(args[0]), "."+filepath.Base(args[0])+".tmp-")
				if err != nil {
					return fmt.Errorf("export: %w", err)
				}
				defer func() {
					if tmp != nil {
						tmp.Close()
						os.Remove(tmp.Name())
					}
				}()
				out = tmp
			}
			s, err := transfer.ExportWith(ctx, b, out, transfer.ExportOptions{Clock: clk})
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			if tmp != nil {
				if err := tmp.Sync(); err != nil {
					return fmt.Errorf("export: %w", err)
				}
				if err := tmp.Close(); err != nil {
					return fmt.Errorf("export: %w", err)
				}
				if err := os.Rename(tmp.Name(), args[0]); err != nil {
					return fmt.Errorf("export: %w", err)
				}
				tmp = nil
			}
			return writeSummary(m, g, "exported", s)
		}
	},
}

func summaryRecord(what string, s transfer.Summary) record {
	r := record{{"done", what}, {"events", s.Counts.Events}, {"streams", s.Counts.Streams}, {"kv", s.Counts.Kv},
		{"snapshots", s.Counts.Snapshots}, {"last-pos", s.LastPos}, {"digest", s.Digest}}
	if s.Counts.Hidden > 0 { // positions a stream's limits hide
		r = append(r, field{"hidden", s.Counts.Hidden})
	}
	if s.Counts.KvVersions > 0 { // older kv versions kept
		r = append(r, field{"kv-versions", s.Counts.KvVersions})
	}
	if s.Counts.Generations > 0 { // older snapshot generations kept
		r = append(r, field{"generations", s.Counts.Generations})
	}
	return r
}

// writeSummary prints what an export or import did: to stderr when the
// export itself went to stdout, else as the command's output.
func writeSummary(m *Main, g *globals, what string, s transfer.Summary) error {
	if what == "exported" {
		gg := *g
		return writeOne(&Main{Stdout: m.Stderr, Stderr: m.Stderr, Getenv: m.Getenv}, &gg, summaryRecord(what, s))
	}
	return writeOne(m, g, summaryRecord(what, s))
}

var importCmd = &command{
	writes:  true,
	name:    "import",
	args:    "FILE | -",
	summary: "load an export into an empty store, all of it or nothing",
	detail: `
Reads an export (persist export) into the store of --dir or --pg, which
must be empty: a data directory that is absent or empty, a PostgreSQL
schema with nothing in it. Events keep their IDs, positions, seqs and
times, kv entries their revisions. The import fills a store made for it
(a temporary directory beside --dir, a schema of its own beside
--pg-schema) and puts it in place only when the whole export was read,
checked and its digest matched: a truncated, damaged or newer export is an
error and the target is left as it was.`,
	example: `  persist import backup.pexp --dir ./restored
  gunzip -c backup.pexp.gz | persist import - --pg postgres://localhost/app`,
	flags: func(fs *flag.FlagSet) func(context.Context, *Main, *globals, []string) error {
		return func(ctx context.Context, m *Main, g *globals, args []string) error {
			if len(args) != 1 {
				return usagef("import", "want one FILE (or - for standard input), got %d arguments", len(args))
			}
			in := m.Stdin
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return fmt.Errorf("import: %w", err)
				}
				defer f.Close()
				in = f
			} else if in == nil {
				return usagef("import", "no standard input to read")
			}
			st, err := m.stageFor(ctx, g)
			if err != nil {
				return fmt.Errorf("import: %w", err)
			}
			s, err := transfer.Import(ctx, in, st.Target())
			if err != nil {
				_ = st.Abort()
				return fmt.Errorf("import into %s: %w (the target is unchanged)", st.Where, err)
			}
			b, err := st.Publish(ctx)
			if err != nil {
				return fmt.Errorf("import into %s: %w", st.Where, err)
			}
			if err := b.Close(); err != nil {
				return err
			}
			return writeSummary(m, g, "imported", s)
		}
	},
}

// stageFor stages a store for the command's target (--dir or --pg).
func (m *Main) stageFor(ctx context.Context, g *globals) (*stage.Staged, error) {
	h, err := platformOS(m.getenv)
	if err != nil {
		return nil, err
	}
	var st *stage.Staged
	switch g.kind {
	case onServer:
		return nil, usagef("import", "--server: import into a store on its own host with --dir or --pg, then serve it")
	case onPG:
		st, err = stage.Postgres(ctx, g.pg, g.pgSchema)
	default:
		st, err = stage.File(ctx, g.dir, file.Options{SegmentSize: g.segmentSize})
	}
	if err != nil {
		return nil, err
	}
	st.Clock.Fallback = h.Now
	return st, nil
}
