package server

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/sx"
)

// followPage is how many events a follow reads at once.
const followPage = 100

func (s *Server) serveFollow(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n, err := eventsNotation(q, "follow")
	if err != nil {
		s.fail(w, r, SX, err)
		return
	}
	stream := q.Get("stream")
	if stream != "" {
		if err := (ops.Head{Stream: stream}).Validate(); err != nil {
			s.fail(w, r, n, err)
			return
		}
	}
	from, err := startOf(r, q, "follow", 1)
	if err != nil {
		s.fail(w, r, n, err)
		return
	}
	if !s.enter() {
		s.fail(w, r, n, ErrShuttingDown)
		return
	}
	defer s.leave()
	pr, err := s.authenticate(r)
	if err == nil && !pr.allows(GrantRead, stream) {
		s.metrics.authFailure("forbidden")
		err = &ForbiddenError{Grant: Grant{Kind: GrantRead, Prefix: stream}.String()}
	}
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
	// A follow outlives the request time: lift the read deadline (which
	// would end it) and renew the write deadline at every write.
	_ = rc.SetReadDeadline(time.Time{})
	w.Header().Set("Content-Type", MediaEvents)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()

	ctx := r.Context()
	next := from
	var buf []byte
	// The write deadline is renewed once less than half of it is left,
	// and the ping fires Ping after the last write: neither costs a timer
	// change per event, which a fan-out to many follows pays per follow.
	var deadline time.Time
	lastWrite := time.Now()
	write := func(limit time.Duration) bool {
		now := time.Now()
		if deadline.Sub(now) < limit/2 {
			deadline = now.Add(limit)
			_ = rc.SetWriteDeadline(deadline)
		}
		if _, err := w.Write(buf); err != nil {
			return false
		}
		lastWrite = now
		return rc.Flush() == nil
	}
	end := func(reason string) {
		d := sx.NewDict(sx.Keyword("next"), int64(next), sx.Keyword("reason"), reason)
		b, _ := EncodeValue(d, n)
		buf = append(buf[:0], "event: end\ndata: "...)
		buf = append(buf, b...)
		buf = append(buf, "\n\n"...)
		deadline = time.Time{}
		write(5 * time.Second)
	}
	f, err := s.acquireFeed(stream)
	if err != nil {
		end(errorKind(s.classify(err)))
		return
	}
	defer s.releaseFeed(f)
	ping := time.NewTimer(s.limits.Ping)
	defer ping.Stop()
	live := false // a read of the store reached the head
	for {
		select {
		case <-s.drain:
			end("shutdown")
			return
		default:
		}
		entries, changed, caughtUp, ferr := f.since(next)
		buf = buf[:0]
		switch {
		case !live || !caughtUp:
			// Behind the feed's ring, or not yet caught up with the store:
			// read the store, which leaves out what retention and deletion
			// hide now. A follow takes the feed's ring only once a read of
			// its own reached the head, so the ring serves it only events
			// that arrived while it was live.
			var reason string
			if buf, next, live, reason = s.framesFrom(ctx, buf, stream, next, n); reason != "" {
				if ctx.Err() == nil {
					end(reason)
				}
				return
			}
		case len(entries) > 0:
			// The ring took each event while it was visible; max-count and
			// max-age may have hidden it since, with no metadata write to
			// drop the ring: check each against its stream's state now.
			check := sendCheck{s: s, ctx: ctx}
			for _, e := range entries {
				ok, err := check.visible(e)
				if err != nil {
					if ctx.Err() == nil {
						end(errorKind(s.classify(err)))
					}
					return
				}
				if !ok {
					next = e.id + 1
					continue
				}
				fr, err := e.framed(n)
				if err != nil {
					end("error")
					return
				}
				buf = append(buf, fr...)
				next = e.id + 1
			}
		case ferr != nil:
			if errors.Is(ferr, ErrShuttingDown) {
				end("shutdown")
			} else {
				end(errorKind(s.classify(ferr)))
			}
			return
		default:
			select {
			case <-changed:
				continue
			case <-ping.C:
				if idle := time.Since(lastWrite); idle < s.limits.Ping {
					ping.Reset(s.limits.Ping - idle)
					continue
				}
				ping.Reset(s.limits.Ping)
				buf = append(buf, ": ping\n\n"...)
				if !write(s.limits.Request) {
					return
				}
				continue
			case <-s.drain:
				continue
			case <-ctx.Done():
				return
			}
		}
		if len(buf) > 0 && !write(s.limits.Request) {
			return
		}
	}
}

