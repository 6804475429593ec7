package remote

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/sx"
)

// errNoPipe says the server has no /v1/pipe (an older one): operations go
// one a request from then on.
var errNoPipe = errors.New("remote: the server has no pipe")

// pipeProbeAfter is how long opening a pipe waits for the answer's header
// before it asks whether the server has pipes at all.
const pipeProbeAfter = time.Second

// pipeGiveUpAfter is how long opening a pipe waits for the answer's header
// at most; then the client sends its operations as requests instead.
const pipeGiveUpAfter = 10 * time.Second

// hasNoPipe asks the server whether it lacks /v1/pipe: a GET of it is 404
// then (and 405 on a server with pipes).
func (c *Client) hasNoPipe(ctx context.Context) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/pipe", nil)
	if err != nil {
		return false
	}
	req.Header = c.header.Clone()
	resp, err := c.hc.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusNotFound
}

// pipeResends is how many times an operation goes on a new pipe after
// the server ended the one it was sent on before reading it.
const pipeResends = 3

// pipeEndedError answers the operations a pipe's end frame left
// unanswered: the server did not perform them.
type pipeEndedError struct{ Err error }

func (e *pipeEndedError) Error() string { return "remote: the server ended the pipe: " + e.Err.Error() }
func (e *pipeEndedError) Unwrap() error { return e.Err }

// pipe is one POST /v1/pipe: operations written as frames on its request
// body, answered on its response body in the order they finish, matched
// by ID.
type pipe struct {
	c    *Client
	json bool

	mu      sync.Mutex
	out     []byte // frames written by callers, not yet taken by the transport
	wake    chan struct{}
	pending map[int64]*call
	next    int64
	ended   bool
	endErr  error // what every operation still pending is answered, once ended
	cancel  context.CancelFunc
}

// call is an operation in flight on a pipe.
type call struct {
	done chan struct{}
	text []byte // the answer, {:ok ...} or an error dict, in notation ct
	ct   string
	err  error // the pipe ended before the answer came
}

// piped performs op on the client's pipe, opening one when there is none.
func (c *Client) piped(ctx context.Context, op effect.Effect, dec func(sx.Value) (any, error)) (any, error) {
	var cl *call
	for try := 0; ; try++ {
		p, err := c.openPipe(ctx)
		if errors.Is(err, errNoPipe) {
			if c.gather {
				return c.gathered(ctx, op, dec)
			}
			return c.do(ctx, op, dec)
		}
		if err != nil {
			return nil, err
		}
		if cl, err = p.send(op); err != nil {
			return nil, err
		}
		select {
		case <-cl.done:
		case <-ctx.Done():
			// It may still be performed: its outcome is unknown, as after
			// any request that got no answer.
			p.forget(cl)
			return nil, ctx.Err()
		}
		var ended *pipeEndedError
		if errors.As(cl.err, &ended) && try < pipeResends {
			// The server ended the pipe before it read this frame: it was
			// not performed, and goes again on a new pipe.
			continue
		}
		if cl.err != nil {
			return nil, cl.err
		}
		break
	}
	if asJSON, ok := plainMedia(cl.ct); ok {
		if r, ok := fastAnswer(cl.text, asJSON, op, true); ok {
			return r, nil
		}
	}
	v, err := decodeValue(cl.text, cl.ct)
	if err != nil {
		return nil, fmt.Errorf("remote: answer of %s: %w", op.EffectName(), err)
	}
	d, _ := v.(*sx.Dict)
	if val, found := d.Get(sx.Keyword("ok")); found {
		r, err := dec(val)
		if err != nil {
			return nil, fmt.Errorf("remote: answer of %s: %w", op.EffectName(), err)
		}
		return r, nil
	}
	return nil, decodeError(0, v)
}

