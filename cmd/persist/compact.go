package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"rose-ash.com/persist/backends/postgres"
	"rose-ash.com/persist/ops"
)

// compacter is a backend that removes what retention hides from its
// storage (the PostgreSQL backend does).
type compacter interface {
	Compact(ctx context.Context, noVacuum bool) (postgres.CompactResult, error)
}

// errCompactDir is the answer of compact on a data directory: the file
// backend hides what retention and deletion hide from every read at once,
// but has no physical compaction yet, so there is nothing it could run.
var errCompactDir = errors.New("the file backend does not reclaim space yet: what stream limits and deletions hide is already hidden from every read, and stays in the log files; nothing was changed")

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

A data directory (--dir) is refused, changing nothing: the file backend
hides at once what retention hides, but does not yet remove it from its
log files. A server (--server) is refused too: compaction is an operation
of the host that holds the store, not one of the wire protocol, so run
compact there with --dir or --pg.`,
	example: `  persist compact --pg postgres://root@127.0.0.1:5432/test
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
				return fmt.Errorf("compact %s: %w", g.dir, errCompactDir)
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
