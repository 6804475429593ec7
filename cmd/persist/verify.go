package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/effect"
)

var verifyCmd = &command{
	name:     "verify",
	fileOnly: "verify checks the files of a data directory; give --dir (a PostgreSQL store or a server has no such files here)",
	args:     "",
	summary:  "check every record of the data directory, changing nothing",
	detail: `
Checks every record of every segment (frames, checksums and their chain,
LSNs, seqs, positions, revisions) and every snapshot file. Prints a summary
and exits 0 when all is sound; on damage prints the file and byte offset and
exits 1. A torn tail that the next open will cut is reported, not an error.
It takes no lock: beside a writer in another process it checks the log up
to the end the writer had made durable when verify began.`,
	example: `  persist verify --dir /var/lib/feed`,
	flags: func(fs *flag.FlagSet) func(context.Context, *Main, *globals, []string) error {
		return func(ctx context.Context, m *Main, g *globals, args []string) error {
			if len(args) != 0 {
				return usagef("verify", "unexpected argument %q", args[0])
			}
			if err := requireDir(g.dir); err != nil {
				return err
			}
			h, err := platformOS(m.getenv)
			if err != nil {
				return err
			}
			start := time.Now()
			prog := m.newProgress("verify: checking "+g.dir, "")
			rep, err := file.Verify(effect.Handle(ctx, h), g.dir)
			prog.done()
			if err != nil {
				return fmt.Errorf("verify %s: %w", g.dir, err)
			}
			m.progressf("verify: %d records in %s", rep.Records, time.Since(start).Round(time.Millisecond))
			r := record{
				{"ok", true},
				{"segments", rep.Segments},
				{"records", rep.Records},
				{"commits", rep.Commits},
				{"events", rep.Events},
				{"streams", rep.Streams},
				{"kv-keys", rep.KvKeys},
				{"lsn", rep.LSN},
				{"bytes", rep.LogBytes},
				{"snapshots", rep.Snapshots},
			}
			if rep.TornTail != nil {
				r = append(r, field{"torn-tail", tornRecord(rep.TornTail)})
			}
			return writeOne(m, g, r)
		}
	},
}