// eventsNotation is the notation of the events of a follow or kv-watch
// request of op: its "as" parameter, sx (the default) or json.
func eventsNotation(q url.Values, op string) (Notation, error) {
	switch q.Get("as") {
	case "", "sx":
		return SX, nil
	case "json":
		return JSON, nil
	}
	return SX, &ops.InvalidError{Op: op, Field: "as", Reason: "want sx or json"}
}

// startOf is where a follow or kv-watch request of op starts: the one
// after its Last-Event-ID when it has one, else its "from" parameter (at
// least least), else least.
func startOf(r *http.Request, q url.Values, op string, least uint64) (uint64, error) {
	from := least
	if f := q.Get("from"); f != "" {
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return 0, &ops.InvalidError{Op: op, Field: "from", Reason: "want a decimal number"}
		}
		from = max(v, least)
	}
	if last := r.Header.Get("Last-Event-ID"); last != "" {
		v, err := strconv.ParseUint(last, 10, 64)
		if err != nil {
			return 0, &ops.InvalidError{Op: op, Field: "Last-Event-ID", Reason: "want a decimal number"}
		}
		from = v + 1
	}
	return from, nil
}

// framesFrom appends to buf the frames of the next page of a follow
// behind its feed's ring, read from the store, and gives the id after the
// last; reason is not "" when the follow must end.
func (s *Server) framesFrom(ctx context.Context, buf []byte, stream string, next uint64, n Notation) ([]byte, uint64, bool, string) {
	events, after, head, err := s.readFrom(ctx, stream, next)
	if err != nil {
		return buf, next, false, errorKind(s.classify(err))
	}
	for _, ev := range events {
		id := ev.Seq
		if stream == "" {
			id = ev.Pos
		}
		if buf, err = appendFrame(buf, id, ev, n); err != nil {
			return buf, next, false, "error"
		}
		next = id + 1
	}
	// Past the hidden events after the last visible one too.
	next = max(next, after)
	return buf, next, next > head, ""
}

func errorKind(err error) string {
	_, d := errorAnswer(err)
	k, _ := d.Get(sx.Keyword("error"))
	s, _ := k.(string)
	return s
}

// readFrom reads the next page of a follow: its visible events, the id to
// read from next, past any hidden ones (Next; after the last event from a
// backend that does not set it), and the source's head.
func (s *Server) readFrom(ctx context.Context, stream string, from uint64) ([]ops.Event, uint64, uint64, error) {
	p := effect.Handle(ctx)
	var (
		events     []ops.Event
		next, head uint64
	)
	if stream == "" {
		v, err := s.store.Handle(p, ops.ReadAll{From: from, Limit: followPage})
		if err != nil {
			return nil, from, 0, err
		}
		r := v.(ops.ReadAllResult)
		events, next, head = r.Events, r.Next, r.Head
		if n := len(events); next == 0 && n > 0 {
			next = events[n-1].Pos + 1
		}
	} else {
		v, err := s.store.Handle(p, ops.Read{Stream: stream, From: from, Limit: followPage})
		if err != nil {
			return nil, from, 0, err
		}
		r := v.(ops.ReadResult)
		events, next, head = r.Events, r.Next, r.Head
		if n := len(events); next == 0 && n > 0 {
			next = events[n-1].Seq + 1
		}
	}
	if next < from {
		next = from
	}
	return events, next, head, nil
}

func (s *Server) openFollow(token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.follows[token] >= s.limits.Follows {
		return &LimitError{Limit: "follows", Max: int64(s.limits.Follows)}
	}
	s.follows[token]++
	s.metrics.followers.Inc()
	return nil
}

func (s *Server) closeFollow(token string) {
	s.mu.Lock()
	s.follows[token]--
	if s.follows[token] == 0 {
		delete(s.follows, token)
	}
	s.mu.Unlock()
	s.metrics.followers.Dec()
}
