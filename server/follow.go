package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/sx"
)

// followPage is how many events a follow reads at once.
const followPage = 500

func (s *Server) serveFollow(w http.ResponseWriter, r *http.Request) {
	n := SX
	q := r.URL.Query()
	switch q.Get("as") {
	case "", "sx":
	case "json":
		n = JSON
	default:
		s.fail(w, r, SX, &ops.InvalidError{Op: "follow", Field: "as", Reason: "want sx or json"})
		return
	}
	stream := q.Get("stream")
	if stream != "" {
		if err := (ops.Head{Stream: stream}).Validate(); err != nil {
			s.fail(w, r, n, err)
			return
		}
	}
	from := uint64(1)
	if f := q.Get("from"); f != "" {
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			s.fail(w, r, n, &ops.InvalidError{Op: "follow", Field: "from", Reason: "want a decimal number"})
			return
		}
		from = max(v, 1)
	}
	if last := r.Header.Get("Last-Event-ID"); last != "" {
		v, err := strconv.ParseUint(last, 10, 64)
		if err != nil {
			s.fail(w, r, n, &ops.InvalidError{Op: "follow", Field: "Last-Event-ID", Reason: "want a decimal number"})
			return
		}
		from = v + 1
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
	end := func(reason string) {
		d := sx.NewDict(sx.Keyword("next"), int64(next), sx.Keyword("reason"), reason)
		b, _ := EncodeValue(d, n)
		buf = append(buf[:0], "event: end\ndata: "...)
		buf = append(buf, b...)
		buf = append(buf, "\n\n"...)
		_ = rc.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_, _ = w.Write(buf)
		_ = rc.Flush()
	}
	for {
		select {
		case <-s.drain:
			end("shutdown")
			return
		default:
		}
		events, err := s.readFrom(ctx, stream, next)
		if err != nil {
			if ctx.Err() == nil {
				end(errorKind(s.classify(err)))
			}
			return
		}
		if len(events) > 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(s.limits.Request))
			buf = buf[:0]
			for _, ev := range events {
				at := ev.Seq
				if stream == "" {
					at = ev.Pos
				}
				val, err := sx.FromGo(ev)
				if err != nil {
					end("error")
					return
				}
				b, err := EncodeValue(val, n)
				if err != nil {
					end("error")
					return
				}
				buf = append(buf, "id: "...)
				buf = strconv.AppendUint(buf, at, 10)
				buf = append(buf, "\nevent: event\ndata: "...)
				buf = append(buf, b...)
				buf = append(buf, "\n\n"...)
				next = at + 1
			}
			if _, err := w.Write(buf); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
			if len(events) == followPage {
				continue
			}
		}
		passed, err := s.waitPast(ctx, stream, next-1)
		if err != nil {
			if ctx.Err() == nil {
				end(errorKind(s.classify(err)))
			}
			return
		}
		if !passed {
			_ = rc.SetWriteDeadline(time.Now().Add(s.limits.Request))
			if _, err := w.Write([]byte(": ping\n\n")); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
	}
}

func errorKind(err error) string {
	_, d := errorAnswer(err)
	k, _ := d.Get(sx.Keyword("error"))
	s, _ := k.(string)
	return s
}

// readFrom reads the next page of a follow.
func (s *Server) readFrom(ctx context.Context, stream string, from uint64) ([]ops.Event, error) {
	p := effect.Handle(ctx)
	if stream == "" {
		v, err := s.store.Handle(p, ops.ReadAll{From: from, Limit: followPage})
		if err != nil {
			return nil, err
		}
		return v.(ops.ReadAllResult).Events, nil
	}
	v, err := s.store.Handle(p, ops.Read{Stream: stream, From: from, Limit: followPage})
	if err != nil {
		return nil, err
	}
	return v.(ops.ReadResult).Events, nil
}

// waitPast waits, at most a ping interval, for the source to pass after;
// it ends early, with false, when the server shuts down.
func (s *Server) waitPast(ctx context.Context, stream string, after uint64) (bool, error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(drainContext{s.drain}, cancel)
	defer stop()
	v, err := s.store.Handle(effect.Handle(wctx), ops.Wait{Stream: stream, After: after, Timeout: s.limits.Ping})
	if err != nil {
		if wctx.Err() != nil && ctx.Err() == nil {
			return false, nil
		}
		return false, err
	}
	return v.(ops.WaitResult).Passed, nil
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
