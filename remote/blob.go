package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/ipfs/go-cid"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/sx"
)

// The client is a blob store too: the blob operations travel as streams
// (POST /v1/blob, GET and HEAD /v1/blob/{cid}), never as one message.
var _ ops.BlobStore = (*Client)(nil)

// Headers of the blob endpoints (see package server).
const (
	headerBlobSize = "Persist-Blob-Size"
)

// handleBlob performs a blob operation on the server; ok is false for any
// other effect.
func (c *Client) handleBlob(p *effect.P, e effect.Effect) (v any, ok bool, err error) {
	ctx := context.Background()
	if p != nil {
		ctx = p.Context()
	}
	switch op := e.(type) {
	case ops.BlobPut:
		v, err = c.blobPut(ctx, op)
	case ops.BlobGet:
		v, err = c.blobGet(ctx, op)
	case ops.BlobStat:
		v, err = c.blobStat(ctx, op.CID, false)
	case ops.BlobHas:
		_, err = c.blobStat(ctx, op.CID, false)
		switch {
		case err == nil:
			v = true
		case errors.Is(err, ops.ErrBlobNotFound):
			v, err = false, nil
		}
	default:
		return nil, false, nil
	}
	if err != nil {
		return nil, true, err
	}
	return v, true, nil
}

// blobRequest sends a blob request; the caller closes the answer's body.
func (c *Client) blobRequest(ctx context.Context, method, path string, body io.Reader, contentType string) (*http.Response, context.CancelFunc, error) {
	if c.ctx.Err() != nil {
		return nil, nil, ops.ErrClosed
	}
	rctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(c.ctx, cancel)
	done := func() { stop(); cancel() }
	req, err := http.NewRequestWithContext(rctx, method, c.base+path, body)
	if err != nil {
		done()
		return nil, nil, fmt.Errorf("remote: %w", err)
	}
	media, _ := c.notation()
	req.Header.Set("Accept", media)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		done()
		return nil, nil, c.transportError(ctx, err)
	}
	return resp, done, nil
}

// blobFailure reads an error answer of a blob endpoint into the error it
// stands for.
func (c *Client) blobFailure(ctx context.Context, resp *http.Response) error {
	if resp.Request != nil && resp.Request.Method == http.MethodHead {
		// A HEAD answer has no body: the status says it all.
		switch resp.StatusCode {
		case http.StatusNotFound:
			return ops.ErrBlobNotFound
		case http.StatusBadGateway:
			return fmt.Errorf("%w (the server checked the stored bytes)", ops.ErrBlobMismatch)
		case http.StatusUnauthorized:
			return &Error{Status: resp.StatusCode, Kind: "unauthorized", Message: "remote: unauthorized (401)"}
		case http.StatusForbidden:
			return &Error{Status: resp.StatusCode, Kind: "forbidden", Grant: "blob-read", Message: "remote: forbidden: the token lacks grant blob-read"}
		case http.StatusNotImplemented:
			return &Error{Status: resp.StatusCode, Kind: "no-blob-store", Message: "remote: the server has no blob store"}
		}
		return &Error{Status: resp.StatusCode, Kind: "error", Message: fmt.Sprintf("remote: server answered %s", resp.Status)}
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return c.transportError(ctx, err)
	}
	v, err := decodeValue(b, resp.Header.Get("Content-Type"))
	if err != nil {
		return fmt.Errorf("remote: answer %d: %w", resp.StatusCode, err)
	}
	return blobError(decodeError(resp.StatusCode, v))
}

// blobError gives the blob sentinels of package ops back their identity.
func blobError(err error) error {
	var e *Error
	if !errors.As(err, &e) {
		var inv *ops.InvalidError
		if errors.As(err, &inv) && inv.Field == "cid" {
			return fmt.Errorf("%w: %s", ops.ErrBadCID, inv.Reason)
		}
		return err
	}
	switch {
	case e.Kind == "blob-not-found":
		return fmt.Errorf("%w: %s", ops.ErrBlobNotFound, e.Message)
	case e.Kind == "blob-mismatch":
		return fmt.Errorf("%w: %s", ops.ErrBlobMismatch, e.Message)
	case e.Kind == "too-large" && e.Limit == "blob" && e.Max > 0:
		return fmt.Errorf("%w: the server takes at most %d bytes", ops.ErrBlobTooLarge, e.Max)
	case e.Kind == "too-large" && e.Limit == "blob":
		return fmt.Errorf("%w (%s)", ops.ErrBlobTooLarge, e.Message)
	}
	return err
}

func (c *Client) blobPut(ctx context.Context, op ops.BlobPut) (ops.BlobRef, error) {
	if op.Body == nil {
		return ops.BlobRef{}, &ops.InvalidError{Op: ops.NameBlobPut, Field: "body", Reason: "nil"}
	}
	ct := op.MediaType
	if ct == "" {
		ct = "application/octet-stream"
	}
	body := &trackedReader{r: op.Body}
	resp, done, err := c.blobRequest(ctx, http.MethodPost, "/v1/blob", body, ct)
	if err != nil {
		if body.err != nil {
			return ops.BlobRef{}, body.err // the caller's body broke, not the connection
		}
		return ops.BlobRef{}, err
	}
	defer done()
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ops.BlobRef{}, c.blobFailure(ctx, resp)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return ops.BlobRef{}, c.transportError(ctx, err)
	}
	v, err := decodeValue(b, resp.Header.Get("Content-Type"))
	if err != nil {
		return ops.BlobRef{}, fmt.Errorf("remote: answer of %s: %w", ops.NameBlobPut, err)
	}
	ref, err := refOf(v)
	if err != nil {
		return ops.BlobRef{}, fmt.Errorf("remote: answer of %s: %w", ops.NameBlobPut, err)
	}
	if ref.Size != body.n {
		return ops.BlobRef{}, fmt.Errorf("remote: answer of %s: the server stored %d bytes, %d were sent", ops.NameBlobPut, ref.Size, body.n)
	}
	ref.MediaType = op.MediaType
	return ref, nil
}

