package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

var kvCmd = &command{
	name:    "kv",
	summary: "read and change the key-value facet",
	example: `  persist kv put user/17/name '"Ada"' --expect no-stream
  persist kv get user/17/name
  persist kv ls --prefix user/
  persist kv history user/17/name
  persist kv watch --prefix user/`,
	sub: []*command{kvGetCmd, kvPutCmd, kvDelCmd, kvLsCmd, kvHistoryCmd, kvWatchCmd},
}

// ErrNotFound is the error of kv get on an absent key.
var ErrNotFound = fmt.Errorf("not found")

var kvGetCmd = &command{
	name:    "get",
	args:    "KEY",
	summary: "print a key's value and revision; an absent key is an error",
	example: `  persist kv get user/17/name`,
	flags: func(fs *flag.FlagSet) func(context.Context, *Main, *globals, []string) error {
		return func(ctx context.Context, m *Main, g *globals, args []string) error {
			if len(args) != 1 {
				return usagef("kv get", "want one KEY, got %d arguments", len(args))
			}
			op := ops.KvGet{Key: args[0]}
			if err := op.Validate(); err != nil {
				return err
			}
			return m.withStore(ctx, g, false, func(p *effect.P, _ ops.Backend) error {
				res, err := effect.Perform(p, op)
				if err != nil {
					return err
				}
				if res == nil {
					return fmt.Errorf("kv get %q: %w", op.Key, ErrNotFound)
				}
				return writeOne(m, g, kvRecord(*res))
			})
		}
	},
}

func parseKvExpect(cmd, s string) (ops.Expect, error) {
	ex, err := ops.ParseExpect(s)
	if err != nil {
		return ops.Expect{}, usagef(cmd, "--expect %q: want any, no-stream, exists or a revision", s)
	}
	return ex, nil
}

var kvPutCmd = &command{
	writes:  true,
	name:    "put",
	args:    "KEY VALUE [--expect any|no-stream|exists|REV]",
	summary: "set a key, if the expectation on its revision holds",
	detail: `
VALUE is an SX or JSON literal (or @FILE, @- for standard input), stored as
given. --expect no-stream means the key must be absent, exists that it must
be present, a number that its revision must be exactly that.`,
	example: `  persist kv put config/limits '{:rate 100}' --expect 4`,
	flags: func(fs *flag.FlagSet) func(context.Context, *Main, *globals, []string) error {
		expect := fs.String("expect", "any", "the key's revision before the put: `EXPECT` is any, no-stream, exists or a number")
		return func(ctx context.Context, m *Main, g *globals, args []string) error {
			if len(args) != 2 {
				return usagef("kv put", "want KEY VALUE, got %d arguments", len(args))
			}
			ex, err := parseKvExpect("kv put", *expect)
			if err != nil {
				return err
			}
			val, err := parseLiteral(args[1], m.Stdin)
			if errors.Is(err, errOverLimit) {
				return fmt.Errorf("kv put: value: %w", err)
			}
			if err != nil {
				return usagef("kv put", "value: %v", err)
			}
			return kvChange(ctx, m, g, ops.KvPut{Key: args[0], Value: val, Expect: ex})
		}
	},
}

var kvDelCmd = &command{
	writes:  true,
	name:    "del",
	args:    "KEY [--expect any|no-stream|exists|REV]",
	summary: "delete a key, if the expectation on its revision holds",
	example: `  persist kv del config/limits --expect exists`,
	flags: func(fs *flag.FlagSet) func(context.Context, *Main, *globals, []string) error {
		expect := fs.String("expect", "any", "the key's revision before the delete: `EXPECT` is any, no-stream, exists or a number")
		return func(ctx context.Context, m *Main, g *globals, args []string) error {
			if len(args) != 1 {
				return usagef("kv del", "want one KEY, got %d arguments", len(args))
			}
			ex, err := parseKvExpect("kv del", *expect)
			if err != nil {
				return err
			}
			return kvChange(ctx, m, g, ops.KvDelete{Key: args[0], Expect: ex})
		}
	},
}

// kvChange performs a put or a delete and prints its result.
func kvChange(ctx context.Context, m *Main, g *globals, op interface {
	effect.Op[ops.KvResult]
	Validate() error
}) error {
	if err := op.Validate(); err != nil {
		return err
	}
	return m.withStore(ctx, g, true, func(p *effect.P, _ ops.Backend) error {
		res, err := effect.Perform(p, op)
		if err != nil {
			return err
		}
		return writeOne(m, g, record{{"key", res.Key}, {"revision", res.Revision}, {"existed", res.Existed}})
	})
}

var kvLsCmd = &command{
	name:    "ls",
	args:    "[--prefix P]",
	summary: "list entries in key order",
	example: `  persist kv ls --prefix user/`,
	flags: func(fs *flag.FlagSet) func(context.Context, *Main, *globals, []string) error {
		prefix := fs.String("prefix", "", "only keys that start with `P`")
		return func(ctx context.Context, m *Main, g *globals, args []string) error {
			if len(args) != 0 {
				return usagef("kv ls", "unexpected argument %q", args[0])
			}
			if err := (ops.KvList{Prefix: *prefix}).Validate(); err != nil {
				return err
			}
			return m.withStore(ctx, g, false, func(p *effect.P, _ ops.Backend) error {
				return m.printAll(g, func(w *writer) error {
					after := ""
					for {
						res, err := effect.Perform(p, ops.KvList{Prefix: *prefix, After: after, Limit: ops.MaxPage})
						if err != nil {
							return err
						}
						for _, e := range res.Entries {
							if err := w.write(kvRecord(e)); err != nil {
								return err
							}
							after = e.Key
						}
						if !res.More {
							return nil
						}
					}
				})
			})
		}
	},
}