// openPipe gives the client's live pipe, opening one when there is none
// (or the last one ended). Callers that arrive while one opens wait for it.
func (c *Client) openPipe(ctx context.Context) (*pipe, error) {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	if c.noPipe {
		return nil, errNoPipe
	}
	if c.pipe != nil {
		c.pipe.mu.Lock()
		ended := c.pipe.ended
		c.pipe.mu.Unlock()
		if !ended {
			return c.pipe, nil
		}
		c.pipe = nil
	}
	if c.ctx.Err() != nil {
		return nil, ops.ErrClosed
	}
	_, asJSON := c.notation()
	p := &pipe{c: c, json: asJSON, wake: make(chan struct{}, 1), pending: map[int64]*call{}}
	pctx, cancel := context.WithCancel(c.ctx)
	p.cancel = cancel
	req, err := http.NewRequestWithContext(pctx, http.MethodPost, c.base+"/v1/pipe", &pipeBody{p: p, ctx: pctx})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("remote: %w", err)
	}
	req.Header = c.header.Clone()
	req.ContentLength = -1 // a stream: chunked under HTTP/1.1, headers sent at once

	// Opening waits for the answer's header, which the server sends at
	// once; ctx bounds that wait, not the pipe.
	type opened struct {
		resp *http.Response
		err  error
	}
	ch := make(chan opened, 1)
	go func() {
		resp, err := c.hc.Do(req)
		ch <- opened{resp, err}
	}()
	var o opened
	probe := time.NewTimer(pipeProbeAfter)
	defer probe.Stop()
	giveUp := time.NewTimer(pipeGiveUpAfter)
	defer giveUp.Stop()
wait:
	for {
		select {
		case o = <-ch:
			break wait
		case <-probe.C:
			// A server without pipes may not answer until it has read the
			// body, which does not end (Go's reads up to 256 KiB of a body
			// its handler left unread before it answers 404). Ask it by a
			// GET, which a server with pipes answers 405.
			if c.hasNoPipe(ctx) {
				cancel()
				c.noPipe = true
				return nil, errNoPipe
			}
		case <-giveUp.C:
			// Something between holds the body back (a proxy that reads
			// a request whole before passing it on): a pipe cannot work
			// through it, requests can.
			cancel()
			c.noPipe = true
			return nil, errNoPipe
		case <-ctx.Done():
			cancel()
			return nil, ctx.Err()
		}
	}
	if o.err != nil {
		cancel()
		return nil, c.transportError(ctx, o.err)
	}
	if o.resp.StatusCode != http.StatusOK {
		defer cancel()
		defer o.resp.Body.Close()
		if o.resp.StatusCode == http.StatusNotFound || o.resp.StatusCode == http.StatusMethodNotAllowed {
			c.noPipe = true
			return nil, errNoPipe
		}
		b, err := readAll(o.resp.Body, o.resp.ContentLength)
		if err != nil {
			return nil, c.transportError(ctx, err)
		}
		v, err := decodeValue(b, o.resp.Header.Get("Content-Type"))
		if err != nil {
			return nil, fmt.Errorf("remote: answer %d: %w", o.resp.StatusCode, err)
		}
		return nil, decodeError(o.resp.StatusCode, v)
	}
	go p.readAnswers(o.resp)
	c.pipe = p
	return p, nil
}

// send writes op's frame for the transport to take, and registers the call
// its answer completes.
func (p *pipe) send(op effect.Effect) (*call, error) {
	fast := fastEncodable(op)
	var v sx.Value
	if !fast {
		var err error
		if v, err = opValue(op); err != nil {
			return nil, err
		}
	}
	cl := &call{done: make(chan struct{})}
	p.mu.Lock()
	if p.ended {
		err := p.endErr
		p.mu.Unlock()
		return nil, err
	}
	id := p.next
	p.next++
	p.pending[id] = cl
	start := len(p.out)
	switch {
	case fast:
		p.out = append(p.out, '[')
		p.out = strconv.AppendInt(p.out, id, 10)
		if p.json {
			p.out = append(p.out, ',')
		} else {
			p.out = append(p.out, ' ')
		}
		p.out = writeFastOp(p.out, op, p.json)
	case p.json:
		b, jerr := sx.ToJSON(v)
		if jerr != nil {
			delete(p.pending, id)
			p.mu.Unlock()
			return nil, jerr
		}
		p.out = append(p.out, '[')
		p.out = strconv.AppendInt(p.out, id, 10)
		p.out = append(p.out, ',')
		p.out = append(p.out, b...)
	default:
		p.out = append(p.out, '[')
		p.out = strconv.AppendInt(p.out, id, 10)
		p.out = append(p.out, ' ')
		p.out = sx.AppendPrint(p.out, v)
	}
	p.out = append(p.out, ']', '\n')
	first := start == 0
	p.mu.Unlock()
	if first {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
	return cl, nil
}

// forget drops a call whose caller stopped waiting.
func (p *pipe) forget(cl *call) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, x := range p.pending {
		if x == cl {
			delete(p.pending, id)
			return
		}
	}
}

