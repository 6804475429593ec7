package server

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/sx"
)

// Limits bound what one request may ask of the server. A zero field takes
// its default.
type Limits struct {
	// Body is the largest request body in bytes. Default 32 MiB.
	Body int64
	// Data is the largest event data or kv value in bytes; at most
	// ops.MaxDataBytes, its default.
	Data int
	// Batch is the most operations in one batch. Default 64.
	Batch int
	// Follows is the most follows open at once per token (per server
	// without tokens). Default 64.
	Follows int
	// Request bounds the time of a request other than a follow. Default
	// 30 s.
	Request time.Duration
	// Wait is the longest a persist/wait is held before it is answered
	// as timed out. Default Request less 5 s (at least 1 s).
	Wait time.Duration
	// Ping is how often an idle follow writes a comment. Default 15 s.
	Ping time.Duration
	// Blob is the largest blob POST /v1/blob takes, in bytes. Default
	// ops.DefaultMaxBlobBytes.
	Blob int64
	// Pipe is the most operations one pipe (POST /v1/pipe) has in flight;
	// the server reads no further frames until one is answered. Default
	// 256.
	Pipe int
	// PipeIdle is how long a pipe may go without a frame before the
	// server ends it. Default 120 s.
	PipeIdle time.Duration
}

func (l Limits) withDefaults() (Limits, error) {
	if l.Body == 0 {
		l.Body = 32 << 20
	}
	if l.Data == 0 {
		l.Data = ops.MaxDataBytes
	}
	if l.Batch == 0 {
		l.Batch = 64
	}
	if l.Follows == 0 {
		l.Follows = 64
	}
	if l.Request == 0 {
		l.Request = 30 * time.Second
	}
	if l.Wait == 0 {
		l.Wait = max(l.Request-5*time.Second, time.Second)
	}
	if l.Ping == 0 {
		l.Ping = 15 * time.Second
	}
	if l.Blob == 0 {
		l.Blob = ops.DefaultMaxBlobBytes
	}
	if l.Pipe == 0 {
		l.Pipe = 256
	}
	if l.PipeIdle == 0 {
		l.PipeIdle = 120 * time.Second
	}
	switch {
	case l.Body < 0, l.Blob < 0, l.Data < 0, l.Batch < 0, l.Follows < 0, l.Request < 0, l.Wait < 0, l.Ping < 0, l.Pipe < 0, l.PipeIdle < 0:
		return l, errors.New("server: a limit is negative")
	case l.Data > ops.MaxDataBytes:
		return l, fmt.Errorf("server: data limit %d is over ops.MaxDataBytes (%d)", l.Data, ops.MaxDataBytes)
	case l.Wait >= l.Request:
		return l, fmt.Errorf("server: wait limit %s is not below the request time %s", l.Wait, l.Request)
	}
	return l, nil
}

// Options configure a Server.
type Options struct {
	Limits Limits
	// Logger receives the server's own events (at Info and above) and one
	// line per request (at Debug); nil discards them.
	Logger *slog.Logger
	// Tokens are the bearer tokens the server accepts, with their grants.
	// Without tokens every request is allowed, and the server listens only
	// on loopback.
	Tokens []Token
	// Collectors are more Prometheus collectors for the server's registry,
	// such as the store's own figures (fsyncs, log size).
	Collectors []prometheus.Collector
	// Blobs is the blob store the blob endpoints serve (nil: none, and
	// they answer 501). The server owns it: Shutdown closes it.
	Blobs ops.BlobStore
	// Unavailable lists errors of the store that mean it cannot serve
	// (such as file.ErrFailed): they are answered 503 unavailable.
	Unavailable []error
}

