package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/programs"
)

var streamCmd = &command{
	name:    "stream",
	summary: "show and set a stream's retention limits, delete a stream",
	example: `  persist stream meta orders --max-count 1000 --max-age 30d
  persist stream delete orders --hard`,
	sub: []*command{streamMetaCmd, streamDeleteCmd},
}

var streamMetaCmd = &command{
	writes:  true,
	name:    "meta",
	args:    "STREAM [--max-count N] [--max-age D] [--truncate-before SEQ] [--expect any|no-stream|exists|HEAD]",
	summary: "print a stream's limits and deletion state, or change its limits",
	detail: `
Without limit flags, prints the stream's metadata: {:stream :head :max-count
:max-age :truncate-before :deleted :tombstone}. With them, sets the limits
named and keeps the others as they were (0 lifts a limit), then prints the
result. --max-count N keeps the last N events, --max-age D keeps events
younger than D by the store's clock (a Go duration such as 90m or 720h, or
a number of days such as 30d), --truncate-before SEQ hides the seqs below
SEQ (at most the head plus one). Hidden events are gone from every read at
once; their space is reclaimed by compaction. --expect is checked against
the stream's head. Setting limits on a soft-deleted stream ends the
deletion.`,
	example: `  persist stream meta orders
  persist stream meta orders --max-count 1000
  persist stream meta orders --max-age 0 --truncate-before 50 --expect 120`,
	flags: func(fs *flag.FlagSet) func(context.Context, *Main, *globals, []string) error {
		maxCount := fs.String("max-count", "", "keep the last `N` events (0: no limit)")
		maxAge := fs.String("max-age", "", "keep events younger than `D`, such as 720h or 30d (0: no limit)")
		truncate := fs.String("truncate-before", "", "hide the seqs below `SEQ` (0: none)")
		expect := fs.String("expect", "any", "the stream's head before the change: `EXPECT` is any, no-stream, exists or a number")
		return func(ctx context.Context, m *Main, g *globals, args []string) error {
			if len(args) != 1 {
				return usagef("stream meta", "want one STREAM, got %d arguments", len(args))
			}
			stream := args[0]
			if err := (ops.StreamMetaRead{Stream: stream}).Validate(); err != nil {
				return err
			}
			set := map[string]bool{}
			fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
			change := set["max-count"] || set["max-age"] || set["truncate-before"]
			if !change && set["expect"] {
				return usagef("stream meta", "--expect needs a limit to set")
			}
			var (
				count, before uint64
				age           time.Duration
				err           error
			)
			if set["max-count"] {
				if count, err = parseCount("max-count", *maxCount); err != nil {
					return err
				}
			}
			if set["truncate-before"] {
				if before, err = parseCount("truncate-before", *truncate); err != nil {
					return err
				}
			}
			if set["max-age"] {
				if age, err = parseAge(*maxAge); err != nil {
					return err
				}
			}
			ex, err := ops.ParseExpect(*expect)
			if err != nil {
				return usagef("stream meta", "--expect %q: want any, no-stream, exists or a head", *expect)
			}
			return m.withStore(ctx, g, change, func(p *effect.P, _ ops.Backend) error {
				cur, err := effect.Perform(p, ops.StreamMetaRead{Stream: stream})
				if err != nil || !change {
					if err != nil {
						return err
					}
					return writeOne(m, g, metaRecord(cur))
				}
				meta := cur.StreamMeta
				if set["max-count"] {
					meta.MaxCount = count
				}
				if set["max-age"] {
					meta.MaxAge = age
				}
				if set["truncate-before"] {
					meta.TruncateBefore = before
				}
				res, err := effect.Perform(p, ops.StreamMetaWrite{Stream: stream, Expect: ex, Meta: meta})
				if err != nil {
					return err
				}
				return writeOne(m, g, metaRecord(res))
			})
		}
	},
}

// parseCount reads a max-count or truncate-before flag: a decimal count.
func parseCount(flagName, s string) (uint64, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, usagef("stream meta", "--%s %q: want a whole number, 0 or more", flagName, s)
	}
	return n, nil
}

