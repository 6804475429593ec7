package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/sx"
)

// kvWatchPage is how many changes a kv watch reads at once.
const kvWatchPage = 100

// serveKvWatch streams the changes of the keys under a prefix as
// Server-Sent Events, from a revision on: GET /v1/kv-watch (see the
// package doc).
func (s *Server) serveKvWatch(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n, err := eventsNotation(q, "kv-watch")
	if err != nil {
		s.fail(w, r, SX, err)
		return
	}
	prefix := q.Get("prefix")
	from, err := startOf(r, q, "kv-watch", 0)
	if err != nil {
		s.fail(w, r, n, err)
		return
	}
	if err := ops.Validate(ops.KvWatch{Prefix: prefix, From: from}); err != nil {
		s.fail(w, r, n, err)
		return
	}
	if !s.enter() {
		s.fail(w, r, n, ErrShuttingDown)
		return
	}
	defer s.leave()
	pr, err := s.authenticate(r)
	if err == nil {
		err = s.authorize(pr, ops.KvWatch{Prefix: prefix})
	}
	if err != nil {
		s.fail(w, r, n, err)
		return
	}
	// The first page is read before the answer starts, so that a watch
	// from a compacted revision is refused with its status.
	ctx := r.Context()
	page, err := s.kvWatchPage(ctx, prefix, from)
	if err != nil {
		s.fail(w, r, n, err)
		return
	}
	if err := s.openFollow(pr.name()); err != nil {
		s.fail(w, r, n, err)
		return
	}
	defer s.closeFollow(pr.name())

	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	w.Header().Set("Content-Type", MediaEvents)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()

	var buf []byte
	write := func() bool {
		_ = rc.SetWriteDeadline(time.Now().Add(s.limits.Request))
		if _, err := w.Write(buf); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	next := from
	end := func(d *sx.Dict) {
		b, _ := EncodeValue(d, n)
		buf = append(buf[:0], "event: end\ndata: "...)
		buf = append(buf, b...)
		buf = append(buf, "\n\n"...)
		write()
	}
	endNext := func(reason string) {
		end(sx.NewDict(sx.Keyword("next"), int64(next), sx.Keyword("reason"), reason))
	}
	lastWrite := time.Now()
	for {
		buf = buf[:0]
		for i, c := range page.Changes {
			// An id only on the last change of a revision (a page never
			// splits one): a watch resumed from it starts at a whole
			// revision, so none of a commit's changes is lost.
			if i == len(page.Changes)-1 || page.Changes[i+1].Revision != c.Revision {
				buf = append(buf, "id: "...)
				buf = strconv.AppendUint(buf, c.Revision, 10)
				buf = append(buf, '\n')
			}
			val, err := sx.FromGo(c)
			if err == nil {
				var enc []byte
				if enc, err = EncodeValue(val, n); err == nil {
					buf = append(buf, "event: change\ndata: "...)
					buf = append(buf, enc...)
					buf = append(buf, "\n\n"...)
				}
			}
			if err != nil {
				endNext("error")
				return
			}
		}
		next = max(next, page.Next)
		if len(buf) > 0 {
			if !write() {
				return
			}
			lastWrite = time.Now()
		}
		caughtUp := page.Next > page.Revision
		select {
		case <-s.drain:
			endNext("shutdown")
			return
		default:
		}
		if caughtUp {
			wait := min(s.limits.Ping, s.limits.Wait)
			v, err := s.perform(ctx, ops.KvWait{After: page.Revision, Timeout: wait})
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				endNext(errorKind(s.classify(err)))
				return
			}
			if !v.(ops.WaitResult).Passed {
				if s.closing.Load() {
					endNext("shutdown")
					return
				}
				if time.Since(lastWrite) >= s.limits.Ping {
					buf = append(buf[:0], ": ping\n\n"...)
					if !write() {
						return
					}
					lastWrite = time.Now()
				}
			}
		}
		page, err = s.kvWatchPage(ctx, prefix, next)
		if ctx.Err() != nil {
			return
		}
		var ce *ops.CompactedError
		if errors.As(err, &ce) {
			// History dropped what this watch had not read yet: say from
			// where it may go on, after reading the current state.
			end(sx.NewDict(sx.Keyword("next"), int64(ce.Compacted+1), sx.Keyword("reason"), "compacted", sx.Keyword("compacted"), int64(ce.Compacted)))
			return
		}
		if err != nil {
			endNext(errorKind(s.classify(err)))
			return
		}
	}
}

func (s *Server) kvWatchPage(ctx context.Context, prefix string, from uint64) (ops.KvWatchResult, error) {
	v, err := s.store.Handle(effect.Handle(ctx), ops.KvWatch{Prefix: prefix, From: from, Limit: kvWatchPage})
	if err != nil {
		return ops.KvWatchResult{}, err
	}
	return v.(ops.KvWatchResult), nil
}
