package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/sx"
)

// Media types of the two notations.
const (
	mediaSX   = "application/x-sx"
	mediaJSON = "application/json"
)

// Options configure a Client.
type Options struct {
	// Token is the bearer token sent with every request; empty sends none.
	Token string
	// JSON makes the client write requests and read answers in JSON
	// instead of SX.
	JSON bool
	// HTTP2 makes a cleartext client speak HTTP/2 with prior knowledge
	// (h2c) over one connection; otherwise it uses HTTP/1.1 with a pool of
	// connections. Over https HTTP/2 is negotiated either way.
	HTTP2 bool
	// Gather, with NoPipe (or against a server without pipes), makes
	// operations that several goroutines perform at the same time travel
	// together: while a few requests are in flight, the
	// operations that arrive wait and go in batch requests after them. It trades a
	// little latency under load for far fewer round trips, and lets the
	// server group-commit concurrent appends. persist/wait always travels
	// alone.
	Gather bool
	// NoPipe makes every operation its own request (POST /v1/op, or
	// /v1/batch with Gather) instead of a frame on the client's pipe
	// (POST /v1/pipe), as an SX host that performs one request per
	// operation does.
	NoPipe bool
	// HTTPClient replaces the client's own; its Transport is used as it
	// is, and HTTP2 is ignored.
	HTTPClient *http.Client
}

// Client performs persist operations on a server: it is an ops.Backend
// whose Handle sends each operation to the server and answers with the
// server's answer. It is safe for concurrent use.
type Client struct {
	base  string // scheme://host[:port], no trailing slash
	token string
	json  bool
	hc    *http.Client

	header http.Header // of every request: notation and token; read only

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	once   sync.Once

	// The connections of the client's own transport, so that Close ends
	// them all, one whose dial finishes after Close included.
	dialer *net.Dialer
	cmu    sync.Mutex
	closed bool
	conns  map[*clientConn]struct{}
	dialed func() // called as a dial finishes; for tests

	usePipe bool
	pmu     sync.Mutex // opening the pipe
	pipe    *pipe      // the live pipe, or nil
	noPipe  bool       // the server has none

	gather  bool
	gmu     sync.Mutex
	senders int        // requests of the gatherer in flight
	queue   []*pending // operations waiting for the next batch
}

var _ ops.Backend = (*Client)(nil)

// Dial returns a client of the server at rawURL (http://host:port or
// https://host:port). It does not connect until the first operation.
func Dial(rawURL string, opts Options) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("remote: server URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("remote: server URL %q: want http or https", rawURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("remote: server URL %q has no host", rawURL)
	}
	c := &Client{base: u.Scheme + "://" + u.Host + strings.TrimRight(u.Path, "/"), token: opts.Token, json: opts.JSON, hc: opts.HTTPClient, gather: opts.Gather, usePipe: !opts.NoPipe}
	if c.hc == nil {
		c.conns = map[*clientConn]struct{}{}
		c.dialer = &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
		t := &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         c.dial,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
			ForceAttemptHTTP2:   true,
		}
		if opts.HTTP2 && u.Scheme == "http" {
			var p http.Protocols
			p.SetUnencryptedHTTP2(true)
			t.Protocols = &p
		}
		c.hc = &http.Client{Transport: t}
	}
	media, _ := c.notation()
	c.header = http.Header{"Content-Type": {media}, "Accept": {media}}
	if c.token != "" {
		c.header["Authorization"] = []string{"Bearer " + c.token}
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// Close ends the client: operations in flight end with ops.ErrClosed, as
// does every later one, and the connections of the client's own transport
// close, one still being dialled included. It does not close the server's
// store.
func (c *Client) Close() error {
	c.once.Do(func() {
		c.cancel()
		if t, ok := c.hc.Transport.(interface{ CloseIdleConnections() }); ok {
			t.CloseIdleConnections()
		}
		c.cmu.Lock()
		c.closed = true
		open := c.conns
		c.conns = nil
		c.cmu.Unlock()
		for cc := range open {
			_ = cc.Conn.Close()
		}
	})
	return nil
}

// dial makes a connection of the client's own transport. A dial that
// finishes after Close is closed at once: the transport would otherwise
// keep it, idle and open, past Close (a dial outlives the request that
// started it), and a server shutting down would wait on it.
func (c *Client) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := c.dialer.DialContext(ctx, network, addr)
	if c.dialed != nil {
		c.dialed()
	}
	if err != nil {
		return nil, err
	}
	c.cmu.Lock()
	defer c.cmu.Unlock()
	if c.closed {
		_ = conn.Close()
		return nil, ops.ErrClosed
	}
	cc := &clientConn{Conn: conn, c: c}
	c.conns[cc] = struct{}{}
	return cc, nil
}

