package remote

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/sx"
)

// FollowOptions configure Client.Follow.
type FollowOptions struct {
	// Stream is the stream to follow, by seq; "" follows the global log
	// by position.
	Stream string
	// From is the first seq (position) to deliver; 0 and 1 both mean the
	// start.
	From uint64
	// Retry is the pause before reconnecting after the connection broke
	// or the server ended the follow. Default 100 ms.
	Retry time.Duration
	// MaxRetries ends Follow after this many reconnects in a row without
	// an event delivered (0: reconnect until the context ends).
	MaxRetries int
}

// Follow delivers the events of a stream (or of the global log) to fn, in
// order and at least once, until the context ends, fn returns an error,
// or the client is closed. When the connection breaks or the server ends
// the follow (shutting down, say) it reconnects from the event after the
// last one delivered, so no event is lost across a server restart. It
// returns the next seq (position) to ask for, to resume from later, and
// why it stopped: fn's error, the context's, or ops.ErrClosed.
func (c *Client) Follow(ctx context.Context, opts FollowOptions, fn func(ops.Event) error) (uint64, error) {
	next := max(opts.From, 1)
	retry := opts.Retry
	if retry == 0 {
		retry = 100 * time.Millisecond
	}
	fails := 0
	for {
		delivered, n, err := c.followOnce(ctx, opts.Stream, next, fn)
		next = n
		var fnErr *callbackError
		switch {
		case errors.As(err, &fnErr):
			return next, fnErr.err
		case c.ctx.Err() != nil:
			return next, ops.ErrClosed
		case ctx.Err() != nil:
			return next, ctx.Err()
		}
		var rerr *Error
		if errors.As(err, &rerr) && rerr.Kind != "unavailable" || errors.Is(err, ops.ErrClosed) {
			return next, err // refused: retrying will not help
		}
		if delivered {
			fails = 0
		} else {
			fails++
		}
		if opts.MaxRetries > 0 && fails > opts.MaxRetries {
			return next, err
		}
		select {
		case <-time.After(retry):
		case <-ctx.Done():
			return next, ctx.Err()
		case <-c.ctx.Done():
			return next, ops.ErrClosed
		}
	}
}

type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }

// followOnce reads one follow response from next on. It reports whether it
// delivered an event and the next seq (position) to ask for.
func (c *Client) followOnce(ctx context.Context, stream string, next uint64, fn func(ops.Event) error) (bool, uint64, error) {
	if c.ctx.Err() != nil {
		return false, next, ops.ErrClosed
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(c.ctx, cancel)
	defer stop()
	q := url.Values{}
	if stream != "" {
		q.Set("stream", stream)
	}
	q.Set("from", strconv.FormatUint(next, 10))
	resp, err := c.getEvents(ctx, rctx, "/v1/follow", q)
	if err != nil {
		return false, next, err
	}
	defer resp.Body.Close()
	media := mediaOf(c.json)
	if resp.StatusCode != http.StatusOK {
		b := make([]byte, 64<<10)
		n, _ := resp.Body.Read(b)
		v, derr := decodeValue(b[:n], resp.Header.Get("Content-Type"))
		if derr != nil {
			return false, next, &Error{Status: resp.StatusCode, Kind: "error", Message: fmt.Sprintf("remote: follow answered %d", resp.StatusCode)}
		}
		return false, next, decodeError(resp.StatusCode, v)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 4<<10), 8<<20)
	delivered := false
	var kind string
	var data []byte
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			if kind == "end" {
				return delivered, next, &Error{Kind: "unavailable", Message: "remote: the server ended the follow: " + string(data)}
			}
			if kind == "event" && len(data) > 0 {
				ev, ok := fastEvent(data, c.json)
				if !ok {
					v, err := decodeValue(data, media)
					if err != nil {
						return delivered, next, err
					}
					if err := sx.ToGo(v, &ev); err != nil {
						return delivered, next, fmt.Errorf("remote: follow event: %w", err)
					}
				}
				at := ev.Seq
				if stream == "" {
					at = ev.Pos
				}
				if at >= next {
					if err := fn(ev); err != nil {
						return delivered, next, &callbackError{err}
					}
					delivered = true
					next = at + 1
				}
			}
			kind, data = "", data[:0]
		case line[0] == ':':
		case bytes.HasPrefix(line, eventPrefix):
			kind = eventKind(line[len(eventPrefix):])
		case bytes.HasPrefix(line, dataPrefix):
			data = append(data[:0], line[len(dataPrefix):]...)
		}
	}
	if err := sc.Err(); err != nil {
		return delivered, next, c.transportError(ctx, err)
	}
	return delivered, next, &UnreachableError{Err: errors.New("follow ended without an end event")}
}

// getEvents sends the GET of the event stream at path with query q (and
// the client's notation) on rctx, ended with the client; a transport
// failure is judged against ctx, the caller's.
func (c *Client) getEvents(ctx, rctx context.Context, path string, q url.Values) (*http.Response, error) {
	if c.json {
		q.Set("as", "json")
	}
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, c.base+path+"?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, err)
	}
	return resp, nil
}

var (
	eventPrefix = []byte("event: ")
	dataPrefix  = []byte("data: ")
)

// eventKind is an SSE event line's kind, without an allocation for the
// kinds the protocol has.
func eventKind(b []byte) string {
	switch string(b) {
	case "event":
		return "event"
	case "end":
		return "end"
	}
	return string(b)
}

func mediaOf(asJSON bool) string {
	if asJSON {
		return mediaJSON
	}
	return mediaSX
}
