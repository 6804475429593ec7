package main

import (
	"context"
	"errors"
	"flag"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

var statCmd = &command{
	name:    "stat",
	args:    "",
	summary: "print what the store holds and what its last recovery did",
	detail: `
Prints one record: streams, events, kv keys and revision, and for a data
directory (not with --pg or --server, where only the counts are shown) the log's segments and bytes, the last LSN, the report of the
read-only replay that opening the store just ran (:recovery; it changes
nothing, so it works beside a writer) and, once a writer's recovery has
changed the directory (cut a torn tail, finished a segment roll, removed
leftover files), the newest such report with its time (:last-recovery),
which stays until a later one replaces it. A backend that tells what
retention hides adds, visible against stored: :streams-deleted,
:events-visible, :events-stored, :kv-versions, :snapshot-generations and,
where it knows them, :bytes-stored, :bytes-reclaimable (what a compaction
would free) and :last-compaction.`,
	example: `  persist stat`,
	flags: func(fs *flag.FlagSet) func(context.Context, *Main, *globals, []string) error {
		return func(ctx context.Context, m *Main, g *globals, args []string) error {
			if len(args) != 0 {
				return usagef("stat", "unexpected argument %q", args[0])
			}
			return m.withStore(ctx, g, false, func(p *effect.P, b ops.Backend) error {
				r, err := statRecord(p, b)
				if err != nil {
					return err
				}
				return writeOne(m, g, r)
			})
		}
	},
}

// statter is a backend that summarises itself (the file backend does).
type statter interface {
	statRecord() record
}

// statRecord counts through the operations of package ops, which every
// backend answers, and adds what a statter knows.
func statRecord(p *effect.P, b ops.Backend) (record, error) {
	rec, err := countRecord(p, b)
	if err != nil {
		return nil, err
	}
	more, err := retentionRecord(p)
	if err != nil {
		return nil, err
	}
	return append(rec, more...), nil
}

// retentionRecord is what persist/stat tells, visible against stored, of
// a backend that answers it; nothing for one that does not.
func retentionRecord(p *effect.P) (record, error) {
	st, err := effect.Perform(p, ops.Stat{})
	if errors.Is(err, effect.ErrUnhandled) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	rec := record{
		{"streams-deleted", st.StreamsDeleted},
		{"events-visible", st.EventsVisible},
		{"events-stored", st.EventsStored},
		{"kv-versions", st.KvVersions},
		{"snapshot-generations", st.Snapshots},
	}
	if st.BytesKnown {
		rec = append(rec, field{"bytes-stored", st.BytesStored}, field{"bytes-reclaimable", st.BytesReclaimable})
	}
	if !st.LastCompaction.IsZero() {
		rec = append(rec, field{"last-compaction", st.LastCompaction})
	}
	return rec, nil
}

// countRecord is the backend's own summary, or counts made through the
// operations every backend answers.
func countRecord(p *effect.P, b ops.Backend) (record, error) {
	if s, ok := b.(statter); ok {
		return s.statRecord(), nil
	}
	streams := 0
	if err := eachStream(p, "", func(ops.StreamInfo) error { streams++; return nil }); err != nil {
		return nil, err
	}
	all, err := effect.Perform(p, ops.ReadAll{Limit: 1})
	if err != nil {
		return nil, err
	}
	keys, after := 0, ""
	for {
		res, err := effect.Perform(p, ops.KvList{After: after, Limit: ops.MaxPage})
		if err != nil {
			return nil, err
		}
		keys += len(res.Entries)
		if len(res.Entries) > 0 {
			after = res.Entries[len(res.Entries)-1].Key
		}
		if !res.More {
			break
		}
	}
	return record{{"streams", streams}, {"events", all.Head}, {"kv-keys", keys}}, nil
}