// clientConn is a connection of the client's own transport; it leaves
// the client's set when it closes.
type clientConn struct {
	net.Conn
	c *Client
}

func (cc *clientConn) Close() error {
	cc.c.cmu.Lock()
	delete(cc.c.conns, cc)
	cc.c.cmu.Unlock()
	return cc.Conn.Close()
}

// Handle performs e on the server when it is an operation of package ops
// (the blob operations included, streamed: see blob.go), and answers
// effect.ErrUnhandled for any other effect.
func (c *Client) Handle(p *effect.P, e effect.Effect) (any, error) {
	if v, ok, err := c.handleBlob(p, e); ok {
		return v, err
	}
	dec, ok := decoderOf(e)
	if !ok {
		return nil, effect.ErrUnhandled
	}
	// An invalid operation is refused here as the server would refuse it,
	// without a round trip (and some, such as names that are not UTF-8,
	// have no JSON form to send).
	if err := ops.Validate(e); err != nil {
		return nil, err
	}
	ctx := context.Background()
	if p != nil {
		ctx = p.Context()
	}
	if w, isWait := e.(ops.Wait); isWait {
		return c.wait(ctx, w)
	}
	if w, isWait := e.(ops.KvWait); isWait {
		return c.kvWait(ctx, w)
	}
	if c.usePipe {
		return c.piped(ctx, e, dec)
	}
	if c.gather {
		return c.gathered(ctx, e, dec)
	}
	return c.do(ctx, e, dec)
}

// wait asks again while the server ends the wait at its own limit before
// the caller's timeout (or, with Timeout 0, until the wait passes).
func (c *Client) wait(ctx context.Context, w ops.Wait) (any, error) {
	return c.waitUntil(ctx, w.Timeout, func(left time.Duration) effect.Effect {
		op := w
		op.Timeout = left
		return op
	})
}

// kvWait is wait for the kv revision: asked again while the server ends
// it at its own limit before the caller's timeout.
func (c *Client) kvWait(ctx context.Context, w ops.KvWait) (any, error) {
	return c.waitUntil(ctx, w.Timeout, func(left time.Duration) effect.Effect {
		op := w
		op.Timeout = left
		return op
	})
}

// waitUntil asks the wait that ask builds, with the time left of timeout
// (at least a nanosecond), again while the server ends it at its own
// limit before the timeout passes; with a timeout of 0 it asks with 0
// until the wait passes.
func (c *Client) waitUntil(ctx context.Context, timeout time.Duration, ask func(left time.Duration) effect.Effect) (any, error) {
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		left := timeout
		if !deadline.IsZero() {
			left = max(time.Until(deadline), time.Nanosecond)
		}
		v, err := c.do(ctx, ask(left), answerAs[ops.WaitResult])
		if err != nil {
			return nil, err
		}
		r := v.(ops.WaitResult)
		if r.Passed || (!deadline.IsZero() && !time.Now().Before(deadline)) {
			return r, nil
		}
	}
}

func (c *Client) notation() (string, bool) {
	if c.json {
		return mediaJSON, true
	}
	return mediaSX, false
}

// encode writes an operation as the protocol does: the list of its name
// and its fields, as sx.FromGo converts them.
func encode(e effect.Effect, asJSON bool) ([]byte, error) {
	if fastEncodable(e) {
		return writeFastOp(make([]byte, 0, sizeHint(e)), e, asJSON), nil
	}
	v, err := opValue(e)
	if err != nil {
		return nil, err
	}
	return encodeValue(v, asJSON, sizeHint(e))
}