// refOf reads the SX form of a blob reference, {:cid … :size … :type …}.
func refOf(v sx.Value) (ops.BlobRef, error) {
	d, ok := v.(*sx.Dict)
	if !ok {
		return ops.BlobRef{}, fmt.Errorf("not a blob reference: %.200s", sx.Print(v))
	}
	get := func(k string) sx.Value { x, _ := d.Get(sx.Keyword(k)); return x }
	s, _ := get("cid").(string)
	c, err := ops.ParseCID(s)
	if err != nil {
		return ops.BlobRef{}, err
	}
	n, ok := get("size").(int64)
	if !ok || n < 0 {
		return ops.BlobRef{}, fmt.Errorf("blob reference size %v", get("size"))
	}
	t, _ := get("type").(string)
	return ops.BlobRef{CID: c, Size: n, MediaType: t}, nil
}

// trackedReader counts what it read and keeps the caller's error.
type trackedReader struct {
	r   io.Reader
	n   int64
	err error
}

func (t *trackedReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.n += int64(n)
	if err != nil && err != io.EOF {
		t.err = err
	}
	return n, err
}

func (c *Client) blobStat(ctx context.Context, id cid.Cid, verify bool) (ops.BlobRef, error) {
	if err := ops.CheckCID(id); err != nil {
		return ops.BlobRef{}, err
	}
	path := "/v1/blob/" + id.String()
	if verify {
		path += "?verify=1"
	}
	resp, done, err := c.blobRequest(ctx, http.MethodHead, path, nil, "")
	if err != nil {
		return ops.BlobRef{}, err
	}
	defer done()
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ops.BlobRef{}, c.blobFailure(ctx, resp)
	}
	n, err := strconv.ParseInt(resp.Header.Get(headerBlobSize), 10, 64)
	if err != nil || n < 0 {
		return ops.BlobRef{}, fmt.Errorf("remote: answer of %s: %s header %q", ops.NameBlobStat, headerBlobSize, resp.Header.Get(headerBlobSize))
	}
	return ops.BlobRef{CID: id, Size: n}, nil
}

// blobGet streams the blob's bytes to op.To. The server writes only bytes
// it has checked against the CID, and cuts its answer short when the rest
// does not match; the client takes a body as good only when it is as long
// as the size the server announced and its bytes give the CID (checked
// again here, as they pass). A body cut short is asked about: a HEAD with
// verify makes the server check the stored bytes, and a mismatch there is
// ErrBlobMismatch; otherwise the connection broke (*UnreachableError).
func (c *Client) blobGet(ctx context.Context, op ops.BlobGet) (ops.BlobRef, error) {
	if err := ops.CheckCID(op.CID); err != nil {
		return ops.BlobRef{}, err
	}
	if op.To == nil {
		return ops.BlobRef{}, &ops.InvalidError{Op: ops.NameBlobGet, Field: "to", Reason: "nil"}
	}
	resp, done, err := c.blobRequest(ctx, http.MethodGet, "/v1/blob/"+op.CID.String(), nil, "")
	if err != nil {
		return ops.BlobRef{}, err
	}
	defer done()
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ops.BlobRef{}, c.blobFailure(ctx, resp)
	}
	size, err := strconv.ParseInt(resp.Header.Get(headerBlobSize), 10, 64)
	if err != nil || size < 0 {
		return ops.BlobRef{}, fmt.Errorf("remote: answer of %s: %s header %q", ops.NameBlobGet, headerBlobSize, resp.Header.Get(headerBlobSize))
	}
	var dag ops.BlobDAG
	n, err := io.Copy(io.MultiWriter(&dag, callerWriter{op.To}), io.LimitReader(resp.Body, size+1))
	var werr *writeError
	switch {
	case errors.As(err, &werr):
		return ops.BlobRef{}, werr.err
	case err != nil || n < size:
		if ctx.Err() != nil || c.ctx.Err() != nil {
			return ops.BlobRef{}, c.transportError(ctx, err)
		}
		cut := fmt.Errorf("remote: blob %s cut short after %d of %d bytes", op.CID, n, size)
		if _, verr := c.blobStat(ctx, op.CID, true); errors.Is(verr, ops.ErrBlobMismatch) {
			return ops.BlobRef{}, fmt.Errorf("%w: %v", ops.ErrBlobMismatch, cut)
		}
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return ops.BlobRef{}, &UnreachableError{Err: fmt.Errorf("%v: %w", cut, err)}
	case n > size:
		return ops.BlobRef{}, fmt.Errorf("%w: the server sent more than the %d bytes it announced for %s", ops.ErrBlobMismatch, size, op.CID)
	}
	got, _, err := dag.Sum()
	if err != nil {
		return ops.BlobRef{}, err
	}
	if !got.Equals(op.CID) {
		return ops.BlobRef{}, fmt.Errorf("%w: the server sent bytes of %s for %s", ops.ErrBlobMismatch, got, op.CID)
	}
	return ops.BlobRef{CID: op.CID, Size: size}, nil
}

// writeError marks an error of the caller's writer, so that it is not
// taken for a broken connection.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }

// callerWriter wraps the errors of the caller's writer in writeError.
type callerWriter struct{ w io.Writer }

func (c callerWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if err != nil {
		err = &writeError{err}
	}
	return n, err
}
