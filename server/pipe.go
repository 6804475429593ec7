package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
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

// pipeRead is the buffer a pipe reads its frames through: a burst of
// frames that arrived together is read with one read.
const pipeRead = 64 << 10

// pipeFrameError is a frame that is not [ID OPERATION] on one line: the
// pipe ends, since what follows it cannot be trusted to be framed.
type pipeFrameError struct{ reason string }

func (e *pipeFrameError) Error() string { return "server: pipe frame: " + e.reason }

// errClientGone ends a pipe whose client went away: nobody reads an end
// frame, and the operations in flight are ended.
var errClientGone = errors.New("server: the pipe's client went away")

// errPipeIdle ends a pipe that went without a frame for the idle limit.
var errPipeIdle = errors.New("server: pipe idle: no frame within the idle limit")

// pipe is one POST /v1/pipe: frames read by the handler, performed on
// workers, answered as they finish, with one write and one flush for the
// answers that finished together.
type pipe struct {
	s  *Server
	w  http.ResponseWriter
	rc *http.ResponseController
	pr principal
	n  Notation // of frames in and answers out

	slots chan struct{} // one per operation in flight
	wg    sync.WaitGroup

	mu      sync.Mutex
	buf     []byte // answers framed, waiting to be written
	spare   []byte
	writing bool  // a worker is writing buf out
	werr    error // the first write that failed; nothing more is written
	ids     map[int64]struct{}
}

func (s *Server) servePipe(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	// HTTP/1.1 answers while the body still comes; HTTP/2 always can.
	_ = rc.EnableFullDuplex()
	// A pipe refused at once is answered without reading its body, which
	// may never end: the connection closes after the answer (net/http
	// would otherwise read the body first, to reuse the connection).
	refuse := func(n Notation, err error) {
		w.Header().Set("Connection", "close")
		s.fail(w, r, n, err)
	}
	if !s.enter() {
		refuse(SX, ErrShuttingDown)
		return
	}
	defer s.leave()
	n, ok := NotationOf(r.Header.Get("Content-Type"))
	if !ok {
		refuse(SX, errNotation)
		return
	}
	pr, err := s.authenticate(r)
	if err != nil {
		refuse(n, err)
		return
	}
	an := answerNotation(r, n)
	w.Header().Set("Content-Type", an.Media())
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return
	}
	p := &pipe{s: s, w: w, rc: rc, pr: pr, n: an, slots: make(chan struct{}, s.limits.Pipe), ids: map[int64]struct{}{}}

	// The operations run under a context of the pipe's own: HTTP/1.1 ends
	// the request's context at the first failed read, and a read ended
	// by shutting down must not end the operations in flight with it.
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()
	// Shutting down ends the reading at once; what is in flight is still
	// answered.
	var (
		dmu  sync.Mutex
		done bool // the handler is returning: its writer is no longer to be touched
	)
	stop := context.AfterFunc(drainContext{s.drain}, func() {
		dmu.Lock()
		defer dmu.Unlock()
		if !done {
			_ = rc.SetReadDeadline(time.Now())
		}
	})
	defer func() {
		stop()
		dmu.Lock()
		done = true
		dmu.Unlock()
	}()

	endErr := p.readFrames(ctx, r, n)
	if endErr == errClientGone {
		cancel() // nobody waits for their answers
		endErr = nil
	}
	p.wg.Wait()
	if endErr != nil && p.werr == nil {
		_, d := errorAnswer(s.classify(endErr))
		frame, err := appendPipeFrame(nil, nil, d, an)
		if err == nil {
			_ = rc.SetWriteDeadline(time.Now().Add(s.limits.Request))
			if _, err := w.Write(frame); err == nil {
				_ = rc.Flush()
			}
		}
	}
}

// readFrames reads and dispatches frames until the body ends (nil), or
// until it cannot go on: the error is then the pipe's end frame.
func (p *pipe) readFrames(ctx context.Context, r *http.Request, n Notation) error {
	s := p.s
	br := bufio.NewReaderSize(r.Body, pipeRead)
	var long []byte // a frame longer than the reader's buffer, gathered
	for {
		if p.writeFailed() {
			return nil
		}
		_ = p.rc.SetReadDeadline(time.Now().Add(s.limits.PipeIdle))
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			long = append(long[:0], line...)
			for err == bufio.ErrBufferFull {
				if int64(len(long)) > s.limits.Body {
					return &LimitError{Limit: "body", Max: s.limits.Body}
				}
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if err != nil {
			if len(bytes.TrimSpace(line)) == 0 && isEnd(err) {
				return nil
			}
			if s.closing.Load() {
				return ErrShuttingDown
			}
			var ne interface{ Timeout() bool }
			if len(line) == 0 && errors.As(err, &ne) && ne.Timeout() {
				return errPipeIdle
			}
			if len(line) == 0 {
				return errClientGone
			}
			return &pipeFrameError{reason: "the body ended inside a frame"}
		}
		if int64(len(line)) > s.limits.Body {
			return &LimitError{Limit: "body", Max: s.limits.Body}
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue // blank lines keep a connection warm
		}
		id, opText, err := splitPipeFrame(line, n)
		if err != nil {
			return err
		}
		p.mu.Lock()
		_, dup := p.ids[id]
		p.mu.Unlock()
		if dup {
			return &pipeFrameError{reason: "id " + strconv.FormatInt(id, 10) + " is already in flight"}
		}
		select {
		case p.slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		p.mu.Lock()
		p.ids[id] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(1)
		// The operation is decoded on its worker, so that the frames of a
		// burst decode at once rather than one after another here.
		text := bytes.Clone(opText)
		s.workers.run(func() {
			op, err := decodePipeOp(text, n)
			if err == nil {
				err = p.admit(op)
			}
			var v any
			if err == nil {
				octx, cancel := context.WithTimeout(ctx, s.limits.Request)
				v, err = s.perform(octx, op)
				cancel()
			}
			p.finish(id, v, err)
		})
	}
}

// isEnd reports a body that ended where a frame may end.
func isEnd(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, http.ErrBodyReadAfterClose)
}

// admit checks one operation as /v1/op would: the token still valid, its
// grants, the server's limits.
func (p *pipe) admit(op effect.Effect) error {
	if tok := p.pr.tok; tok != nil && !tok.Expires.IsZero() && !time.Now().Before(tok.Expires) {
		p.s.metrics.authFailure("expired")
		return &ExpiredError{At: tok.Expires}
	}
	if err := p.s.authorize(p.pr, op); err != nil {
		return err
	}
	return p.s.check(op)
}

func (p *pipe) writeFailed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.werr != nil
}

