package ipfs

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/ipfs/go-cid"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// Options configure a Store.
type Options struct {
	// API is the base URL of the node's Kubo RPC, such as
	// "http://127.0.0.1:5001". It is needed for puts and pins; a store
	// without one only reads.
	API string
	// Gateway is the base URL of a trustless gateway, such as
	// "http://127.0.0.1:8080".
	Gateway string
	// Client makes the requests; nil means a client of its own without
	// timeouts.
	Client *http.Client
	// MaxBytes is the size limit of one blob; 0 means
	// ops.DefaultMaxBlobBytes.
	MaxBytes int64
}

// Store answers package ops's blob operations on an IPFS node. It is safe
// for concurrent use.
type Store struct {
	api, gw string
	hc      *http.Client
	max     int64
	closed  atomic.Bool
}

var _ ops.BlobStore = (*Store)(nil)

var errUploadEnded = errors.New("ipfs: upload ended")

var (
	// ErrUnreachable matches the error of a request the node did not
	// answer.
	ErrUnreachable = errors.New("ipfs: node unreachable")
	// ErrClosed is the answer of every operation after Close.
	ErrClosed = errors.New("ipfs: store closed")
	// ErrReadOnly is the answer of a put on a store without an API.
	ErrReadOnly = errors.New("ipfs: no RPC API configured, the store only reads")
)

// RPCError is an error answer of the node: the request, the HTTP status
// and the node's message.
type RPCError struct {
	Request string
	Status  int
	Message string
}

func (e *RPCError) Error() string {
	return fmt.Sprintf("ipfs: %s: %d %s: %s", e.Request, e.Status, http.StatusText(e.Status), e.Message)
}

// New makes a store on the node at opts.API and opts.Gateway. It does not
// contact the node.
func New(opts Options) (*Store, error) {
	if opts.Gateway == "" {
		return nil, errors.New("ipfs: a gateway URL is needed")
	}
	s := &Store{api: strings.TrimRight(opts.API, "/"), gw: strings.TrimRight(opts.Gateway, "/"), hc: opts.Client, max: opts.MaxBytes}
	for _, u := range []string{s.api, s.gw} {
		if u == "" {
			continue
		}
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return nil, fmt.Errorf("ipfs: bad node URL %q: want http://host:port", u)
		}
	}
	if s.hc == nil {
		s.hc = &http.Client{}
	}
	if s.max <= 0 {
		s.max = ops.DefaultMaxBlobBytes
	}
	return s, nil
}

// Close makes every later operation answer ErrClosed.
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}

// Handle answers ops.BlobPut, BlobGet, BlobHas and BlobStat, and
// effect.ErrUnhandled for any other effect.
func (s *Store) Handle(p *effect.P, e effect.Effect) (any, error) {
	ctx := context.Background()
	if p != nil {
		ctx = p.Context()
	}
	switch op := e.(type) {
	case ops.BlobPut:
		if s.closed.Load() {
			return nil, ErrClosed
		}
		return s.put(ctx, op)
	case ops.BlobGet:
		if s.closed.Load() {
			return nil, ErrClosed
		}
		if err := ops.CheckCID(op.CID); err != nil {
			return nil, err
		}
		if op.To == nil {
			return nil, errors.New("ipfs: get without a writer")
		}
		n, err := ops.ReadBlobDAG(op.CID, s.fetcher(ctx), op.To, s.max)
		if err != nil {
			return nil, err
		}
		return ops.BlobRef{CID: op.CID, Size: n}, nil
	case ops.BlobStat:
		if s.closed.Load() {
			return nil, ErrClosed
		}
		if err := ops.CheckCID(op.CID); err != nil {
			return nil, err
		}
		n, err := ops.BlobRootSize(op.CID, s.fetcher(ctx))
		if err != nil {
			return nil, err
		}
		return ops.BlobRef{CID: op.CID, Size: n}, nil
	case ops.BlobHas:
		if s.closed.Load() {
			return nil, ErrClosed
		}
		if err := ops.CheckCID(op.CID); err != nil {
			return nil, err
		}
		return s.has(ctx, op.CID)
	}
	return nil, effect.ErrUnhandled
}