// parseAge reads a max-age: a Go duration, or a whole number of days with
// the suffix d. A negative age parses, for the operation to refuse with
// the rule it breaks.
func parseAge(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		const maxDays = math.MaxInt64 / int64(24*time.Hour) // what a Duration holds
		n, err := strconv.ParseInt(days, 10, 64)
		if err == nil && n >= -maxDays && n <= maxDays {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	return 0, usagef("stream meta", "--max-age %q: want a duration such as 90m, 720h or 30d", s)
}

func metaRecord(r ops.StreamMetaResult) record {
	return record{
		{"stream", r.Stream},
		{"head", r.Head},
		{"max-count", r.MaxCount},
		{"max-age", r.MaxAge},
		{"truncate-before", r.TruncateBefore},
		{"deleted", r.Deleted},
		{"tombstone", r.Tombstone},
	}
}

var streamDeleteCmd = &command{
	writes:  true,
	name:    "delete",
	args:    "STREAM [--hard] [--expect any|no-stream|exists|HEAD]",
	summary: "delete a stream: soft (a later append continues it) or hard (never written again)",
	detail: `
A soft delete hides every event of the stream: it reads as absent and is
left out of persist streams until it is appended to again, when its
numbering goes on from the old head. --hard leaves a tombstone: the stream's
events are hidden for ever and every later write to it is refused. Space is
reclaimed by compaction. Prints the stream's metadata after the delete.`,
	example: `  persist stream delete cart/17
  persist stream delete user/42 --hard --expect 9`,
	flags: func(fs *flag.FlagSet) func(context.Context, *Main, *globals, []string) error {
		hard := fs.Bool("hard", false, "leave a tombstone: the stream can never be written again")
		expect := fs.String("expect", "any", "the stream's head before the delete: `EXPECT` is any, no-stream, exists or a number")
		return func(ctx context.Context, m *Main, g *globals, args []string) error {
			if len(args) != 1 {
				return usagef("stream delete", "want one STREAM, got %d arguments", len(args))
			}
			ex, err := ops.ParseExpect(*expect)
			if err != nil {
				return usagef("stream delete", "--expect %q: want any, no-stream, exists or a head", *expect)
			}
			op := ops.StreamDelete{Stream: args[0], Expect: ex, Hard: *hard}
			if err := op.Validate(); err != nil {
				return err
			}
			return m.withStore(ctx, g, true, func(p *effect.P, _ ops.Backend) error {
				res, err := effect.Perform(p, op)
				if err != nil {
					return err
				}
				return writeOne(m, g, metaRecord(res))
			})
		}
	},
}

var kvHistoryCmd = &command{
	name:    "history",
	args:    "KEY [--limit N]",
	summary: "print a key's kept versions, newest first, deletes included",
	detail: `
Prints {:key :revision :value :deleted} for each version the store keeps of
KEY (a delete without :value) (the last 10 unless the store keeps another number), newest first.`,
	example: `  persist kv history config/limits --limit 3`,
	flags: func(fs *flag.FlagSet) func(context.Context, *Main, *globals, []string) error {
		limit := fs.Int("limit", 0, "at most `N` versions (0: every kept one)")
		return func(ctx context.Context, m *Main, g *globals, args []string) error {
			if len(args) != 1 {
				return usagef("kv history", "want one KEY, got %d arguments", len(args))
			}
			op := ops.KvHistory{Key: args[0], Limit: *limit}
			if err := op.Validate(); err != nil {
				return err
			}
			return m.withStore(ctx, g, false, func(p *effect.P, _ ops.Backend) error {
				res, err := effect.Perform(p, op)
				if err != nil {
					return err
				}
				return m.printAll(g, func(w *writer) error {
					for _, v := range res.Versions {
						if err := w.write(kvVersionRecord(v)); err != nil {
							return err
						}
					}
					return nil
				})
			})
		}
	},
}

// kvVersionRecord is a version as printed: a delete has no value.
func kvVersionRecord(v ops.KvVersion) record {
	if v.Deleted {
		return record{{"key", v.Key}, {"revision", v.Revision}, {"deleted", true}}
	}
	return record{{"key", v.Key}, {"revision", v.Revision}, {"value", blob(v.Value)}, {"deleted", false}}
}

var kvWatchCmd = &command{
	name:    "watch",
	args:    "[--prefix P] [--from REV] [--idle D]",
	summary: "print the changes of keys under a prefix from a revision on, and wait for more",
	detail: `
Prints {:key :revision :value :deleted} for every change under the prefix,
in revision order, from --from on (0: the oldest revision the store's
history still holds whole), then waits for more until interrupted or, with
--idle, until no change came for that long. A --from older than history
holds is an error saying so: read the current state (persist kv ls) and
watch from its revision.`,
	example: `  persist kv watch --prefix config/
  persist kv watch --prefix user/ --from 120 --idle 5s`,
	flags: func(fs *flag.FlagSet) func(context.Context, *Main, *globals, []string) error {
		prefix := fs.String("prefix", "", "only keys that start with `P`")
		from := fs.Uint64("from", 0, "the first revision to print (0: the oldest history holds)")
		idle := fs.Duration("idle", 0, "stop when no change comes within `D` (0: wait until interrupted)")
		return func(ctx context.Context, m *Main, g *globals, args []string) error {
			if len(args) != 0 {
				return usagef("kv watch", "unexpected argument %q", args[0])
			}
			if err := (ops.KvWatch{Prefix: *prefix}).Validate(); err != nil {
				return err
			}
			if *idle < 0 {
				return usagef("kv watch", "--idle %s: negative", *idle)
			}
			err := m.withStore(ctx, g, false, func(p *effect.P, _ ops.Backend) error {
				w := newWriter(m.Stdout, g)
				_, err := programs.Watch(p, programs.WatchOptions{
					Prefix: *prefix, From: *from, Idle: *idle,
					Handle: func(_ *effect.P, v ops.KvVersion) error {
						if err := w.write(kvVersionRecord(v)); err != nil {
							return err
						}
						return w.flush() // each change as it comes
					},
				})
				if ferr := w.flush(); err == nil {
					err = ferr
				}
				return err
			})
			if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				return nil // interrupted: the normal end of a watch
			}
			if err != nil {
				return fmt.Errorf("kv watch: %w", err)
			}
			return nil
		}
	},
}