// end ends the pipe: every call still pending is answered err.
func (p *pipe) end(err error) {
	p.mu.Lock()
	if p.ended {
		p.mu.Unlock()
		return
	}
	p.ended, p.endErr = true, err
	pending := p.pending
	p.pending = nil
	p.mu.Unlock()
	p.cancel()
	for _, cl := range pending {
		cl.err = err
		close(cl.done)
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// readAnswers reads answer frames until the pipe ends.
func (p *pipe) readAnswers(resp *http.Response) {
	defer resp.Body.Close()
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	ct := resp.Header.Get("Content-Type")
	var long []byte
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			long = append(long[:0], line...)
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if err != nil {
			p.end(p.lost(err))
			return
		}
		id, text, ok := splitAnswer(line)
		if !ok {
			p.end(&UnreachableError{Err: fmt.Errorf("a pipe answer is not [ID ANSWER]: %.200s", line)})
			return
		}
		if id < 0 {
			// The server's end frame: it read no more frames and answered
			// every one it read, so what it did not answer was not
			// performed.
			v, err := decodeValue(text, ct)
			if err != nil {
				v = sx.NewDict(sx.Keyword("error"), "error", sx.Keyword("message"), err.Error())
			}
			p.end(&pipeEndedError{Err: decodeError(0, v)})
			return
		}
		p.mu.Lock()
		cl := p.pending[id]
		delete(p.pending, id)
		p.mu.Unlock()
		if cl != nil {
			// The caller reads its answer, so that a burst of answers is
			// read at once rather than one after another here.
			cl.text, cl.ct = bytes.Clone(text), ct
			close(cl.done)
		}
	}
}

// splitAnswer splits an answer frame, [ID ANSWER], into its ID (-1 for
// the end frame, whose ID is nil) and the text of its answer.
func splitAnswer(line []byte) (int64, []byte, bool) {
	b := bytes.TrimSpace(line)
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return 0, nil, false
	}
	b = bytes.TrimLeft(b[1:len(b)-1], " \t")
	var id int64 = -1
	switch {
	case bytes.HasPrefix(b, []byte("nil")):
		b = b[3:]
	case bytes.HasPrefix(b, []byte("null")):
		b = b[4:]
	default:
		i := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == 0 || i > 18 {
			return 0, nil, false
		}
		id, _ = strconv.ParseInt(string(b[:i]), 10, 64)
		b = b[i:]
	}
	b = bytes.TrimLeft(b, " \t")
	if len(b) > 0 && b[0] == ',' {
		b = b[1:]
	}
	return id, b, len(b) > 0
}

// lost is the error of the calls pending when the answers stopped.
func (p *pipe) lost(err error) error {
	if p.c.ctx.Err() != nil {
		return ops.ErrClosed
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return &UnreachableError{Err: err}
}

// pipeBody is the pipe's request body: the transport's reads take the
// frames written since its last read, all at once, and wait when there
// are none.
type pipeBody struct {
	p    *pipe
	ctx  context.Context
	rest []byte // taken but not yet read, when a read's buffer was short
	held []byte // the buffer rest is in, given back once read
}

func (b *pipeBody) Read(dst []byte) (int, error) {
	p := b.p
	for len(b.rest) == 0 {
		p.mu.Lock()
		if p.ended {
			p.mu.Unlock()
			return 0, io.EOF
		}
		if len(p.out) > 0 {
			spare := b.held
			b.held, b.rest = p.out, p.out
			p.out = spare[:0]
			p.mu.Unlock()
			break
		}
		p.mu.Unlock()
		select {
		case <-p.wake:
		case <-b.ctx.Done():
			return 0, io.EOF
		}
		// Let the other callers woken with the one that woke this read
		// (by one burst of answers) add their frames, so they share one
		// write.
		p.mu.Lock()
		others := len(p.pending) > 1
		p.mu.Unlock()
		if others {
			runtime.Gosched()
		}
	}
	n := copy(dst, b.rest)
	b.rest = b.rest[n:]
	return n, nil
}

func (b *pipeBody) Close() error { return nil }