func (s *Store) do(req *http.Request, what string) (*http.Response, error) {
	resp, err := s.hc.Do(req)
	if err != nil {
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, fmt.Errorf("ipfs: %s: %w", what, ctxErr)
		}
		return nil, fmt.Errorf("%w at %s: %s: %v", ErrUnreachable, req.URL.Host, what, err)
	}
	return resp, nil
}

// rpcError reads a Kubo error answer: {"Message": …, "Code": …, "Type": "error"}.
func rpcError(resp *http.Response, what string) *RPCError {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var m struct{ Message string }
	msg := strings.TrimSpace(string(b))
	if json.Unmarshal(b, &m) == nil && m.Message != "" {
		msg = m.Message
	}
	return &RPCError{Request: what, Status: resp.StatusCode, Message: msg}
}

// fetcher gets blocks from the gateway.
func (s *Store) fetcher(ctx context.Context) ops.BlobBlocks {
	return func(c cid.Cid) ([]byte, error) {
		what := "get block " + c.String()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.gw+"/ipfs/"+c.String()+"?format=raw", nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/vnd.ipld.raw")
		resp, err := s.do(req, what)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
		case http.StatusNotFound, http.StatusGone, http.StatusPreconditionFailed:
			return nil, fmt.Errorf("%w: %s (gateway %s answered %d)", ops.ErrBlobNotFound, c, s.gw, resp.StatusCode)
		default:
			return nil, rpcError(resp, what)
		}
		// A block is at most a chunk or an internal node; one byte more
		// than that is enough to tell it does not match.
		b, err := io.ReadAll(io.LimitReader(resp.Body, ops.BlobChunkBytes+ops.BlobMaxNodeBytes+1))
		if err != nil {
			return nil, fmt.Errorf("ipfs: %s: %w", what, err)
		}
		return b, nil
	}
}

func (s *Store) has(ctx context.Context, c cid.Cid) (bool, error) {
	if s.api == "" {
		req, err := http.NewRequestWithContext(ctx, http.MethodHead, s.gw+"/ipfs/"+c.String()+"?format=raw", nil)
		if err != nil {
			return false, err
		}
		req.Header.Set("Accept", "application/vnd.ipld.raw")
		req.Header.Set("Cache-Control", "only-if-cached")
		resp, err := s.do(req, "has "+c.String())
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	}
	what := "pin/ls " + c.String()
	resp, err := s.rpc(ctx, "pin/ls", url.Values{"arg": {c.String()}, "type": {"recursive"}}, nil, "")
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e := rpcError(resp, what)
		if strings.Contains(e.Message, "not pinned") {
			return false, nil
		}
		return false, e
	}
	var out struct {
		Keys map[string]struct{ Type string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return false, fmt.Errorf("ipfs: %s: bad answer: %w", what, err)
	}
	for k := range out.Keys {
		if kc, err := cid.Decode(k); err == nil && kc.Hash().String() == c.Hash().String() {
			return true, nil
		}
	}
	return false, nil
}

func (s *Store) rpc(ctx context.Context, cmd string, q url.Values, body io.Reader, contentType string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.api+"/api/v0/"+cmd+"?"+q.Encode(), body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return s.do(req, cmd)
}

// body reads a put's body into the DAG as it is sent, and stops at the
// size limit.
type body struct {
	r   io.Reader
	dag *ops.BlobDAG
	max int64
	err error // why it stopped, other than the end
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if n > 0 {
		if b.dag.Size()+int64(n) > b.max {
			b.err = fmt.Errorf("%w: more than %d bytes", ops.ErrBlobTooLarge, b.max)
			return 0, b.err
		}
		_, _ = b.dag.Write(p[:n])
	}
	if err != nil && err != io.EOF {
		b.err = fmt.Errorf("ipfs: read the body: %w", err)
		return n, b.err
	}
	return n, err
}

