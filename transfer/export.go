package transfer

import (
	"context"
	"fmt"
	"io"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// Summary is what an export or an import did.
type Summary struct {
	Counts  Counts
	LastPos uint64
	Digest  string // the store digest of what was moved
	Took    time.Duration
}

// Export writes the content of the store h answers to w in the export
// format of the package doc: its events up to the global head it sees
// first, in position order, then its streams (with the heads those
// events give), kv entries and snapshots, and the trailer. The store
// should not be written meanwhile (persist export holds a file store's
// writer lock; see the package doc for a live store). It is ExportWith
// without options: the source's clock runs while it is read.
func Export(ctx context.Context, h effect.Handler, w io.Writer) (Summary, error) {
	return ExportWith(ctx, h, w, ExportOptions{})
}

// ExportOptions tune ExportWith. The zero value is Export.
type ExportOptions struct {
	// Clock, when set, is the Clock the source was opened with: the
	// export holds it, for as long as it reads, at the time it reads as
	// it begins, so that what a max-age hides is decided at one time, the
	// trailer's at, for the whole export (see the package doc, Export).
	// Whatever the store stamps meanwhile gets that time too: give it
	// only for a store no one writes.
	Clock *Clock
}

// ExportWith is Export with options.
func ExportWith(ctx context.Context, h effect.Handler, w io.Writer, opts ExportOptions) (Summary, error) {
	start := time.Now()
	// The time visibility is decided at: the source's clock as the walk
	// begins, held there when the export may hold it. An import checks
	// its digest with its clock held there.
	at, err := effect.Perform(effect.Handle(ctx, h), ops.Now{})
	if err != nil {
		return Summary{}, fmt.Errorf("transfer: read the source's clock: %w", err)
	}
	if opts.Clock != nil {
		opts.Clock.Hold(at)
		defer opts.Clock.Release()
	}
	enc, err := newEncoder(w)
	if err != nil {
		return Summary{}, err
	}
	var d *digester
	wk, err := walk(ctx, h, func(x *digester) { d = x }, &visitor{
		event:     enc.event,
		hidden:    enc.hidden,
		stream:    enc.stream,
		kv:        enc.kv,
		kvVersion: enc.kvVersion,
		snapshot:  enc.snapshot,
	})
	if err != nil {
		return Summary{}, err
	}
	digest := d.sum()
	if !wk.aged {
		at = time.Time{} // visibility does not depend on the time: say none
	}
	if err := enc.end(digest, at, wk.lastPos); err != nil {
		return Summary{}, err
	}
	return Summary{Counts: wk.counts, LastPos: wk.lastPos, Digest: digest, Took: time.Since(start)}, nil
}

// Verify reads a whole export and checks it (header, order, counts,
// digests) without importing it.
func Verify(r io.Reader) (Summary, error) {
	start := time.Now()
	dec, err := NewDecoder(r)
	if err != nil {
		return Summary{}, err
	}
	for {
		if _, err := dec.Next(); err == io.EOF {
			break
		} else if err != nil {
			return Summary{}, err
		}
	}
	t := dec.Trailer
	return Summary{Counts: t.Counts, LastPos: t.LastPos, Digest: t.Digest, Took: time.Since(start)}, nil
}