// Server serves a store over HTTP. It is an http.Handler; Serve runs it on
// a listener with every timeout set, and Shutdown drains it and closes the
// store.
type Server struct {
	store  ops.Backend
	blobs  ops.BlobStore
	limits Limits
	log    *slog.Logger
	unav   []error
	mux    *http.ServeMux

	tokens  map[string]*Token // by the hash of the secret
	metrics *metrics
	workers *workers // run the operations of batches

	closing  atomic.Bool
	drain    chan struct{} // closed when shutdown starts
	inflight sync.WaitGroup
	mu       sync.Mutex
	servers  []*http.Server
	follows  map[string]int // open follows by token name ("" without tokens)

	home string // where a browser asking for "/" goes ("" when nothing is mounted)

	feedMu    sync.Mutex
	feeds     map[string]*feed // running feeds by source
	ringLen   int              // feedRing, but for tests
	ringBytes int              // feedRingBytes, but for tests
	stateTTL  time.Duration    // the const stateTTL, but for tests
	closed    bool
	closeErr  error         // Shutdown's answer, once shut is closed
	shut      chan struct{} // closed when Shutdown has finished
}

var _ http.Handler = (*Server)(nil)

// New makes a server of store. The server owns the store from now on:
// Shutdown closes it.
func New(store ops.Backend, opts Options) (*Server, error) {
	if store == nil {
		return nil, errors.New("server: nil store")
	}
	limits, err := opts.Limits.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{store: store, blobs: opts.Blobs, limits: limits, log: opts.Logger, unav: opts.Unavailable, drain: make(chan struct{}), shut: make(chan struct{}),
		tokens: map[string]*Token{}, metrics: newMetrics(), workers: newWorkers(), follows: map[string]int{}, feeds: map[string]*feed{},
		ringLen: feedRing, ringBytes: feedRingBytes, stateTTL: stateTTL}
	for _, c := range opts.Collectors {
		if err := s.metrics.reg.Register(c); err != nil {
			return nil, fmt.Errorf("server: metrics: %w", err)
		}
	}
	for i := range opts.Tokens {
		t := opts.Tokens[i]
		t.SHA256 = strings.ToLower(t.SHA256)
		if len(t.SHA256) != 64 || strings.Trim(t.SHA256, "0123456789abcdef") != "" {
			return nil, fmt.Errorf("server: token %q: sha256 is not 64 hex digits", t.Name)
		}
		if s.tokens[t.SHA256] != nil {
			return nil, fmt.Errorf("server: token %q has the same secret as %q", t.Name, s.tokens[t.SHA256].Name)
		}
		s.tokens[t.SHA256] = &t
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}

	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /v1/op", s.serveOp)
	s.mux.HandleFunc("POST /v1/batch", s.serveBatch)
	s.mux.HandleFunc("POST /v1/pipe", s.servePipe)
	s.mux.HandleFunc("GET /v1/follow", s.serveFollow)
	s.mux.HandleFunc("GET /v1/kv-watch", s.serveKvWatch)
	s.mux.HandleFunc("POST /v1/blob", s.servePutBlob)
	s.mux.HandleFunc("GET /v1/blob/{cid}", s.serveGetBlob)
	s.mux.HandleFunc("GET /healthz", s.serveHealth)
	s.mux.HandleFunc("GET /readyz", s.serveReady)
	s.mux.HandleFunc("GET /metrics", s.serveMetrics)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/op", "/v1/batch", "/v1/pipe", "/v1/follow", "/v1/kv-watch", "/healthz", "/readyz", "/metrics":
			s.fail(w, r, SX, errMethod)
		case "/":
			s.mu.Lock()
			home := s.home
			s.mu.Unlock()
			if home != "" && (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.Contains(r.Header.Get("Accept"), "text/html") {
				http.Redirect(w, r, home, http.StatusSeeOther)
				return
			}
			s.fail(w, r, SX, errNotFound)
		default:
			s.fail(w, r, SX, errNotFound)
		}
	})
	return s, nil
}

