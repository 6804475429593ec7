package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return fmt.Sprint(*l) }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

var appendCmd = &command{
	writes:  true,
	name:    "append",
	args:    "STREAM TYPE DATA [TYPE DATA ...]",
	summary: "append events to a stream, atomically",
	detail: `
Each event is a TYPE and its DATA: an SX literal or a JSON literal, or
@FILE to read the literal from a file (@- for standard input). The literal
is stored as given, after checking that it parses. The events go in as one
atomic batch, only if --expect holds for the stream's head. Prints where
they were stored. A data literal starting with "-" goes after "--".`,
	example: `  persist append orders order-placed '{:order 17 :total 42.5}' order-paid '{"order": 17}'
  persist append orders order-shipped '{:order 17}' --expect 2`,
	flags: func(fs *flag.FlagSet) func(context.Context, *Main, *globals, []string) error {
		expect := fs.String("expect", "any", "the stream's head before the append: `EXPECT` is any, no-stream, exists or a number")
		var ids stringList
		fs.Var(&ids, "id", "`UUID` of an event, once per event in order (retries with the same IDs are idempotent)")
		return func(ctx context.Context, m *Main, g *globals, args []string) error {
			op, err := parseAppend(args, *expect, ids, m.Stdin)
			if err != nil {
				return err
			}
			return m.withStore(ctx, g, true, func(p *effect.P, _ ops.Backend) error {
				res, err := effect.Perform(p, op)
				if err != nil {
					return err
				}
				return writeOne(m, g, record{
					{"stream", res.Stream},
					{"first-seq", res.FirstSeq},
					{"head", res.Head},
					{"first-pos", res.FirstPos},
					{"last-pos", res.LastPos},
				})
			})
		}
	},
}

// parseAppend builds and validates the append, so that a bad command line
// is refused before the store is touched.
func parseAppend(args []string, expect string, ids []string, stdin io.Reader) (ops.Append, error) {
	const cmd = "append"
	if len(args) < 3 {
		return ops.Append{}, usagef(cmd, "want STREAM TYPE DATA [TYPE DATA ...], got %d arguments", len(args))
	}
	if (len(args)-1)%2 != 0 {
		return ops.Append{}, usagef(cmd, "type %q has no data", args[len(args)-1])
	}
	ex, err := ops.ParseExpect(expect)
	if err != nil {
		return ops.Append{}, usagef(cmd, "--expect %q: want any, no-stream, exists or a number", expect)
	}
	n := (len(args) - 1) / 2
	if len(ids) > n {
		return ops.Append{}, usagef(cmd, "%d --id flags for %d events", len(ids), n)
	}
	op := ops.Append{Stream: args[0], Expect: ex, Events: make([]ops.EventData, n)}
	for i := range n {
		typ, lit := args[1+2*i], args[2+2*i]
		data, err := parseLiteral(lit, stdin)
		if errors.Is(err, errOverLimit) {
			return ops.Append{}, fmt.Errorf("%s: event %d (%s) data: %w", cmd, i+1, typ, err)
		}
		if err != nil {
			return ops.Append{}, usagef(cmd, "event %d (%s) data: %v", i+1, typ, err)
		}
		op.Events[i] = ops.EventData{Type: typ, Data: data}
		if i < len(ids) {
			id, err := ops.ParseEventID(ids[i])
			if err != nil {
				var ie *ops.InvalidError
				if errors.As(err, &ie) {
					return ops.Append{}, usagef(cmd, "--id %q: %s", ids[i], ie.Reason)
				}
				return ops.Append{}, usagef(cmd, "--id %q: %v", ids[i], err)
			}
			op.Events[i].ID = id
		}
	}
	if err := op.Validate(); err != nil {
		return ops.Append{}, err
	}
	return op, nil
}

// writeOne prints a single record.
func writeOne(m *Main, g *globals, r record) error {
	w := newWriter(m.Stdout, g)
	if err := w.write(r); err != nil {
		return err
	}
	return w.flush()
}