// sizeHint guesses the printed size of an operation from the bytes its
// events and values carry (an eighth more for escapes), so that printing
// a large append does not grow its buffer step by step.
func sizeHint(e effect.Effect) int {
	n := 128
	bytes := func(b []byte) { n += len(b) + len(b)/8 + 16 }
	appendOf := func(a ops.Append) {
		n += len(a.Stream) + 64
		for _, ev := range a.Events {
			n += len(ev.Type) + 64
			bytes(ev.Data)
		}
	}
	switch o := e.(type) {
	case ops.Append:
		appendOf(o)
	case ops.Commit:
		for _, a := range o.Appends {
			appendOf(a)
		}
		for _, k := range o.Kv {
			n += len(k.Key) + 64
			bytes(k.Value)
		}
	case ops.KvPut:
		n += len(o.Key)
		bytes(o.Value)
	case ops.SnapshotWrite:
		n += len(o.Snapshot.Name)
		bytes(o.Snapshot.Value)
	}
	return n
}

// opValue is the operation as an SX value: (name {fields}), or (name)
// without fields.
func opValue(e effect.Effect) (sx.Value, error) {
	v, err := sx.FromGoForm(e.EffectName(), e)
	if err != nil {
		return nil, fmt.Errorf("remote: %s: %w", e.EffectName(), err)
	}
	return v, nil
}

// encodeValue writes v in the client's notation; hint is its likely size.
func encodeValue(v sx.Value, asJSON bool, hint int) ([]byte, error) {
	if asJSON {
		return sx.ToJSON(v)
	}
	return sx.AppendPrint(make([]byte, 0, hint), v), nil
}

// plainMedia reports whether contentType is exactly one of the two media
// types, which the fast decoder reads, and which.
func plainMedia(contentType string) (asJSON, ok bool) {
	return contentType == mediaJSON, contentType == mediaJSON || contentType == mediaSX
}

func decodeValue(b []byte, contentType string) (sx.Value, error) {
	mt := contentType
	if mt != mediaSX && mt != mediaJSON {
		mt, _, _ = mime.ParseMediaType(contentType)
	}
	switch mt {
	case mediaJSON:
		return sx.FromJSONGo(b)
	case mediaSX, "":
		return sx.Read(string(b))
	}
	return nil, fmt.Errorf("remote: answer of type %q is neither SX nor JSON: %.200s", contentType, b)
}

// post sends body to path and reads the answer.
func (c *Client) post(ctx context.Context, path string, body []byte) (int, sx.Value, error) {
	status, b, ct, err := c.postText(ctx, path, body)
	if err != nil {
		return 0, nil, err
	}
	v, err := decodeValue(b, ct)
	if err != nil {
		return status, nil, fmt.Errorf("remote: answer %d: %w", status, err)
	}
	return status, v, nil
}

// postText sends body to path and gives the answer's status, text and
// media type.
func (c *Client) postText(ctx context.Context, path string, body []byte) (status int, text []byte, contentType string, err error) {
	if c.ctx.Err() != nil {
		return 0, nil, "", ops.ErrClosed
	}
	// Close ends the request through its context: the client's own when
	// the caller's is the background, which nothing ends and which holds
	// no values, and otherwise one that either ends.
	rctx := c.ctx
	if ctx != context.Background() {
		var cancel context.CancelFunc
		rctx, cancel = context.WithCancel(ctx)
		defer cancel()
		stop := context.AfterFunc(c.ctx, cancel)
		defer stop()
	}
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, "", fmt.Errorf("remote: %w", err)
	}
	// The client's own transport does not change a request's header, so
	// every request shares one; a transport of the caller's gets a copy.
	req.Header = c.header
	if c.conns == nil {
		req.Header = c.header.Clone()
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, "", c.transportError(ctx, err)
	}
	defer resp.Body.Close()
	b, err := readAll(resp.Body, resp.ContentLength)
	if err != nil {
		return 0, nil, "", c.transportError(ctx, err)
	}
	return resp.StatusCode, b, resp.Header.Get("Content-Type"), nil
}

// readAll reads an answer's body, into a buffer of the length it declares
// when it declares one.
func readAll(r io.Reader, length int64) ([]byte, error) {
	if length <= 0 || length > 64<<20 {
		return io.ReadAll(r)
	}
	var buf bytes.Buffer
	buf.Grow(int(length) + bytes.MinRead)
	_, err := buf.ReadFrom(r)
	return buf.Bytes(), err
}