func (s *Store) put(ctx context.Context, op ops.BlobPut) (ops.BlobRef, error) {
	if op.Body == nil {
		return ops.BlobRef{}, errors.New("ipfs: put without a body")
	}
	if s.api == "" {
		return ops.BlobRef{}, ErrReadOnly
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var dag ops.BlobDAG
	src := &body{r: op.Body, dag: &dag, max: s.max}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	done := make(chan error, 1)
	go func() {
		part, err := mw.CreateFormFile("file", "blob")
		if err == nil {
			_, err = io.Copy(part, src)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
		done <- err
	}()
	// finish stops the upload, if it still runs, and answers the body's
	// own error (over the limit, a failed read), which comes first.
	finished := false
	finish := func() error {
		if finished {
			return nil
		}
		finished = true
		_ = pr.CloseWithError(errUploadEnded)
		<-done
		return src.err
	}
	defer finish()
	q := url.Values{
		"cid-version": {"1"}, "raw-leaves": {"true"}, "chunker": {fmt.Sprintf("size-%d", ops.BlobChunkBytes)},
		"hash": {"sha2-256"}, "pin": {"false"}, "progress": {"false"},
	}
	resp, err := s.rpc(ctx, "add", q, pr, mw.FormDataContentType())
	if err != nil {
		if berr := finish(); berr != nil {
			return ops.BlobRef{}, berr
		}
		return ops.BlobRef{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		if berr := finish(); berr != nil {
			return ops.BlobRef{}, berr
		}
		return ops.BlobRef{}, rpcError(resp, "add")
	}
	var last struct {
		Name, Hash string
		Size       string
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var m struct {
			Name, Hash, Size string
			Message, Type    string
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			return ops.BlobRef{}, fmt.Errorf("ipfs: add: bad answer %.80q: %w", line, err)
		}
		if m.Type == "error" {
			return ops.BlobRef{}, &RPCError{Request: "add", Status: resp.StatusCode, Message: m.Message}
		}
		if m.Hash != "" {
			last.Name, last.Hash, last.Size = m.Name, m.Hash, m.Size
		}
	}
	if err := sc.Err(); err != nil {
		if berr := finish(); berr != nil {
			return ops.BlobRef{}, berr
		}
		return ops.BlobRef{}, fmt.Errorf("ipfs: add: read the answer: %w", err)
	}
	if berr := finish(); berr != nil {
		return ops.BlobRef{}, berr
	}
	if msg := resp.Trailer.Get("X-Stream-Error"); msg != "" {
		return ops.BlobRef{}, &RPCError{Request: "add", Status: resp.StatusCode, Message: msg}
	}
	want, size, err := dag.Sum()
	if err != nil {
		return ops.BlobRef{}, err
	}
	got, err := cid.Decode(last.Hash)
	if err != nil {
		return ops.BlobRef{}, fmt.Errorf("ipfs: add: the node answered no usable CID (%q): %v", last.Hash, err)
	}
	if !got.Equals(want) {
		return ops.BlobRef{}, fmt.Errorf("ipfs: add: the node named the blob %s where the CID rule gives %s: is it configured with another chunker or layout?", got, want)
	}
	pin, err := s.rpc(ctx, "pin/add", url.Values{"arg": {want.String()}}, nil, "")
	if err != nil {
		return ops.BlobRef{}, err
	}
	defer pin.Body.Close()
	if pin.StatusCode != http.StatusOK {
		return ops.BlobRef{}, rpcError(pin, "pin/add "+want.String())
	}
	var pins struct{ Pins []string }
	if err := json.NewDecoder(pin.Body).Decode(&pins); err != nil {
		return ops.BlobRef{}, fmt.Errorf("ipfs: pin/add %s: bad answer: %w", want, err)
	}
	return ops.BlobRef{CID: want, Size: size, MediaType: op.MediaType}, nil
}