// ServeHTTP serves one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get("X-Request-Id")
	if id == "" || len(id) > 128 {
		id = newRequestID()
	}
	w.Header().Set("X-Request-Id", id)
	start := time.Now()
	rec := &statusWriter{ResponseWriter: w}
	r = r.WithContext(withRequestID(r.Context(), id))
	s.metrics.inflight.Inc()
	s.mux.ServeHTTP(rec, r)
	s.metrics.inflight.Dec()
	endpoint := r.URL.Path
	switch {
	case endpoint == "/v1/op", endpoint == "/v1/batch", endpoint == "/v1/pipe", endpoint == "/v1/follow", endpoint == "/v1/kv-watch", endpoint == "/healthz", endpoint == "/readyz", endpoint == "/metrics":
	case endpoint == "/v1/blob", strings.HasPrefix(endpoint, "/v1/blob/"):
		endpoint = "/v1/blob"
	default:
		endpoint = "other"
	}
	s.metrics.request(endpoint, rec.status())
	// One line per request is Debug: at the default Info level it costs a
	// check, not a formatted write per operation.
	if s.log.Enabled(r.Context(), slog.LevelDebug) {
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "request",
			slog.String("id", id), slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", rec.status()), slog.Duration("took", time.Since(start)))
	}
}

// newRequestID makes an id for a request that brought none: 64 random
// bits in hex, from the runtime's fast source rather than the operating
// system's (an id names a request in logs; it guards nothing).
func newRequestID() string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], mrand.Uint64())
	return hex.EncodeToString(b[:])
}

type ctxKey struct{}

func withRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// Flush lets follows flush through the recorder.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the writer underneath.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// enter counts a request in flight, or refuses it when the server is
// shutting down.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.inflight.Add(1)
	return true
}

func (s *Server) leave() { s.inflight.Done() }

// readBody reads the whole body, at most the body limit, and the notation
// its Content-Type names.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, Notation, error) {
	n, ok := NotationOf(r.Header.Get("Content-Type"))
	if !ok {
		return nil, SX, errNotation
	}
	body, err := readAll(http.MaxBytesReader(w, r.Body, s.limits.Body), r.ContentLength, s.limits.Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, n, &LimitError{Limit: "body", Max: s.limits.Body}
	}
	if err != nil {
		return nil, n, &ops.InvalidError{Field: "body", Reason: err.Error()}
	}
	return body, n, nil
}

// readAll reads rd to its end into a buffer sized for the length the
// request declares (when it is within max), so a body is read without
// the buffer growing as it goes.
func readAll(rd io.Reader, length, max int64) ([]byte, error) {
	if length <= 0 || length > max {
		return io.ReadAll(rd)
	}
	buf := make([]byte, 0, length+1) // +1: the read that sees the end
	for {
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // longer than declared: grow
		}
	}
}

// request authenticates r and reads its body, answering the error itself
// when either fails (ok false).
func (s *Server) request(w http.ResponseWriter, r *http.Request) (pr principal, body []byte, n Notation, ok bool) {
	n, _ = NotationOf(r.Header.Get("Content-Type"))
	pr, err := s.authenticate(r)
	if err == nil {
		body, n, err = s.readBody(w, r)
	}
	if err != nil {
		s.fail(w, r, n, err)
		return pr, nil, n, false
	}
	return pr, body, n, true
}

