package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/backends/postgres"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// compacter is a backend that removes what retention hides from its
// storage (the PostgreSQL backend does).
type compacter interface {
	Compact(ctx context.Context, noVacuum bool) (postgres.CompactResult, error)
}

var compactCmd = &command{
	name:    "compact",
	args:    "",
	summary: "remove from storage the events that stream limits and deletions hide",
	detail: `
On a PostgreSQL store (--pg) deletes the events that streams' limits
(max-count, max-age, truncate-before) and deletions hide, as of the store's
clock now, in one transaction ordered with every commit, then vacuums the
events table so that PostgreSQL can reuse the space (not with
--no-vacuum). Survivors keep their positions and seqs; positions are never
reused; heads, limits and tombstones stay. Readers and writers keep
working meanwhile. Prints the events removed, whether the table was
vacuumed and the time taken; on a terminal a progress line runs meanwhile.

On a data directory (--dir) rewrites the sealed segments of the log that
hold commits whose events are all hidden: each run of such commits becomes
one small gap record and a hole the filesystem does not store, so their
bytes leave the disk; every other byte, every offset, seq and position
stays. It writes a checkpoint first. The store must not be open for
writing in another process (the error names its pid when known). Prints
the segments examined and rewritten, the commits and events removed, the
bytes left unwritten and the time taken; on a terminal a progress line
counts the segments meanwhile. persist stat shows beforehand what it would
reclaim (bytes-reclaimable).

A server (--server) is refused: compaction is an operation of the host
that holds the store, not one of the wire protocol, so run compact there
with --dir or --pg.`,
	example: `  persist compact --dir ./persist-data
  persist compact --pg postgres://root@127.0.0.1:5432/test
  persist compact --pg postgres://root@127.0.0.1:5432/test --no-vacuum`,
	flags: func(fs *flag.FlagSet) func(context.Context, *Main, *globals, []string) error {
		noVacuum := fs.Bool("no-vacuum", false, "delete the hidden events but do not vacuum the table after")
		return func(ctx context.Context, m *Main, g *globals, args []string) error {
			if len(args) != 0 {
				return usagef("compact", "unexpected argument %q", args[0])
			}
			switch g.kind {
			case onServer:
				return usagef("compact", "%s: compaction is not an operation of the wire protocol; run compact on the server's host, with --dir or --pg", g.backendFlag())
			case onDir:
				if *noVacuum {
					return usagef("compact", "--no-vacuum goes with --pg")
				}
				if err := requireDir(g.dir); err != nil {
					return err
				}
				b, err := m.open(ctx, g, true)
				if err != nil {
					return err
				}
				return compactDir(ctx, m, g, b)
			}
			b, err := m.openPG(ctx, g)
			if err != nil {
				return err
			}
			return compactWith(ctx, m, g, b, *noVacuum)
		}
	},
}

// compactWith compacts b, which must be a compacter, prints what it did
// and closes b.
func compactWith(ctx context.Context, m *Main, g *globals, b ops.Backend, noVacuum bool) (err error) {
	defer func() {
		if cerr := b.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close %s: %w", g.where(), cerr)
		}
	}()
	c, ok := b.(compacter)
	if !ok {
		return fmt.Errorf("compact %s: this store does not compact", g.where())
	}
	prog := m.newProgress("compact: deleting hidden events in "+g.where(), "")
	res, err := c.Compact(ctx, noVacuum)
	prog.done()
	if err != nil {
		return fmt.Errorf("compact %s: %w", g.where(), err)
	}
	m.progressf("compact: %d hidden events deleted in %s", res.Events, res.Took.Round(time.Millisecond))
	return writeOne(m, g, record{
		{"events-removed", res.Events},
		{"vacuumed", res.Vacuumed},
		{"took", res.Took.Round(time.Millisecond).String()},
	})
}

// compactDir compacts the file store b, prints what it did and closes b.
func compactDir(ctx context.Context, m *Main, g *globals, b ops.Backend) (err error) {
	defer func() {
		if cerr := b.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close %s: %w", g.where(), cerr)
		}
	}()
	f, ok := b.(*fileStore)
	if !ok {
		return fmt.Errorf("compact %s: this store does not compact", g.where())
	}
	prog := m.newProgress("compact: rewriting sealed segments of "+g.where(), "segments")
	res, err := f.store.Compact(effect.Handle(ctx, f.os), file.CompactOptions{
		Progress: func(done, total int) { prog.add(1) },
	})
	prog.done()
	if err != nil {
		return fmt.Errorf("compact %s: %w", g.where(), err)
	}
	m.progressf("compact: %d hidden events in %d commits removed, %d bytes, in %s", res.Events, res.Records, res.Bytes, res.Took.Round(time.Millisecond))
	return writeOne(m, g, record{
		{"segments", res.Segments},
		{"rewritten", res.Rewritten},
		{"commits-removed", res.Records},
		{"events-removed", res.Events},
		{"bytes-reclaimed", res.Bytes},
		{"took", res.Took.Round(time.Millisecond).String()},
	})
}
