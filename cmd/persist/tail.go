package main

import (
	"context"
	"errors"
	"flag"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

var tailCmd = &command{
	name:    "tail",
	args:    "[-f] [-n N] STREAM | [-f] [-n N] --all",
	summary: "print the last events of a stream (or of all streams), and follow",
	detail: `
Prints the last N events of STREAM, or with --all the last N of the global
log in position order. With -f it then waits for new events and prints each
as soon as it is durable, until interrupted (exit status 0). tail opens
the data directory read-only and takes no lock, as every command that only
reads does, so it follows what other processes append meanwhile (persist append from another shell, or a
program): it looks for new records every 50 ms, and shows only complete
records, possibly an instant before the writer has acknowledged them.`,
	example: `  persist tail -f orders
  persist tail -n 0 -f --all`,
	flags: func(fs *flag.FlagSet) func(context.Context, *Main, *globals, []string) error {
		follow := fs.Bool("f", false, "follow: keep printing new events until interrupted")
		n := fs.Uint64("n", 10, "print the last `N` events first")
		all := fs.Bool("all", false, "the global log, every stream in position order")
		return func(ctx context.Context, m *Main, g *globals, args []string) error {
			switch {
			case *all && len(args) != 0:
				return usagef("tail", "--all takes no STREAM")
			case !*all && len(args) != 1:
				return usagef("tail", "want one STREAM (or --all), got %d arguments", len(args))
			}
			stream := ""
			if !*all {
				stream = args[0]
				if err := (ops.Head{Stream: stream}).Validate(); err != nil {
					return err
				}
			}
			err := m.withStore(ctx, g, false, func(p *effect.P, _ ops.Backend) error {
				return tail(p, newWriter(m.Stdout, g), stream, *n, *follow)
			})
			if *follow && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				return nil // interrupted: the normal end of tail -f
			}
			return err
		}
	},
}

// tail prints the last n events of stream ("" for the global log) and,
// when follow is set, every later one until the context ends.
func tail(p *effect.P, w *writer, stream string, n uint64, follow bool) error {
	var head uint64
	if stream == "" {
		res, err := effect.Perform(p, ops.ReadAll{Limit: 1})
		if err != nil {
			return err
		}
		head = res.Head
	} else {
		h, err := effect.Perform(p, ops.Head{Stream: stream})
		if err != nil {
			return err
		}
		head = h
	}
	from := uint64(1)
	if head > n {
		from = head - n + 1
	}
	next := from
	for {
		var err error
		if head >= next {
			if stream == "" {
				next, err = readAll(p, w, next, head-next+1)
			} else {
				next, err = readStream(p, w, stream, next, head-next+1)
			}
			if err == nil {
				err = w.flush()
			}
			if err != nil {
				return err
			}
		}
		if !follow {
			return nil
		}
		res, err := effect.Perform(p, ops.Wait{Stream: stream, After: next - 1})
		if err != nil {
			return err
		}
		head = res.Head
	}
}