// transportError names why a request got no answer: the client closed,
// the caller's context ended, or the connection failed (ErrUnreachable).
func (c *Client) transportError(ctx context.Context, err error) error {
	switch {
	case c.ctx.Err() != nil:
		return ops.ErrClosed
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return &UnreachableError{Err: err}
}

func (c *Client) do(ctx context.Context, e effect.Effect, dec func(sx.Value) (any, error)) (any, error) {
	_, asJSON := c.notation()
	body, err := encode(e, asJSON)
	if err != nil {
		return nil, err
	}
	status, text, ct, err := c.postText(ctx, "/v1/op", body)
	if err != nil {
		return nil, err
	}
	if asJSON, ok := plainMedia(ct); ok && status == http.StatusOK {
		if r, ok := fastAnswer(text, asJSON, e, false); ok {
			return r, nil
		}
	}
	v, err := decodeValue(text, ct)
	if err != nil {
		return nil, fmt.Errorf("remote: answer %d: %w", status, err)
	}
	if status != http.StatusOK {
		return nil, decodeError(status, v)
	}
	r, err := dec(v)
	if err != nil {
		return nil, fmt.Errorf("remote: answer of %s: %w", e.EffectName(), err)
	}
	return r, nil
}

// Result is the answer of one operation of a batch: a value or an error.
type Result struct {
	Value any
	Err   error
}

// Batch performs several independent operations in one request, in order,
// each with its own answer (see the protocol's batch form). An operation
// that is not of package ops is answered effect.ErrUnhandled without being
// sent. The error is for the batch as a whole: it did not reach the server,
// or the server refused all of it.
func (c *Client) Batch(ctx context.Context, batch []effect.Effect) ([]Result, error) {
	out := make([]Result, len(batch))
	var sent []int
	var items sx.Vector
	hint := 0
	_, asJSON := c.notation()
	for i, e := range batch {
		if _, ok := decoderOf(e); !ok {
			out[i].Err = &effect.UnhandledError{Effect: e}
			continue
		}
		item, err := opValue(e)
		if err != nil {
			out[i].Err = err
			continue
		}
		items = append(items, item)
		sent = append(sent, i)
		hint += sizeHint(e)
	}
	if len(items) == 0 {
		return out, nil
	}
	body, err := encodeValue(items, asJSON, hint)
	if err != nil {
		return nil, err
	}
	status, v, err := c.post(ctx, "/v1/batch", body)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, decodeError(status, v)
	}
	answers, ok := v.(sx.Vector)
	if !ok || len(answers) != len(sent) {
		return nil, fmt.Errorf("remote: batch answer is not a vector of %d answers: %.200s", len(sent), sx.Print(v))
	}
	for j, i := range sent {
		d, _ := answers[j].(*sx.Dict)
		if ok, found := d.Get(sx.Keyword("ok")); found {
			dec, _ := decoderOf(batch[i])
			out[i].Value, out[i].Err = dec(ok)
			continue
		}
		out[i].Err = decodeError(0, answers[j])
	}
	return out, nil
}

// decoderOf gives the decoder of e's answer, if e is an operation of
// package ops.
func decoderOf(e effect.Effect) (func(sx.Value) (any, error), bool) {
	switch e.(type) {
	case ops.Append:
		return answerAs[ops.AppendResult], true
	case ops.Read:
		return answerAs[ops.ReadResult], true
	case ops.ReadAll:
		return answerAs[ops.ReadAllResult], true
	case ops.Head:
		return answerAs[uint64], true
	case ops.Streams:
		return answerAs[ops.StreamsResult], true
	case ops.Wait:
		return answerAs[ops.WaitResult], true
	case ops.KvGet:
		return answerAs[*ops.KvEntry], true
	case ops.KvPut, ops.KvDelete:
		return answerAs[ops.KvResult], true
	case ops.KvList:
		return answerAs[ops.KvListResult], true
	case ops.SnapshotRead:
		return answerAs[ops.SnapshotResult], true
	case ops.SnapshotWrite:
		return answerAs[struct{}], true
	case ops.SnapshotNames:
		return answerAs[[]string], true
	case ops.Now:
		return answerAs[time.Time], true
	case ops.Commit:
		return answerAs[ops.CommitResult], true
	case ops.StreamMetaRead, ops.StreamMetaWrite, ops.StreamDelete:
		return answerAs[ops.StreamMetaResult], true
	case ops.KvHistory:
		return answerAs[ops.KvHistoryResult], true
	case ops.KvWatch:
		return answerAs[ops.KvWatchResult], true
	case ops.KvWait:
		return answerAs[ops.WaitResult], true
	case ops.SnapshotGenerations:
		return answerAs[ops.SnapshotGenerationsResult], true
	case ops.Stat:
		return answerAs[ops.StatResult], true
	}
	return nil, false
}