// finish frames the answer of id and writes it, together with whatever
// other answers finished meanwhile: the first to finish writes, and
// writes again what gathered while it wrote, so answers that finished
// together (one group commit) share one write and one flush.
func (p *pipe) finish(id int64, v any, err error) {
	defer p.wg.Done()
	p.mu.Lock()
	fast := false
	if err == nil {
		// The common answers are written straight into the pipe's buffer.
		p.buf, fast = appendFastFrame(p.buf, id, v, p.n)
	}
	if !fast {
		p.mu.Unlock()
		frame := p.frame(id, v, err)
		p.mu.Lock()
		p.buf = append(p.buf, frame...)
	}
	delete(p.ids, id)
	<-p.slots
	if p.writing {
		p.mu.Unlock()
		return
	}
	p.writing = true
	if len(p.ids) > 0 {
		// Let the other answers of the same group commit, woken with
		// this one, join the write before it goes.
		p.mu.Unlock()
		runtime.Gosched()
		p.mu.Lock()
	}
	for len(p.buf) > 0 && p.werr == nil {
		out := p.buf
		p.buf = p.spare[:0]
		p.mu.Unlock()
		_ = p.rc.SetWriteDeadline(time.Now().Add(p.s.limits.Request))
		_, werr := p.w.Write(out)
		if werr == nil {
			werr = p.rc.Flush()
		}
		p.mu.Lock()
		p.spare = out
		if werr != nil {
			p.werr = werr
		}
	}
	p.writing = false
	p.mu.Unlock()
}

// frame is the frame of id's answer, v or err, through the generic path.
func (p *pipe) frame(id int64, v any, err error) []byte {
	var ans sx.Value
	if err == nil {
		val, cerr := sx.FromGo(v)
		if cerr != nil {
			err = cerr
		} else {
			ans = sx.NewDict(sx.Keyword("ok"), val)
		}
	}
	if err != nil {
		_, ans = errorAnswer(p.s.classify(err))
	}
	frame, ferr := appendPipeFrame(nil, id, ans, p.n)
	if ferr != nil {
		_, d := errorAnswer(ferr)
		frame, _ = appendPipeFrame(nil, id, d, SX)
	}
	return frame
}

// splitPipeFrame splits one frame, [ID OPERATION], into its ID and the
// text of its operation, without reading the operation: a frame that is
// not that shape is an error of the pipe.
func splitPipeFrame(line []byte, n Notation) (int64, []byte, error) {
	b := bytes.TrimSpace(line)
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return 0, nil, &pipeFrameError{reason: "want [ID OPERATION] on one line"}
	}
	b = bytes.TrimLeft(b[1:len(b)-1], " \t")
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i == 0 || i > 18 {
		return 0, nil, &pipeFrameError{reason: "a frame's ID is a non-negative integer of at most 18 digits"}
	}
	id, _ := strconv.ParseInt(string(b[:i]), 10, 64)
	rest := bytes.TrimLeft(b[i:], " \t")
	if n == JSON {
		if len(rest) == 0 || rest[0] != ',' {
			return 0, nil, &pipeFrameError{reason: "want a comma after the frame's ID"}
		}
		rest = rest[1:]
	} else if len(rest) == len(b[i:]) {
		return 0, nil, &pipeFrameError{reason: "want a space after the frame's ID"}
	}
	return id, rest, nil
}

// decodePipeOp reads the operation of a frame: an error here is that
// frame's alone, answered under its ID.
func decodePipeOp(text []byte, n Notation) (effect.Effect, error) {
	if op, ok := fastDecodeOp(text, n); ok {
		return op, nil
	}
	v, err := readValue(text, n)
	var inv *ops.InvalidError
	if errors.As(err, &inv) {
		return nil, &ops.InvalidError{Field: "operation", Reason: inv.Reason}
	}
	if err != nil {
		return nil, err
	}
	return opFromValue(v, "operation")
}

// appendPipeFrame appends the frame [ID ANSWER] and its newline; a nil id
// is the pipe's end frame.
func appendPipeFrame(dst []byte, id any, ans sx.Value, n Notation) ([]byte, error) {
	var idv sx.Value
	if id != nil {
		idv = id.(int64)
	}
	if n == JSON {
		b, err := sx.ToJSON(sx.Vector{idv, ans})
		if err != nil {
			return dst, err
		}
		dst = append(dst, b...)
	} else {
		dst = sx.AppendPrint(dst, sx.Vector{idv, ans})
	}
	return append(dst, '\n'), nil
}
