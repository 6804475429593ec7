package main

import (
	"context"
	"flag"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

var streamsCmd = &command{
	name:    "streams",
	args:    "[--prefix P]",
	summary: "list the streams and their heads",
	detail:  `Prints {:head :stream} for every non-empty stream, in byte order of name.`,
	example: `  persist streams --prefix order`,
	flags: func(fs *flag.FlagSet) func(context.Context, *Main, *globals, []string) error {
		prefix := fs.String("prefix", "", "only streams whose names start with `P`")
		return func(ctx context.Context, m *Main, g *globals, args []string) error {
			if len(args) != 0 {
				return usagef("streams", "unexpected argument %q", args[0])
			}
			if err := (ops.Streams{Prefix: *prefix}).Validate(); err != nil {
				return err
			}
			return m.withStore(ctx, g, false, func(p *effect.P, _ ops.Backend) error {
				return m.printAll(g, func(w *writer) error {
					return eachStream(p, *prefix, func(s ops.StreamInfo) error {
						return w.write(record{{"stream", s.Name}, {"head", s.Head}})
					})
				})
			})
		}
	},
}

// eachStream calls fn for every stream with prefix, in name order.
func eachStream(p *effect.P, prefix string, fn func(ops.StreamInfo) error) error {
	after := ""
	for {
		res, err := effect.Perform(p, ops.Streams{Prefix: prefix, After: after, Limit: ops.MaxPage})
		if err != nil {
			return err
		}
		for _, s := range res.Streams {
			if err := fn(s); err != nil {
				return err
			}
			after = s.Name
		}
		if !res.More {
			return nil
		}
	}
}