func (s *Server) serveOp(w http.ResponseWriter, r *http.Request) {
	if !s.enter() {
		s.fail(w, r, SX, ErrShuttingDown)
		return
	}
	defer s.leave()
	pr, body, n, ok := s.request(w, r)
	if !ok {
		return
	}
	op, err := DecodeOp(body, n)
	if err == nil {
		err = s.authorize(pr, op)
	}
	if err == nil {
		err = s.check(op)
	}
	if err != nil {
		s.fail(w, r, n, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.limits.Request)
	defer cancel()
	v, err := s.perform(ctx, op)
	if err != nil {
		s.fail(w, r, n, err)
		return
	}
	s.answer(w, r, n, http.StatusOK, v)
}

func (s *Server) serveBatch(w http.ResponseWriter, r *http.Request) {
	if !s.enter() {
		s.fail(w, r, SX, ErrShuttingDown)
		return
	}
	defer s.leave()
	pr, body, n, ok := s.request(w, r)
	if !ok {
		return
	}
	batch, errs, err := DecodeBatch(body, n, s.limits.Batch)
	if err != nil {
		s.fail(w, r, n, err)
		return
	}
	// A grant missing for any operation refuses the whole batch: nothing
	// is performed.
	for i, op := range batch {
		if errs[i] == nil {
			if err := s.authorize(pr, op); err != nil {
				s.fail(w, r, n, err)
				return
			}
			errs[i] = s.check(op)
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.limits.Request)
	defer cancel()
	// The operations are independent: they run at once, so that appends
	// of one batch share the store's group commit.
	out := make(sx.Vector, len(batch))
	var wg sync.WaitGroup
	wg.Add(len(batch))
	for i, op := range batch {
		s.workers.run(func() {
			defer wg.Done()
			out[i] = s.batchAnswer(ctx, op, errs[i])
		})
	}
	wg.Wait()
	s.answerValue(w, r, n, http.StatusOK, out)
}

// batchAnswer performs one operation of a batch (unless it was refused
// with err) and gives its answer: {:ok value} or the error dict.
func (s *Server) batchAnswer(ctx context.Context, op effect.Effect, err error) sx.Value {
	var v any
	if err == nil {
		v, err = s.perform(ctx, op)
	}
	if err != nil {
		_, d := errorAnswer(s.classify(err))
		return d
	}
	val, cerr := sx.FromGo(v)
	if cerr != nil {
		_, d := errorAnswer(cerr)
		return d
	}
	return sx.NewDict(sx.Keyword("ok"), val)
}

// check applies the server's own limits to an operation before it reaches
// the store.
func (s *Server) check(op effect.Effect) error {
	if s.limits.Data >= ops.MaxDataBytes {
		return nil
	}
	max := s.limits.Data
	over := func(b []byte) bool { return len(b) > max }
	switch o := op.(type) {
	case ops.Append:
		for _, e := range o.Events {
			if over(e.Data) {
				return &LimitError{Limit: "data", Max: int64(max)}
			}
		}
	case ops.KvPut:
		if over(o.Value) {
			return &LimitError{Limit: "data", Max: int64(max)}
		}
	case ops.Commit:
		for _, a := range o.Appends {
			if err := s.check(a); err != nil {
				return err
			}
		}
		for _, k := range o.Kv {
			if over(k.Value) {
				return &LimitError{Limit: "data", Max: int64(max)}
			}
		}
	}
	return nil
}

// perform asks the store. A wait is held at most the wait limit, and ends
// early, answered as timed out, when the server shuts down.
func (s *Server) perform(ctx context.Context, op effect.Effect) (any, error) {
	start := time.Now()
	v, err := s.performOnce(ctx, op)
	switch o := op.(type) {
	case ops.StreamMetaWrite:
		s.forgetFeeds(o.Stream)
	case ops.StreamDelete:
		s.forgetFeeds(o.Stream)
	}
	s.metrics.observe(op, s.classify(err), time.Since(start))
	return v, err
}

func (s *Server) performOnce(ctx context.Context, op effect.Effect) (any, error) {
	// A wait (of the log or of the kv revision) is held at most the wait
	// limit; timeout sets its timeout.
	var timeout func(time.Duration) effect.Effect
	switch w := op.(type) {
	case ops.Wait:
		if w.Timeout == 0 || w.Timeout > s.limits.Wait {
			w.Timeout = s.limits.Wait
		}
		op = w
		timeout = func(d time.Duration) effect.Effect { w.Timeout = d; return w }
	case ops.KvWait:
		if w.Timeout == 0 || w.Timeout > s.limits.Wait {
			w.Timeout = s.limits.Wait
		}
		op = w
		timeout = func(d time.Duration) effect.Effect { w.Timeout = d; return w }
	default:
		return s.store.Handle(effect.Handle(ctx), op)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(drainContext{s.drain}, cancel)
	defer stop()
	v, err := s.store.Handle(effect.Handle(wctx), op)
	if err != nil && wctx.Err() != nil && ctx.Err() == nil {
		// Shutting down: answer with where the store is now.
		return s.store.Handle(effect.Handle(context.Background()), timeout(time.Nanosecond))
	}
	return v, err
}

// drainContext is a context that ends when the server starts shutting
// down; only its Done matters to context.AfterFunc.
type drainContext struct{ ch chan struct{} }

func (drainContext) Deadline() (time.Time, bool) { return time.Time{}, false }
func (d drainContext) Done() <-chan struct{}     { return d.ch }
func (d drainContext) Err() error {
	select {
	case <-d.ch:
		return context.Canceled
	default:
		return nil
	}
}
func (drainContext) Value(any) any { return nil }

// classify marks the store's errors that mean it cannot serve.
func (s *Server) classify(err error) error {
	for _, u := range s.unav {
		if errors.Is(err, u) {
			return &unavailableError{err}
		}
	}
	return err
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, n Notation, err error) {
	err = s.classify(err)
	status, d := errorAnswer(err)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="persist"`)
	}
	if status >= 500 {
		s.log.LogAttrs(r.Context(), slog.LevelWarn, "request failed", slog.String("id", requestID(r)), slog.String("error", err.Error()))
	}
	s.answerValue(w, r, n, status, d)
}

func requestID(r *http.Request) string {
	id, _ := r.Context().Value(ctxKey{}).(string)
	return id
}

func (s *Server) answer(w http.ResponseWriter, r *http.Request, n Notation, status int, v any) {
	an := answerNotation(r, n)
	bp := answerBufs.Get().(*[]byte)
	defer answerBufs.Put(bp)
	if b, ok := appendFastAnswer((*bp)[:0], v, an); ok {
		*bp = b
		w.Header().Set("Content-Type", an.Media())
		w.WriteHeader(status)
		_, _ = w.Write(b)
		return
	}
	val, err := sx.FromGo(v)
	if err != nil {
		s.fail(w, r, n, err)
		return
	}
	s.answerValue(w, r, n, status, val)
}

// answerBufs are the buffers the fast encoder writes answers into: the
// response writer copies what it is given, so a buffer serves again.
var answerBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func (s *Server) answerValue(w http.ResponseWriter, r *http.Request, n Notation, status int, v sx.Value) {
	an := answerNotation(r, n)
	b, err := EncodeValue(v, an)
	if err != nil {
		// Only a value without a JSON form gets here; say so in SX, which
		// has a form for every value.
		an = SX
		_, d := errorAnswer(fmt.Errorf("server: the answer has no %s form: %w", an.Media(), err))
		b, status = []byte(sx.Print(d)), http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", an.Media())
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	pr, err := s.authenticate(r)
	if err == nil && pr.tok != nil && !pr.allows(GrantAdmin, "") {
		s.metrics.authFailure("forbidden")
		err = &ForbiddenError{Grant: string(GrantAdmin)}
	}
	if err != nil {
		s.fail(w, r, SX, err)
		return
	}
	promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

// Registry is the server's Prometheus registry, for a caller that serves
// metrics elsewhere or adds its own.
func (s *Server) Registry() *prometheus.Registry { return s.metrics.reg }

func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	s.answerValue(w, r, SX, http.StatusOK, sx.NewDict(sx.Keyword("ok"), true))
}

func (s *Server) serveReady(w http.ResponseWriter, r *http.Request) {
	if s.closing.Load() {
		s.fail(w, r, SX, ErrShuttingDown)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if _, err := s.store.Handle(effect.Handle(ctx), ops.Head{Stream: "persist/readyz"}); err != nil {
		s.fail(w, r, SX, err)
		return
	}
	s.answerValue(w, r, SX, http.StatusOK, sx.NewDict(sx.Keyword("ok"), true))
}

// HTTPServer gives an http.Server for this server with every timeout set:
// headers must arrive within 10 s and be at most 64 KiB, a request's body
// is read and its answer written within the request time (a follow lifts
// its own write deadline as it goes), and idle connections close after
// 120 s. HTTP/1.1 and HTTP/2 are on, h2c included.
func (s *Server) HTTPServer() *http.Server {
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetHTTP2(true)
	protos.SetUnencryptedHTTP2(true)
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       s.limits.Request,
		WriteTimeout:      s.limits.Request + 5*time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		Protocols:         &protos,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	return hs
}

// Serve serves on ln until Shutdown; it returns nil after a Shutdown. It
// refuses a listener beyond loopback when the server has no tokens.
// With certFile and keyFile set it serves TLS (HTTP/2 by ALPN).
func (s *Server) Serve(ln net.Listener, certFile, keyFile string) error {
	if err := s.CheckListen(ln.Addr().String()); err != nil {
		return err
	}
	hs := s.HTTPServer()
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		return ErrShuttingDown
	}
	s.servers = append(s.servers, hs)
	s.mu.Unlock()
	var err error
	if certFile != "" || keyFile != "" {
		err = hs.ServeTLS(ln, certFile, keyFile)
	} else {
		err = hs.Serve(ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops the server gracefully: it stops taking connections and
// requests, lets the requests in flight finish (waits answer early), ends
// every follow with its end event, and then closes the store. If ctx ends
// first, the connections still open are closed; the store is closed all
// the same. It returns the store's Close error, or ctx's. A second call
// waits for the first to finish (or its own ctx to end) and answers as it
// did.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		select {
		case <-s.shut:
		case <-ctx.Done():
			return ctx.Err()
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.closeErr
	}
	s.closed = true
	s.closing.Store(true)
	close(s.drain)
	servers := s.servers
	s.mu.Unlock()

	var errs []error
	for _, hs := range servers {
		if err := shutdownHTTP(ctx, hs); err != nil {
			errs = append(errs, err)
			_ = hs.Close()
		}
	}
	done := make(chan struct{})
	go func() { s.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, ctx.Err())
	}
	if err := s.store.Close(); err != nil {
		errs = append(errs, err)
	}
	if s.blobs != nil {
		if err := s.blobs.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	err := errors.Join(errs...)
	s.mu.Lock()
	s.closeErr = err
	s.mu.Unlock()
	close(s.shut)
	return err
}

// retellEvery is how often shutdownHTTP asks http.Server.Shutdown again.
const retellEvery = 100 * time.Millisecond

// shutdownHTTP drains hs until ctx ends. http.Server.Shutdown tells the
// HTTP/2 connections to go away once, when it starts: a connection
// accepted just before whose HTTP/2 preface is read only after that is
// never told, stays active, and would hold the drain until ctx ends. So
// Shutdown is asked again every retellEvery; each call tells the HTTP/2
// connections known by then, and the told ones close once their streams
// are done.
func shutdownHTTP(ctx context.Context, hs *http.Server) error {
	for {
		rctx, cancel := context.WithTimeout(ctx, retellEvery)
		err := hs.Shutdown(rctx)
		cancel()
		if err == nil || !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			return err
		}
	}
}

// ErrNotLoopback refuses to listen beyond loopback without tokens.
var ErrNotLoopback = errors.New("server: refusing to listen beyond loopback without tokens (configure tokens, or listen on 127.0.0.1 or [::1])")

// CheckListen refuses an address beyond loopback when the server has no
// tokens: a host name other than localhost, an unspecified address
// (0.0.0.0, [::], or none at all) or any address not in 127.0.0.0/8 or ::1.
func (s *Server) CheckListen(addr string) error {
	if s.hasTokens() {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("server: listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: %q", ErrNotLoopback, addr)
	}
	return nil
}
