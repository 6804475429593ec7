package server

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/sx"
)

// Headers of the blob endpoints.
const (
	// HeaderBlobCID and HeaderBlobSize name a blob in the answer of GET
	// and HEAD /v1/blob/{cid}.
	HeaderBlobCID  = "Persist-Blob-Cid"
	HeaderBlobSize = "Persist-Blob-Size"
)

// errNoBlobs answers a blob request to a server without a blob store.
var errNoBlobs = errors.New("server: this server has no blob store (persist serve --blobs DIR or --ipfs URL)")

// blobRefValue is the SX form of a blob reference, {:cid … :size … :type …},
// as ops.BlobRef.String writes it (the type left out when empty).
func blobRefValue(r ops.BlobRef) sx.Value {
	d := sx.NewDict(sx.Keyword("cid"), r.CID.String(), sx.Keyword("size"), r.Size)
	if r.MediaType != "" {
		d.Set(sx.Keyword("type"), r.MediaType)
	}
	return d
}

// blobError classifies the errors of a blob store for errorAnswer.
func (s *Server) blobError(err error) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return &LimitError{Limit: "blob", Max: s.limits.Blob}
	}
	return err
}

// blobRequest authenticates r for a blob endpoint and checks the grant of
// kind, answering the error itself when it fails (ok false).
func (s *Server) blobRequest(w http.ResponseWriter, r *http.Request, kind GrantKind) bool {
	pr, err := s.authenticate(r)
	if err == nil && !pr.allows(kind, "") {
		s.metrics.authFailure("forbidden")
		err = &ForbiddenError{Grant: string(kind)}
	}
	if err == nil && s.blobs == nil {
		err = errNoBlobs
	}
	if err != nil {
		s.fail(w, r, SX, err)
		return false
	}
	return true
}

// servePutBlob streams the request body into the blob store and answers
// its reference.
func (s *Server) servePutBlob(w http.ResponseWriter, r *http.Request) {
	if !s.enter() {
		s.fail(w, r, SX, ErrShuttingDown)
		return
	}
	defer s.leave()
	if !s.blobRequest(w, r, GrantBlobWrite) {
		return
	}
	if r.ContentLength > s.limits.Blob {
		s.fail(w, r, SX, &LimitError{Limit: "blob", Max: s.limits.Blob})
		return
	}
	mediaType := r.Header.Get("Content-Type")
	if mediaType == "application/octet-stream" {
		mediaType = ""
	}
	body := &movingReader{r: http.MaxBytesReader(w, r.Body, s.limits.Blob), rc: http.NewResponseController(w), step: s.limits.Request}
	start := time.Now()
	ref, err := effect.Perform(effect.Handle(r.Context(), s.blobs), ops.BlobPut{Body: body, MediaType: mediaType})
	s.metrics.observe(ops.BlobPut{}, err, time.Since(start))
	if err != nil {
		s.fail(w, r, SX, s.blobError(err))
		return
	}
	s.answerValue(w, r, SX, http.StatusOK, blobRefValue(ref))
}

// serveGetBlob streams a blob's verified bytes out (GET), or answers its
// size alone (HEAD).
func (s *Server) serveGetBlob(w http.ResponseWriter, r *http.Request) {
	if !s.enter() {
		s.fail(w, r, SX, ErrShuttingDown)
		return
	}
	defer s.leave()
	if !s.blobRequest(w, r, GrantBlobRead) {
		return
	}
	c, err := ops.ParseCID(r.PathValue("cid"))
	if err != nil {
		s.fail(w, r, SX, &ops.InvalidError{Field: "cid", Reason: err.Error()})
		return
	}
	h := effect.Handle(r.Context(), s.blobs)
	start := time.Now()
	ref, err := effect.Perform(h, ops.BlobStat{CID: c})
	if r.Method == http.MethodHead || err != nil {
		s.metrics.observe(ops.BlobStat{}, err, time.Since(start))
	}
	if err != nil {
		s.fail(w, r, SX, err)
		return
	}
	w.Header().Set(HeaderBlobCID, c.String())
	w.Header().Set(HeaderBlobSize, strconv.FormatInt(ref.Size, 10))
	w.Header().Set("Content-Length", strconv.FormatInt(ref.Size, 10))
	w.Header().Set("Content-Type", "application/octet-stream")
	if r.Method == http.MethodHead {
		if r.URL.Query().Has("verify") {
			// Read the whole blob through the store's checks, so that a
			// client whose get was cut short can tell a mismatch from a
			// broken connection.
			if _, err := effect.Perform(h, ops.BlobGet{CID: c, To: io.Discard}); err != nil {
				s.fail(w, r, SX, err)
				return
			}
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	out := &movingWriter{w: w, rc: http.NewResponseController(w), step: s.limits.Request}
	_, err = effect.Perform(h, ops.BlobGet{CID: c, To: out})
	s.metrics.observe(ops.BlobGet{}, err, time.Since(start))
	if err == nil {
		return
	}
	if out.n == 0 {
		// Nothing went out yet: the answer can still be an error.
		for _, k := range []string{HeaderBlobCID, HeaderBlobSize, "Content-Length", "Content-Type"} {
			w.Header().Del(k)
		}
		s.fail(w, r, SX, err)
		return
	}
	// Some verified bytes went out and the rest cannot be served: cut the
	// answer short, so that the client sees a broken body (fewer bytes
	// than Content-Length, a reset HTTP/2 stream), never a complete one.
	s.log.LogAttrs(r.Context(), slog.LevelWarn, "blob answer cut short", slog.String("id", requestID(r)), slog.String("cid", c.String()), slog.String("error", err.Error()))
	panic(http.ErrAbortHandler)
}

// movingReader reads a blob's body, pushing the connection's read
// deadline out by step each time bytes arrive (and the write deadline of
// the answer after it): a blob may take as long as it keeps moving, but a
// stalled upload ends.
type movingReader struct {
	r    io.Reader
	rc   *http.ResponseController
	step time.Duration
}

func (m *movingReader) Read(p []byte) (int, error) {
	d := time.Now().Add(m.step)
	_ = m.rc.SetReadDeadline(d)
	_ = m.rc.SetWriteDeadline(d.Add(5 * time.Second)) // the answer follows the body
	return m.r.Read(p)
}

// movingWriter writes a blob's bytes, pushing the write deadline out by
// step before each write, and counts what it wrote.
type movingWriter struct {
	w    io.Writer
	rc   *http.ResponseController
	step time.Duration
	n    int64
}

func (m *movingWriter) Write(p []byte) (int, error) {
	_ = m.rc.SetWriteDeadline(time.Now().Add(m.step))
	n, err := m.w.Write(p)
	m.n += int64(n)
	return n, err
}
