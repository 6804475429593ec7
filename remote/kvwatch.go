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

// WatchOptions configure Client.WatchKv.
type WatchOptions struct {
	// Prefix is what the watched keys start with; "" watches every key.
	Prefix string
	// From is the first revision to deliver; 0 starts at the oldest
	// revision the server's kv history holds whole.
	From uint64
	// Retry is the pause before reconnecting after the connection broke
	// or the server ended the watch. Default 100 ms.
	Retry time.Duration
}

// WatchKv delivers the changes of the keys under opts.Prefix to fn, in
// revision order and at least once, over the server's live kv watch (GET
// /v1/kv-watch), until the context ends, fn returns an error, or the
// client is closed. When the connection breaks or the server ends the
// watch it reconnects from the revision after the last one it delivered
// whole, so a commit's changes may come twice but none is lost. A watch
// from a revision the server's history no longer holds ends with an
// *ops.CompactedError (read the current state, then watch from its
// Compacted+1). It returns the next revision to watch from and why it
// stopped.
func (c *Client) WatchKv(ctx context.Context, opts WatchOptions, fn func(ops.KvVersion) error) (uint64, error) {
	next := opts.From
	retry := opts.Retry
	if retry == 0 {
		retry = 100 * time.Millisecond
	}
	for {
		n, err := c.watchOnce(ctx, opts.Prefix, next, fn)
		next = n
		var fnErr *callbackError
		switch {
		case errors.As(err, &fnErr):
			return next, fnErr.err
		case c.ctx.Err() != nil:
			return next, ops.ErrClosed
		case ctx.Err() != nil:
			return next, ctx.Err()
		case errors.Is(err, ops.ErrCompacted), errors.Is(err, ops.ErrClosed):
			return next, err
		}
		var rerr *Error
		if errors.As(err, &rerr) && rerr.Kind != "unavailable" {
			return next, err // refused: retrying will not help
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

// watchOnce reads one watch response from revision next on, and gives the
// revision to ask for next.
func (c *Client) watchOnce(ctx context.Context, prefix string, next uint64, fn func(ops.KvVersion) error) (uint64, error) {
	if c.ctx.Err() != nil {
		return next, ops.ErrClosed
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(c.ctx, cancel)
	defer stop()
	q := url.Values{}
	q.Set("prefix", prefix)
	q.Set("from", strconv.FormatUint(next, 10))
	resp, err := c.getEvents(ctx, rctx, "/v1/kv-watch", q)
	if err != nil {
		return next, err
	}
	defer resp.Body.Close()
	media := mediaOf(c.json)
	if resp.StatusCode != http.StatusOK {
		b, _ := readAll(resp.Body, resp.ContentLength)
		v, derr := decodeValue(b, resp.Header.Get("Content-Type"))
		if derr != nil {
			return next, &Error{Status: resp.StatusCode, Kind: "error", Message: fmt.Sprintf("remote: kv watch answered %d", resp.StatusCode)}
		}
		return next, decodeError(resp.StatusCode, v)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 4<<10), 8<<20)
	var (
		kind string
		id   string
		data []byte
	)
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			switch kind {
			case "end":
				v, derr := decodeValue(data, media)
				d, _ := v.(*sx.Dict)
				if derr == nil && d != nil {
					if r, _ := d.Get(sx.Keyword("reason")); r == "compacted" {
						cv, _ := d.Get(sx.Keyword("compacted"))
						comp, _ := cv.(int64)
						return next, &ops.CompactedError{Revision: next, Compacted: uint64(comp)}
					}
				}
				return next, &Error{Kind: "unavailable", Message: "remote: the server ended the kv watch: " + string(data)}
			case "change":
				v, err := decodeValue(data, media)
				if err != nil {
					return next, err
				}
				var ch ops.KvVersion
				if err := sx.ToGo(v, &ch); err != nil {
					return next, fmt.Errorf("remote: kv watch change: %w", err)
				}
				if ch.Revision >= next {
					if err := fn(ch); err != nil {
						return next, &callbackError{err}
					}
				}
				if id != "" {
					// The last change of its revision: resume after it.
					if r, err := strconv.ParseUint(id, 10, 64); err == nil && r+1 > next {
						next = r + 1
					}
				}
			}
			kind, id, data = "", "", data[:0]
		case line[0] == ':':
		case bytes.HasPrefix(line, eventPrefix):
			kind = string(line[len(eventPrefix):])
		case bytes.HasPrefix(line, dataPrefix):
			data = append(data[:0], line[len(dataPrefix):]...)
		case bytes.HasPrefix(line, idPrefix):
			id = string(line[len(idPrefix):])
		}
	}
	if err := sc.Err(); err != nil {
		return next, c.transportError(ctx, err)
	}
	return next, &UnreachableError{Err: errors.New("kv watch ended without an end event")}
}

var idPrefix = []byte("id: ")
