package main

import (
	"context"
	"flag"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

var readCmd = &command{
	name:    "read",
	args:    "STREAM [--from N] [--limit N]",
	summary: "print a stream's events in order",
	detail: `
Prints one event per line: {:at :data :id :pos :seq :stream :type}. The data
is shown as its SX value (a JSON literal as the equal SX value). With -o json
it is shown as JSON whether it was appended as JSON or as SX ({:order 17} as
{"order":17}); SX with no JSON form (NaN, a dict with number keys) as its
text under data_sx. With -o table, one row per event under a header.`,
	example: `  persist read orders --from 2 --limit 10`,
	flags: func(fs *flag.FlagSet) func(context.Context, *Main, *globals, []string) error {
		from := fs.Uint64("from", 1, "first `seq` to print")
		limit := fs.Uint64("limit", 0, "print at most `N` events (0: all)")
		return func(ctx context.Context, m *Main, g *globals, args []string) error {
			if len(args) != 1 {
				return usagef("read", "want one STREAM, got %d arguments", len(args))
			}
			if err := (ops.Read{Stream: args[0]}).Validate(); err != nil {
				return err
			}
			return m.withStore(ctx, g, false, func(p *effect.P, _ ops.Backend) error {
				return m.printAll(g, func(w *writer) error {
					_, err := readStream(p, w, args[0], *from, *limit)
					return err
				})
			})
		}
	},
}

// readStream prints the events of stream from seq from, at most limit of
// them (0: all up to the head seen), and returns the seq after the last one
// printed.
func readStream(p *effect.P, w *writer, stream string, from, limit uint64) (uint64, error) {
	from = max(from, 1)
	printed := uint64(0)
	for limit == 0 || printed < limit {
		page := ops.MaxPage
		if limit > 0 {
			page = int(min(limit-printed, ops.MaxPage))
		}
		res, err := effect.Perform(p, ops.Read{Stream: stream, From: from, Limit: page})
		if err != nil {
			return from, err
		}
		for _, ev := range res.Events {
			if err := w.write(eventRecord(ev)); err != nil {
				return from, err
			}
			from = ev.Seq + 1
			printed++
		}
		if res.Next > from { // a short page past hidden events goes on at Next
			from = res.Next
		}
		if from > res.Head || (res.Next == 0 && len(res.Events) < page) {
			break
		}
	}
	return from, nil
}

// readAll is readStream for the global log, by position.
func readAll(p *effect.P, w *writer, from, limit uint64) (uint64, error) {
	from = max(from, 1)
	printed := uint64(0)
	for limit == 0 || printed < limit {
		page := ops.MaxPage
		if limit > 0 {
			page = int(min(limit-printed, ops.MaxPage))
		}
		res, err := effect.Perform(p, ops.ReadAll{From: from, Limit: page})
		if err != nil {
			return from, err
		}
		for _, ev := range res.Events {
			if err := w.write(eventRecord(ev)); err != nil {
				return from, err
			}
			from = ev.Pos + 1
			printed++
		}
		if res.Next > from { // a short page past hidden events goes on at Next
			from = res.Next
		}
		if from > res.Head || (res.Next == 0 && len(res.Events) < page) {
			break
		}
	}
	return from, nil
}
