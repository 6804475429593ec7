package main

import (
	"context"
	"flag"
	"fmt"

	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/effect"
)

var dumpCmd = &command{
	name:     "dump",
	fileOnly: "dump prints the records of the log files in a data directory; give --dir (a PostgreSQL store or a server has no such files here)",
	args:     "",
	summary:  "print every record of the log, in log order",
	detail: `
Prints one line per record: its file, offset, type (header, commit, seal),
LSN, checksums and size, and for a commit its time, kv revision, events and
kv changes. Every record is checked as verify checks it; damage ends the
dump with an error naming the file and offset. Changes nothing.`,
	example: `  persist dump -o json | jq .lsn`,
	flags: func(fs *flag.FlagSet) func(context.Context, *Main, *globals, []string) error {
		return func(ctx context.Context, m *Main, g *globals, args []string) error {
			if len(args) != 0 {
				return usagef("dump", "unexpected argument %q", args[0])
			}
			if err := requireDir(g.dir); err != nil {
				return err
			}
			h, err := platformOS(m.getenv)
			if err != nil {
				return err
			}
			w := newWriter(m.Stdout, g)
			var prog *progress // on the terminal the records are the progress
			if !m.StdoutTerminal {
				prog = m.newProgress("dump: "+g.dir, "records")
			}
			defer prog.done()
			for rec, err := range file.Dump(effect.Handle(ctx, h), g.dir) {
				prog.add(1)
				if err != nil {
					if ferr := w.flush(); ferr != nil {
						return ferr
					}
					return fmt.Errorf("dump %s: %w", g.dir, err)
				}
				if err := w.write(dumpRecord(rec)); err != nil {
					return err
				}
			}
			return w.flush()
		}
	},
}

func dumpRecord(r file.Record) record {
	out := record{
		{"file", r.File},
		{"offset", r.Offset},
		{"type", r.Type},
		{"lsn", r.LSN},
		{"crc", r.CRC},
		{"prev-crc", r.PrevCRC},
		{"size", r.Size},
	}
	if r.Type != "commit" {
		return out
	}
	evs := make(records, len(r.Events))
	for i, ev := range r.Events {
		evs[i] = eventRecord(ev)
	}
	kv := make(records, len(r.Kv))
	for i, k := range r.Kv {
		kv[i] = record{{"key", k.Key}, {"delete", k.Delete}}
		if !k.Delete {
			kv[i] = append(kv[i], field{"value", blob(k.Value)})
		}
	}
	return append(out, field{"at", r.At}, field{"revision", r.Revision}, field{"events", evs}, field{"kv", kv})
}