func answerAs[R any](v sx.Value) (any, error) {
	var r R
	if err := sx.ToGo(v, &r); err != nil {
		return nil, err
	}
	return r, nil
}

var (
	// ErrUnavailable matches an answer saying the store cannot serve or
	// the server is shutting down (503 unavailable): retry later or
	// elsewhere.
	ErrUnavailable = errors.New("remote: server unavailable")
	// ErrUnauthorized matches a refused token (401).
	ErrUnauthorized = errors.New("remote: unauthorized")
	// ErrForbidden matches a request outside the token's grants (403).
	ErrForbidden = errors.New("remote: forbidden")
)

// Error is an error answer of the server that is not an ops error (those
// come back as *ops.Conflict, *ops.DuplicateIDError, *ops.InvalidError and
// ops.ErrClosed).
type Error struct {
	Status  int    // the HTTP status; 0 within a batch
	Kind    string // the protocol's error kind, such as "forbidden"
	Message string // the server's message
	Grant   string // the missing grant, for "forbidden"
	Limit   string // the limit passed, for "too-large" and "too-many"
	Max     int64
}

func (e *Error) Error() string {
	if e.Message != "" {
		return e.Message
	}
	return fmt.Sprintf("remote: server answered %d %s", e.Status, e.Kind)
}

// Is matches the sentinels of this package by kind.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrUnavailable:
		return e.Kind == "unavailable"
	case ErrUnauthorized:
		return e.Kind == "unauthorized"
	case ErrForbidden:
		return e.Kind == "forbidden"
	}
	return false
}

// UnreachableError is a request that got no answer: the connection could
// not be made or broke. A write may or may not have happened; retry it
// with the same event IDs.
type UnreachableError struct{ Err error }

func (e *UnreachableError) Error() string { return "remote: no answer: " + e.Err.Error() }
func (e *UnreachableError) Unwrap() error { return e.Err }

// decodeError turns an error dict back into the Go error it stands for.
func decodeError(status int, v sx.Value) error {
	d, ok := v.(*sx.Dict)
	if !ok {
		return &Error{Status: status, Kind: "error", Message: fmt.Sprintf("remote: server answered %d: %.200s", status, sx.Print(v))}
	}
	str := func(k string) string {
		x, _ := d.Get(sx.Keyword(k))
		s, _ := x.(string)
		return s
	}
	num := func(k string) int64 {
		x, _ := d.Get(sx.Keyword(k))
		n, _ := x.(int64)
		return n
	}
	switch str("error") {
	case "conflict":
		exp, err := ops.ParseExpect(str("expected"))
		if err == nil && num("actual") >= 0 {
			return &ops.Conflict{Stream: str("stream"), Key: str("key"), Expected: exp, Actual: uint64(num("actual"))}
		}
	case "duplicate-id":
		id, err := uuid.Parse(str("id"))
		if err == nil && num("seq") > 0 && num("index") >= 0 {
			return &ops.DuplicateIDError{Stream: str("stream"), ID: id, Seq: uint64(num("seq")), Index: int(num("index"))}
		}
	case "invalid":
		return &ops.InvalidError{Op: str("op"), Field: str("field"), Reason: str("reason")}
	case "closed":
		return ops.ErrClosed
	case "stream-deleted":
		return &ops.StreamDeletedError{Stream: str("stream")}
	case "compacted":
		if num("revision") >= 0 && num("compacted") >= 0 {
			return &ops.CompactedError{Revision: uint64(num("revision")), Compacted: uint64(num("compacted"))}
		}
	}
	return &Error{Status: status, Kind: str("error"), Message: str("message"), Grant: str("grant"), Limit: str("limit"), Max: num("max")}
}
